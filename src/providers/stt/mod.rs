//! Speech recognition: timing narration by listening to it (uploaded narration, or synthesized
//! speech whose per-word timings the voice cannot report), with Whisper running in-process.
//!
//! [`SttProvider::transcribe`] returns recognized words with times; [`align_to_script`] then
//! maps them back onto the script's own words so subtitles show what was written, not what
//! the recognizer misheard.

mod align;
pub mod audio;
pub mod ct2;
mod decode;
mod decoder;
mod encoder;
mod encoder_cpu;
mod host;
mod matvec;
pub mod mel;
mod model;
mod snap;
mod step;
mod timestamps;
pub mod whisper;
mod words;

pub use align::align_to_script;
pub use whisper::WhisperStt;

use super::ProviderError;
use super::models::Loaded;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// One recognized (or script) word and when it is spoken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The word as shown, with its punctuation attached ("river," / "bank.").
    pub text: String,
    /// Seconds from the start of the audio.
    pub start: f64,
    pub end: f64,
    /// Confidence in [0, 1]: the recognizer's token probability; after
    /// [`align_to_script`], 0 for script words whose time was interpolated.
    pub probability: f32,
}

/// What was said in an audio file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// ISO 639-1 code ("en"): the one asked for, or the one detected.
    pub language: String,
    /// The whole text, segments joined by single spaces.
    pub text: String,
    /// Every word, in order, with non-decreasing times.
    pub words: Vec<Word>,
}

/// Called with the fraction of the audio processed so far (0..=1).
pub type SttProgress<'a> = &'a (dyn Fn(f32) + Send + Sync);

#[async_trait]
pub trait SttProvider: Send + Sync {
    fn name(&self) -> &str;
    /// Loads the model if it lives in this process; see [`Loaded`].
    async fn warm_up(&self) -> Result<Option<Loaded>, ProviderError>;
    /// Transcribes `audio` (any format ffmpeg decodes). `language` is an ISO code, or
    /// `None` / `"auto"` to detect it from the first 30 s.
    async fn transcribe(
        &self,
        audio: &Path,
        language: Option<&str>,
        cancel: &CancellationToken,
        on_progress: SttProgress<'_>,
    ) -> Result<Transcript, ProviderError>;
}

/// The provider name used in errors from this module.
pub(crate) const PROVIDER: &str = "whisper";

/// Wraps a candle error met while running the model: a bug or a broken model, never the
/// user's input, so it is not worth retrying. Only the first line is kept: candle appends a
/// backtrace when RUST_BACKTRACE is set, which does not belong in a status line.
pub(crate) fn model_error(context: &str, err: impl std::fmt::Display) -> ProviderError {
    let text = err.to_string();
    ProviderError::Invalid {
        provider: PROVIDER.into(),
        message: format!("{context}: {}", text.lines().next().unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_round_trips_through_json() {
        let t = Transcript {
            language: "en".into(),
            text: "Hello there.".into(),
            words: vec![
                Word {
                    text: "Hello".into(),
                    start: 0.1,
                    end: 0.4,
                    probability: 0.9,
                },
                Word {
                    text: "there.".into(),
                    start: 0.4,
                    end: 0.8,
                    probability: 0.75,
                },
            ],
        };
        let json = serde_json::to_string(&t).expect("serializes");
        assert!(json.contains("\"language\":\"en\""), "{json}");
        let back: Transcript = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, t);
    }

    #[test]
    fn model_errors_are_not_transient() {
        let e = model_error("encoder", "shape mismatch");
        assert!(!e.is_transient());
        assert!(e.to_string().contains("encoder: shape mismatch"));
    }
}
