//! Stage `voice`: the script read aloud with exact per-sentence timings — synthesized (the
//! task's voice, else `[voice] provider`: Piper, or espeak-ng as the fallback), or the user's
//! own recording timed by Whisper. Synthesized audio and its timings are cached by content,
//! so a retry with the same script is instant.

use super::artifacts::{self, ScriptDoc, WordsDoc};
use super::task_config;
use super::transcribe::{language, transcript_of};
use super::wiring::Voices;
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::media::probe::probe;
use crate::media::tool::{find_tool, run_tool};
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use crate::providers::stt::{SttProvider, align_to_script};
use crate::providers::tts::{Narration, SpokenSentence};
use crate::store::{Cache, CacheKey};
use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub struct VoiceStage {
    pub voices: Voices,
    pub stt: Option<Arc<dyn SttProvider>>,
    pub cache: Cache,
    pub config: Arc<Config>,
}

#[async_trait]
impl StageWork for VoiceStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let script: ScriptDoc = artifacts::load(ctx, artifacts::SCRIPT)?;
        let (narration, engine) = match &ctx.spec.narration {
            Some(recording) => (
                self.time_recording(ctx, &script, recording).await?,
                "recording".to_string(),
            ),
            None => self.synthesize(ctx, &script).await?,
        };
        artifacts::save(ctx, artifacts::VOICE, &narration)?;
        Ok(StageOutput {
            files: vec![artifacts::NARRATION.into(), artifacts::VOICE.into()],
            summary: format!(
                "{:.1} s of narration, {} sentences ({engine})",
                narration.duration,
                narration.sentences.len(),
            ),
            ..StageOutput::default()
        })
    }
}

impl VoiceStage {
    /// The narration read by the task's voice engine, and the engine's name.
    async fn synthesize(
        &self,
        ctx: &JobCtx,
        script: &ScriptDoc,
    ) -> Result<(Narration, String), StageError> {
        let config = task_config(&self.config, ctx)?;
        let chosen = ctx.spec.options.voice.is_some();
        let (tts, note) = self
            .voices
            .pick(&config.voice.provider, chosen)
            .map_err(StageError::permanent)?;
        if let Some(note) = note {
            ctx.log(LogLevel::Warn, note);
        }
        let engine = tts.name().to_string();
        let wav_path = ctx.path(artifacts::NARRATION);
        let fingerprint = tts.fingerprint();
        let audio_key = CacheKey::new("voice", &engine, &fingerprint, &script.sentences);
        let timing_key = CacheKey::new("voice-timings", &engine, &fingerprint, &script.sentences);
        if let Some((audio, timings)) = self.cache.get(&audio_key).zip(self.cache.get(&timing_key))
            && let Ok(narration) = serde_json::from_slice::<Narration>(&timings.bytes)
        {
            write_atomic(&wav_path, &audio.bytes).map_err(|e| {
                StageError::permanent(format!("cannot write {}: {e}", wav_path.display()))
            })?;
            ctx.cache_hit("voice", audio.cost_ms);
            return Ok((narration, engine));
        }
        ctx.cache_miss("voice");
        ctx.model_ready(tts.warm_up().await?);
        let started = Instant::now();
        let on_progress = |fraction: f32| {
            ctx.progress(
                Some(fraction),
                format!("{:.0}% of sentences spoken", fraction * 100.0),
            );
        };
        let narration = tts
            .synthesize(&script.sentences, &wav_path, &ctx.cancel, &on_progress)
            .await?;
        let cost_ms = started.elapsed().as_millis() as u64;
        if let (Ok(audio), Ok(timings)) = (std::fs::read(&wav_path), serde_json::to_vec(&narration))
        {
            let stored = self
                .cache
                .put(&audio_key, &audio, cost_ms)
                .and_then(|_| self.cache.put(&timing_key, &timings, cost_ms));
            if let Err(e) = stored {
                tracing::warn!("cannot cache the narration: {e}");
            }
        }
        Ok((narration, engine))
    }

    /// The user's recording: converted to WAV, transcribed, and aligned to the script so
    /// every sentence (and word) gets the time it is actually spoken.
    async fn time_recording(
        &self,
        ctx: &JobCtx,
        script: &ScriptDoc,
        recording: &Path,
    ) -> Result<Narration, StageError> {
        let stt = self.stt.as_ref().ok_or_else(|| {
            StageError::permanent(
                "a recorded narration is timed by Whisper, which is not installed: run ./scripts/fetch-models.sh",
            )
        })?;
        let wav_path = ctx.path(artifacts::NARRATION);
        let guard = crate::fsutil::PartGuard::for_final(&wav_path);
        let ffmpeg = find_tool("ffmpeg")?;
        let mut cmd = tokio::process::Command::new(ffmpeg);
        cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
            .arg(recording)
            .args([
                "-vn",
                "-ac",
                "1",
                "-ar",
                "48000",
                "-c:a",
                "pcm_s16le",
                "-f",
                "wav",
            ])
            .arg(guard.path());
        run_tool(&mut cmd, "ffmpeg", &ctx.cancel)
            .await
            .map_err(|e| {
                StageError::permanent(format!(
                    "cannot read the narration {}: {e}",
                    recording.display()
                ))
            })?;
        guard.commit(&wav_path).map_err(|e| {
            StageError::permanent(format!("cannot write {}: {e}", wav_path.display()))
        })?;
        let info = probe(&wav_path, &ctx.cancel).await?;
        let transcript = transcript_of(
            ctx,
            stt.as_ref(),
            &self.cache,
            recording,
            language(&self.config),
        )
        .await?;
        let words = align_to_script(&transcript.words, &script.sentences);
        let sentences = script
            .sentences
            .iter()
            .zip(&words)
            .map(|(text, words)| SpokenSentence {
                text: text.clone(),
                start: words.first().map_or(0.0, |w| w.start),
                end: words.last().map_or(0.0, |w| w.end),
            })
            .collect();
        artifacts::save(ctx, artifacts::WORDS, &WordsDoc { sentences: words })?;
        Ok(Narration {
            duration: info.duration.unwrap_or(0.0),
            sample_rate: 48_000,
            sentences,
        })
    }
}
