//! Footage sources: find clips for each sentence of the script.

pub mod generated;
pub mod local;

use super::ProviderError;
use crate::media::ClipSource;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    pub source: ClipSource,
    /// Seconds of usable footage; `None` when any length can be taken (stills, generated).
    pub duration: Option<f64>,
    pub width: u32,
    pub height: u32,
    /// What the clip shows, as far as known (metadata, file name, search term).
    pub description: String,
    /// The source that found it ("local", "generated", ...).
    pub provider: String,
    /// The sentence it was found for, when the source searched per sentence.
    pub sentence: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct FootageRequest {
    /// Search terms, one group per sentence.
    pub sentence_terms: Vec<Vec<String>>,
    /// Expected spoken length of each sentence, seconds.
    pub sentence_secs: Vec<f64>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// What a source found, plus notes for the user (files skipped and why).
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub clips: Vec<Clip>,
    pub notes: Vec<String>,
}

#[async_trait]
pub trait FootageSource: Send + Sync {
    fn name(&self) -> &str;
    async fn find(
        &self,
        request: &FootageRequest,
        cancel: &CancellationToken,
    ) -> Result<Found, ProviderError>;
}
