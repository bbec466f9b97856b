//! Footage sources. Two kinds:
//! - *libraries* ([`FootageSource`]: local folders, generated backgrounds) hand over clips that
//!   are already on disk;
//! - *stock search* ([`StockSearch`]: Pexels, Pixabay) answer one search term at a time with
//!   remote clips ([`StockHit`]) that the shared downloader fetches.

pub mod generated;
pub mod keys;
pub mod local;
pub mod pexels;
pub mod pixabay;
pub mod rendition;
mod vendor;

use super::ProviderError;
use crate::media::ClipSource;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Moving footage or stills (image mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    #[default]
    Video,
    Image,
}

/// Who made a stock clip and under which licence, kept for the credits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    pub author: String,
    pub author_url: String,
    /// The clip's page on the vendor's site.
    pub page_url: String,
    pub license_url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    pub source: ClipSource,
    /// Seconds of usable footage; `None` when any length can be taken (stills, generated).
    pub duration: Option<f64>,
    pub width: u32,
    pub height: u32,
    /// What the clip shows, as far as known (metadata, file name, search term).
    pub description: String,
    /// The source that found it ("local", "generated", "pexels", ...).
    pub provider: String,
    /// The sentence it was found for, when the source searched per sentence.
    pub sentence: Option<usize>,
    /// The search term that found it (stock sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_term: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
}

impl Clip {
    /// A clip with only what every source knows; the optional metadata left empty.
    pub fn new(
        source: ClipSource,
        duration: Option<f64>,
        (width, height): (u32, u32),
        description: String,
        provider: &str,
    ) -> Clip {
        Clip {
            source,
            duration,
            width,
            height,
            description,
            provider: provider.to_string(),
            sentence: None,
            search_term: None,
            tags: Vec::new(),
            attribution: None,
        }
    }
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

/// A library source: clips already on disk (or drawn by ffmpeg).
#[async_trait]
pub trait FootageSource: Send + Sync {
    fn name(&self) -> &str;
    async fn find(
        &self,
        request: &FootageRequest,
        cancel: &CancellationToken,
    ) -> Result<Found, ProviderError>;
}

/// One search of a stock vendor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchQuery {
    pub term: String,
    pub kind: MediaKind,
    /// The frame the clip will fill: decides orientation and the smallest useful rendition.
    pub width: u32,
    pub height: u32,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

/// One clip a vendor offers, with the rendition chosen for the target frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StockHit {
    pub provider: String,
    /// The vendor's id of the clip (not of the rendition).
    pub id: String,
    pub kind: MediaKind,
    /// The chosen rendition's file.
    pub download_url: String,
    pub width: u32,
    pub height: u32,
    /// Size of the chosen rendition when the vendor says it.
    pub bytes: Option<u64>,
    /// Seconds; `None` for stills.
    pub duration: Option<f64>,
    /// Words that say what the clip shows: the page URL's slug, `alt`, tags.
    pub description: String,
    pub tags: Vec<String>,
    pub attribution: Attribution,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    pub hits: Vec<StockHit>,
    /// The next page to ask for, when the vendor has more.
    pub next_page: Option<u32>,
    /// Things the user should know that did not stop the search (a key set aside).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A stock vendor's search API.
#[async_trait]
pub trait StockSearch: Send + Sync {
    /// "pexels", "pixabay": used in events, cache keys and messages.
    fn name(&self) -> &str;
    /// One page of results. Transient failures (429, 5xx, network) come back as such for the
    /// caller to retry; a rejected key is set aside and the next one tried before giving up.
    async fn search(
        &self,
        query: &SearchQuery,
        cancel: &CancellationToken,
    ) -> Result<SearchPage, ProviderError>;
}
