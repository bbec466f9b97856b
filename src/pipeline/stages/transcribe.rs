//! Speech recognition for stages: a file's transcript through the content-addressed cache
//! (keyed by the audio's bytes), so the script and voice stages share one Whisper pass.

use crate::config::Config;
use crate::pipeline::{JobCtx, StageError};
use crate::providers::stt::{SttProvider, Transcript};
use crate::store::{Cache, CacheKey};
use std::path::Path;
use std::time::Instant;

/// The spoken language to ask for: `None` lets Whisper detect it.
pub fn language(config: &Config) -> Option<&str> {
    match config.stt.language.trim() {
        "" | "auto" => None,
        code => Some(code),
    }
}

pub async fn transcript_of(
    ctx: &JobCtx,
    stt: &dyn SttProvider,
    cache: &Cache,
    audio: &Path,
    language: Option<&str>,
) -> Result<Transcript, StageError> {
    let bytes = tokio::fs::read(audio).await.map_err(|e| {
        StageError::permanent(format!("cannot read the audio {}: {e}", audio.display()))
    })?;
    let digest = blake3::hash(&bytes).to_hex().to_string();
    let key = CacheKey::new(
        "transcript",
        stt.name(),
        "whisper-base-words-v2",
        &(digest, language),
    );
    if let Some(hit) = cache.get(&key)
        && let Ok(transcript) = serde_json::from_slice::<Transcript>(&hit.bytes)
    {
        ctx.cache_hit("transcript", hit.cost_ms);
        return Ok(transcript);
    }
    ctx.cache_miss("transcript");
    ctx.model_ready(stt.warm_up().await?);
    let started = Instant::now();
    let on_progress = |fraction: f32| {
        ctx.progress(
            Some(fraction),
            format!("{:.0}% of the audio transcribed", fraction * 100.0),
        );
    };
    let transcript = stt
        .transcribe(audio, language, &ctx.cancel, &on_progress)
        .await?;
    if let Ok(json) = serde_json::to_vec(&transcript)
        && let Err(e) = cache.put(&key, &json, started.elapsed().as_millis() as u64)
    {
        tracing::warn!("cannot cache the transcript: {e}");
    }
    Ok(transcript)
}
