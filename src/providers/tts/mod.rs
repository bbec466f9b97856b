//! Voices: turn the script's sentences into one narration file with exact sentence timings.

pub mod espeak;
pub mod loudness;
pub mod phonemes;
pub mod piper;
pub mod piper_model;

use super::ProviderError;
use super::models::Loaded;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpokenSentence {
    pub text: String,
    /// Seconds from the start of the narration.
    pub start: f64,
    pub end: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Narration {
    pub duration: f64,
    pub sample_rate: u32,
    pub sentences: Vec<SpokenSentence>,
}

/// Called with the fraction of sentences synthesized so far.
pub type SynthProgress<'a> = &'a (dyn Fn(f32) + Send + Sync);

#[async_trait]
pub trait TtsProvider: Send + Sync {
    fn name(&self) -> &str;
    /// A string that changes whenever the audio would change (voice, rate, volume...).
    fn fingerprint(&self) -> String;
    /// Loads the voice model if it lives in this process; see [`crate::providers::models::Loaded`].
    async fn warm_up(&self) -> Result<Option<Loaded>, ProviderError> {
        Ok(None)
    }
    /// Synthesizes `sentences` into a WAV at `out_wav` (written atomically).
    async fn synthesize(
        &self,
        sentences: &[String],
        out_wav: &Path,
        cancel: &CancellationToken,
        on_progress: SynthProgress<'_>,
    ) -> Result<Narration, ProviderError>;
}
