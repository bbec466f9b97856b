//! Stage `voice`: the script read aloud with exact per-sentence timings — synthesized (Piper,
//! or espeak-ng as the fallback), or the user's own recording timed by Whisper. Synthesized
//! audio and its timings are cached by content, so a retry with the same script is instant.

use super::artifacts::{self, ScriptDoc, WordsDoc};
use super::transcribe::{language, transcript_of};
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::media::probe::probe;
use crate::media::tool::{find_tool, run_tool};
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use crate::providers::stt::{SttProvider, align_to_script};
use crate::providers::tts::{Narration, SpokenSentence, TtsProvider};
use crate::store::{Cache, CacheKey};
use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub struct VoiceStage {
    pub tts: Arc<dyn TtsProvider>,
    pub stt: Option<Arc<dyn SttProvider>>,
    pub cache: Cache,
    pub config: Arc<Config>,
    pub notes: Vec<String>,
}

#[async_trait]
impl StageWork for VoiceStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let script: ScriptDoc = artifacts::load(ctx, artifacts::SCRIPT)?;
        let (narration, engine) = match &ctx.spec.narration {
            Some(recording) => (
                self.time_recording(ctx, &script, recording).await?,
                "recording",
            ),
            None => (self.synthesize(ctx, &script).await?, self.tts.name()),
        };
        artifacts::save(ctx, artifacts::VOICE, &narration)?;
        Ok(StageOutput {
            files: vec![artifacts::NARRATION.into(), artifacts::VOICE.into()],
            summary: format!(
                "{:.1} s of narration, {} sentences ({engine})",
                narration.duration,
                narration.sentences.len(),
            ),
        })
    }
}

impl VoiceStage {
    async fn synthesize(&self, ctx: &JobCtx, script: &ScriptDoc) -> Result<Narration, StageError> {
        for note in &self.notes {
            ctx.log(LogLevel::Warn, note.clone());
        }
        let wav_path = ctx.path(artifacts::NARRATION);
        let fingerprint = self.tts.fingerprint();
        let audio_key = CacheKey::new("voice", self.tts.name(), &fingerprint, &script.sentences);
        let timing_key = CacheKey::new(
            "voice-timings",
            self.tts.name(),
            &fingerprint,
            &script.sentences,
        );
        if let Some((audio, timings)) = self.cache.get(&audio_key).zip(self.cache.get(&timing_key))
            && let Ok(narration) = serde_json::from_slice::<Narration>(&timings.bytes)
        {
            write_atomic(&wav_path, &audio.bytes).map_err(|e| {
                StageError::permanent(format!("cannot write {}: {e}", wav_path.display()))
            })?;
            ctx.cache_hit("voice", audio.cost_ms);
            return Ok(narration);
        }
        ctx.model_ready(self.tts.warm_up().await?);
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
        Ok(narration)
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
