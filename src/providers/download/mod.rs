//! The parallel downloader shared by every task: a bounded pool with a per-host limit,
//! `*.part` files resumed with HTTP `Range`, retries with backoff honouring `Retry-After`,
//! connect and stalled-body timeouts, a size cap, and validation (content type, ffprobe, a
//! decode of the tail) before a clip gets its final name under `clips/`.
//!
//! Clips are stored once by URL hash; a URL already stored costs no network at all. Two tasks
//! asking for the same URL at once share one transfer.

mod downloader;
mod pool;
mod report;
mod stored;
mod transfer;
mod validate;

pub use downloader::Downloader;
/// The cache kind of stored clips (hits are reported under it).
pub use stored::CACHE_KIND as CLIPS_CACHE_KIND;

use crate::config::{NetConfig, Secret};
use crate::providers::footage::MediaKind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// What the pool may do; built from `[net]` in the config.
#[derive(Clone, Debug)]
pub struct DownloadSettings {
    /// Transfers running at once across all tasks.
    pub max_downloads: usize,
    /// Transfers running at once to one host (`host:port`).
    pub per_host: usize,
    pub connect_timeout: Duration,
    /// A body that delivers nothing for this long is dropped (and resumed).
    pub stall_timeout: Duration,
    /// Larger files are rejected before or while downloading.
    pub max_bytes: u64,
    /// Tries per URL, the first included.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// `[net] proxy`; `None`: the usual environment variables (HTTPS_PROXY, NO_PROXY, ...).
    /// A [`Secret`] because a proxy URL may carry a password.
    pub proxy: Option<Secret>,
    /// Check every file with ffprobe (and decode a video's last second) before it gets its
    /// final name. Always `true` in the program; only the transfer benchmark, which moves
    /// random bytes, turns it off.
    pub validate_media: bool,
}

impl From<&NetConfig> for DownloadSettings {
    fn from(net: &NetConfig) -> Self {
        let retry = net.retry_policy();
        DownloadSettings {
            max_downloads: net.max_downloads as usize,
            per_host: net.per_host as usize,
            connect_timeout: Duration::from_secs(net.connect_timeout_secs),
            stall_timeout: Duration::from_secs(net.stall_timeout_secs),
            max_bytes: net.max_clip_mb * 1024 * 1024,
            max_attempts: retry.max_attempts,
            backoff_base: retry.base,
            backoff_max: retry.max,
            proxy: Some(net.proxy.clone()).filter(|p| !p.is_empty()),
            validate_media: true,
        }
    }
}

/// The `[net]` defaults.
impl Default for DownloadSettings {
    fn default() -> Self {
        DownloadSettings::from(&NetConfig::default())
    }
}

#[derive(Clone, Debug)]
pub struct DownloadRequest {
    pub url: String,
    /// Shown in progress events: "pexels 1448735".
    pub label: String,
    /// The provider that offered it, for messages.
    pub source: String,
    pub kind: MediaKind,
    /// What the vendor said the size is, if it did.
    pub expected_bytes: Option<u64>,
}

/// Where a clip is in its life; the states the dashboard and the CLI show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownloadState {
    Queued,
    Downloading,
    Retrying,
    Done,
    /// Already in `clips/`: nothing downloaded.
    Cached,
    /// Discarded (HTML page, truncated, undecodable, too big, gave up): another candidate is taken.
    Rejected,
}

/// One progress report of one clip.
#[derive(Clone, Debug, PartialEq)]
pub struct DownloadUpdate {
    pub label: String,
    pub source: String,
    pub state: DownloadState,
    pub done_bytes: u64,
    pub total_bytes: Option<u64>,
    pub bytes_per_sec: u64,
    /// Why (rejected, retrying).
    pub detail: Option<String>,
    pub retry_in: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct Downloaded {
    /// The validated file under `clips/`.
    pub path: PathBuf,
    /// Bytes that came over the network for this request (0 when cached).
    pub network_bytes: u64,
    pub size: u64,
    pub from_cache: bool,
    /// Wall time of the original download (what a cache hit saved).
    pub download_ms: u64,
    pub width: u32,
    pub height: u32,
    /// Seconds; `None` for stills.
    pub duration: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// This candidate is unusable; take another. Nothing was kept.
    #[error("{source_name}: {label} rejected: {reason}")]
    Rejected {
        source_name: String,
        label: String,
        reason: String,
    },
    /// Local trouble (disk full, clips folder unwritable): no other candidate will do better.
    #[error("cannot store clip {path}: {message}")]
    Storage { path: PathBuf, message: String },
    /// The HTTP client could not be built (a bad `[net] proxy`).
    #[error("cannot set up downloads: {0}")]
    Setup(String),
    #[error("cancelled")]
    Cancelled,
}

/// Megabytes (MiB) for messages, e.g. "4.1 MB", "300 MB"; every size and speed shown to
/// users goes through it.
pub fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    let text = format!("{mb:.1}");
    format!("{} MB", text.strip_suffix(".0").unwrap_or(&text))
}

/// `url` without its query string or fragment: some vendors (Pixabay) put the API key there,
/// and messages are shown and logged.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or("")
}

/// Cuts the query string off every URL inside `text` (error causes may quote a redirect).
fn redact_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains("://") {
                without_query(word)
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_sizes_and_no_query_strings() {
        assert_eq!(megabytes(300 * 1024 * 1024), "300 MB");
        assert_eq!(megabytes(4_300_000), "4.1 MB");
        assert_eq!(
            without_query("https://cdn.example/v.mp4?key=SECRET#t"),
            "https://cdn.example/v.mp4"
        );
        let text = redact_urls("redirect to https://x.example/a?key=SECRET failed");
        assert_eq!(text, "redirect to https://x.example/a failed");
    }
}
