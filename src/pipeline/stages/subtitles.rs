//! Stage `subtitles`: timings → SRT and VTT sidecars and the ASS file burned in. When the
//! voice gave only sentence timings, Whisper times every word (aligned back to the script's
//! own words) so the burned subtitles can highlight word by word. The font is resolved and
//! loaded first: lines are wrapped by its rendered widths, and characters it has no glyphs
//! for are reported with an installed font that has them.

use super::artifacts::{self, ScriptDoc, WordsDoc};
use super::task_config;
use super::transcribe::{language, transcript_of};
use crate::config::{Config, frame_size};
use crate::fsutil::write_atomic;
use crate::media::subtitle::{AssStyle, SubtitleStyle, TimedWord, to_srt, to_vtt};
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use crate::providers::stt::{SttProvider, align_to_script};
use crate::providers::tts::Narration;
use crate::store::Cache;
use async_trait::async_trait;
use std::sync::Arc;

pub struct SubtitlesStage {
    pub stt: Option<Arc<dyn SttProvider>>,
    pub cache: Cache,
    pub config: Arc<Config>,
    pub notes: Vec<String>,
}

#[async_trait]
impl StageWork for SubtitlesStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        // The task's subtitle style preset, if any, is applied here.
        let config = Arc::new(task_config(&self.config, ctx)?);
        let narration: Narration = artifacts::load(ctx, artifacts::VOICE)?;
        let words = self.word_timings(ctx, &config, &narration).await?;
        let style_cfg = &config.subtitles;
        let (width, height) = frame_size(&ctx.spec.aspect).ok_or_else(|| {
            StageError::permanent(format!(
                "aspect '{}' is not one of 9:16, 16:9, 1:1",
                ctx.spec.aspect
            ))
        })?;
        let text: Vec<&str> = narration
            .sentences
            .iter()
            .map(|s| s.text.as_str())
            .collect();
        let (style, coverage) =
            load_style(Arc::clone(&config), width, height, text.join(" ")).await?;
        for note in style.notes() {
            ctx.log(LogLevel::Warn, note.clone());
        }
        if let Some(warning) = coverage {
            ctx.log(LogLevel::Warn, warning);
        }
        let timed: Option<Vec<Vec<TimedWord>>> = words.as_ref().map(|doc| {
            doc.sentences
                .iter()
                .map(|sentence| {
                    sentence
                        .iter()
                        .map(|w| TimedWord {
                            text: w.text.clone(),
                            start: w.start,
                            end: w.end,
                        })
                        .collect()
                })
                .collect()
        });
        let cues = style.cues(&narration.sentences, timed.as_deref());
        let burned = match (&timed, style_cfg.word_highlight) {
            (Some(timed), true) => {
                let flat: Vec<TimedWord> = timed.iter().flatten().cloned().collect();
                style.to_ass_highlighted(&cues, &flat, &style_cfg.highlight_color)
            }
            _ => style.to_ass(&cues),
        };
        let files = [
            (artifacts::SUBTITLES_SRT, to_srt(&cues)),
            (artifacts::SUBTITLES_VTT, to_vtt(&cues)),
            (artifacts::SUBTITLES_ASS, burned),
        ];
        for (name, text) in &files {
            write_atomic(&ctx.path(name), text.as_bytes()).map_err(|e| {
                StageError::permanent(format!("cannot write {}: {e}", ctx.path(name).display()))
            })?;
        }
        let mut written: Vec<String> = files.iter().map(|(name, _)| name.to_string()).collect();
        let timed_words = words
            .as_ref()
            .map_or(0, |w| w.sentences.iter().map(Vec::len).sum());
        if words.is_some() {
            written.push(artifacts::WORDS.into());
        }
        Ok(StageOutput {
            files: written,
            summary: format!("{} cues, {timed_words} timed words", cues.len()),
            ..StageOutput::default()
        })
    }
}

/// The style with its font loaded (blocking work: fontconfig and reading the font), and the
/// glyph coverage warning for `text`. A broken `font_file` fails the stage only when
/// subtitles are enabled; otherwise widths are estimated.
async fn load_style(
    config: Arc<Config>,
    width: u32,
    height: u32,
    text: String,
) -> Result<(SubtitleStyle, Option<String>), StageError> {
    let resolved = tokio::task::spawn_blocking(move || {
        let subs = &config.subtitles;
        match SubtitleStyle::resolve(subs, width, height) {
            Ok(style) => {
                let coverage = if subs.enabled {
                    style.coverage_warning(&text)
                } else {
                    None
                };
                Ok((style, coverage))
            }
            Err(_) if !subs.enabled => {
                let ass = AssStyle::from_config(subs, height);
                let max = subs.max_line_chars as usize;
                Ok((SubtitleStyle::estimated(ass, width, height, max), None))
            }
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(|e| StageError::permanent(format!("subtitle font lookup failed: {e}")))?;
    resolved.map_err(|e| StageError::permanent(e.to_string()))
}

impl SubtitlesStage {
    /// Word timings from the voice stage (a recording), else from Whisper when enabled.
    async fn word_timings(
        &self,
        ctx: &JobCtx,
        config: &Config,
        narration: &Narration,
    ) -> Result<Option<WordsDoc>, StageError> {
        if ctx.spec.narration.is_some() {
            return Ok(artifacts::load(ctx, artifacts::WORDS).ok());
        }
        if !config.stt.word_timings || !config.subtitles.enabled {
            return Ok(None);
        }
        let Some(stt) = &self.stt else {
            for note in &self.notes {
                ctx.log(LogLevel::Warn, note.clone());
            }
            return Ok(None);
        };
        let script: ScriptDoc = artifacts::load(ctx, artifacts::SCRIPT)?;
        let transcript = transcript_of(
            ctx,
            stt.as_ref(),
            &self.cache,
            &ctx.path(artifacts::NARRATION),
            language(config),
        )
        .await?;
        let mut sentences = align_to_script(&transcript.words, &script.sentences);
        // Words never leave their sentence's span as the voice measured it.
        for (words, spoken) in sentences.iter_mut().zip(&narration.sentences) {
            for word in words.iter_mut() {
                word.start = word.start.clamp(spoken.start, spoken.end);
                word.end = word.end.clamp(word.start, spoken.end);
            }
        }
        let doc = WordsDoc { sentences };
        artifacts::save(ctx, artifacts::WORDS, &doc)?;
        Ok(Some(doc))
    }
}
