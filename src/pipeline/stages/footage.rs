//! Stage `footage`: clips for every sentence, from the configured sources in order. With no
//! stock source configured it falls back to generated backgrounds and says how to add one.

use super::artifacts::{self, FootageDoc, ScriptDoc, TermsDoc};
use crate::config::{Config, frame_size};
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use crate::providers::footage::generated::GeneratedSource;
use crate::providers::footage::local::LocalSource;
use crate::providers::footage::{FootageRequest, FootageSource, Found};
use crate::providers::tts::Narration;
use async_trait::async_trait;
use std::sync::Arc;

/// Speaking speed used to estimate sentence lengths while the voice is still being made.
const CHARS_PER_SECOND: f64 = 15.0;

pub struct FootageStage {
    pub config: Arc<Config>,
}

#[async_trait]
impl StageWork for FootageStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let script: ScriptDoc = artifacts::load(ctx, artifacts::SCRIPT)?;
        let terms: TermsDoc = artifacts::load(ctx, artifacts::TERMS)?;
        let (width, height) = frame_size(&ctx.spec.aspect).ok_or_else(|| {
            StageError::permanent(format!(
                "aspect '{}' is not one of 9:16, 16:9, 1:1",
                ctx.spec.aspect
            ))
        })?;
        let request = FootageRequest {
            sentence_terms: terms.terms.clone(),
            sentence_secs: sentence_lengths(ctx, &script),
            width,
            height,
            fps: self.config.video.fps,
        };
        let dirs = if ctx.spec.footage_dirs.is_empty() {
            self.config.footage.local_dirs.clone()
        } else {
            ctx.spec.footage_dirs.clone()
        };
        let mut found = Found::default();
        let mut tried_stock = false;
        for name in &self.config.footage.sources {
            let source: Box<dyn FootageSource> = match name.as_str() {
                "local" if dirs.is_empty() => continue,
                "local" => {
                    tried_stock = true;
                    Box::new(LocalSource::new(dirs.clone()))
                }
                "generated" => {
                    if !tried_stock {
                        ctx.log(
                            LogLevel::Warn,
                            "no stock footage source is configured: using generated backgrounds. \
                             Add a folder of clips with --footage-dir DIR or [footage] local_dirs",
                        );
                    }
                    Box::new(GeneratedSource)
                }
                other => {
                    return Err(StageError::permanent(format!(
                        "unknown footage source '{other}' in [footage] sources"
                    )));
                }
            };
            ctx.progress(None, format!("searching {}", source.name()));
            found = source.find(&request, &ctx.cancel).await?;
            for note in &found.notes {
                ctx.log(LogLevel::Warn, note.clone());
            }
            if !found.clips.is_empty() {
                break;
            }
        }
        if found.clips.is_empty() {
            return Err(StageError::permanent(
                "no footage source found any clip; add \"generated\" to [footage] sources or give --footage-dir DIR",
            ));
        }
        let doc = FootageDoc { clips: found.clips };
        artifacts::save(ctx, artifacts::FOOTAGE, &doc)?;
        let provider = doc.clips[0].provider.clone();
        Ok(StageOutput {
            files: vec![artifacts::FOOTAGE.into()],
            summary: format!("{} clips ({provider})", doc.clips.len()),
        })
    }
}

/// Exact lengths when the voice is done, else an estimate from the text.
fn sentence_lengths(ctx: &JobCtx, script: &ScriptDoc) -> Vec<f64> {
    if let Ok(bytes) = std::fs::read(ctx.path(artifacts::VOICE))
        && let Ok(narration) = serde_json::from_slice::<Narration>(&bytes)
    {
        return narration
            .sentences
            .iter()
            .map(|s| s.end - s.start)
            .collect();
    }
    script
        .sentences
        .iter()
        .map(|s| s.chars().count() as f64 / CHARS_PER_SECOND)
        .collect()
}
