//! Stage `subtitles`: sentence timings → SRT and VTT sidecars and the ASS file burned in.

use super::artifacts;
use crate::config::{Config, frame_size};
use crate::fsutil::write_atomic;
use crate::media::subtitle::{AssStyle, cues_from_sentences, to_ass, to_srt, to_vtt};
use crate::pipeline::{JobCtx, StageError, StageOutput, StageWork};
use crate::providers::tts::Narration;
use async_trait::async_trait;
use std::sync::Arc;

pub struct SubtitlesStage {
    pub config: Arc<Config>,
}

#[async_trait]
impl StageWork for SubtitlesStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let narration: Narration = artifacts::load(ctx, artifacts::VOICE)?;
        let style_cfg = &self.config.subtitles;
        let cues = cues_from_sentences(&narration.sentences, style_cfg.max_line_chars as usize);
        let (width, height) = frame_size(&ctx.spec.aspect).ok_or_else(|| {
            StageError::permanent(format!(
                "aspect '{}' is not one of 9:16, 16:9, 1:1",
                ctx.spec.aspect
            ))
        })?;
        let style = AssStyle::from_config(style_cfg, height);
        let files = [
            (artifacts::SUBTITLES_SRT, to_srt(&cues)),
            (artifacts::SUBTITLES_VTT, to_vtt(&cues)),
            (
                artifacts::SUBTITLES_ASS,
                to_ass(&cues, &style, width, height),
            ),
        ];
        for (name, text) in &files {
            write_atomic(&ctx.path(name), text.as_bytes()).map_err(|e| {
                StageError::permanent(format!("cannot write {}: {e}", ctx.path(name).display()))
            })?;
        }
        Ok(StageOutput {
            files: files.iter().map(|(name, _)| name.to_string()).collect(),
            summary: format!("{} cues", cues.len()),
        })
    }
}
