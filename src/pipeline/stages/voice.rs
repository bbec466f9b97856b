//! Stage `voice`: the script read aloud, with exact per-sentence timings. The audio and its
//! timings are cached by content, so a retry with the same script and voice is instant.

use super::artifacts::{self, ScriptDoc};
use crate::fsutil::write_atomic;
use crate::pipeline::{JobCtx, StageError, StageOutput, StageWork};
use crate::providers::tts::{Narration, TtsProvider};
use crate::store::{Cache, CacheKey};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

pub struct VoiceStage {
    pub tts: Arc<dyn TtsProvider>,
    pub cache: Cache,
}

#[async_trait]
impl StageWork for VoiceStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let script: ScriptDoc = artifacts::load(ctx, artifacts::SCRIPT)?;
        let wav_path = ctx.path(artifacts::NARRATION);
        let audio_key = CacheKey::new(
            "voice",
            self.tts.name(),
            &self.tts.fingerprint(),
            &script.sentences,
        );
        let timing_key = CacheKey::new(
            "voice-timings",
            self.tts.name(),
            &self.tts.fingerprint(),
            &script.sentences,
        );
        let cached = self.cache.get(&audio_key).zip(self.cache.get(&timing_key));
        let narration = match cached {
            Some((audio, timings))
                if serde_json::from_slice::<Narration>(&timings.bytes).is_ok() =>
            {
                write_atomic(&wav_path, &audio.bytes).map_err(|e| {
                    StageError::permanent(format!("cannot write {}: {e}", wav_path.display()))
                })?;
                ctx.cache_hit("voice", audio.cost_ms);
                serde_json::from_slice(&timings.bytes).expect("checked just above")
            }
            _ => {
                let started = Instant::now();
                let on_progress = |fraction: f32| {
                    ctx.progress(
                        Some(fraction),
                        format!("{:.0}% of sentences spoken", fraction * 100.0),
                    );
                };
                let narration = self
                    .tts
                    .synthesize(&script.sentences, &wav_path, &ctx.cancel, &on_progress)
                    .await?;
                let cost_ms = started.elapsed().as_millis() as u64;
                if let (Ok(audio), Ok(timings)) =
                    (std::fs::read(&wav_path), serde_json::to_vec(&narration))
                {
                    let stored = self
                        .cache
                        .put(&audio_key, &audio, cost_ms)
                        .and_then(|_| self.cache.put(&timing_key, &timings, cost_ms));
                    if let Err(e) = stored {
                        tracing::warn!("cannot cache the narration: {e}");
                    }
                }
                narration
            }
        };
        artifacts::save(ctx, artifacts::VOICE, &narration)?;
        Ok(StageOutput {
            files: vec![artifacts::NARRATION.into(), artifacts::VOICE.into()],
            summary: format!(
                "{:.1} s of narration, {} sentences ({})",
                narration.duration,
                narration.sentences.len(),
                self.tts.name()
            ),
        })
    }
}
