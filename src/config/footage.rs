//! `[footage]` (sources, stock vendors, candidates) and `[net]` (downloads, proxy) settings.

use super::Secret;
use crate::retry::RetryPolicy;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FootageConfig {
    /// Sources in order of preference: "local", "pexels", "pixabay", "generated".
    pub sources: Vec<String>,
    /// Folders of videos and images for the "local" source.
    pub local_dirs: Vec<PathBuf>,
    /// Clips fetched per sentence for the select stage to choose from, 1 to 10.
    pub candidates_per_sentence: u32,
    /// "video", or "image" for stills (image mode).
    pub media: String,
    /// How long stock search results are reused, in hours (0: never cached).
    pub search_ttl_hours: u64,
    pub pexels: StockConfig,
    pub pixabay: StockConfig,
}

impl Default for FootageConfig {
    fn default() -> Self {
        FootageConfig {
            sources: vec![
                "local".into(),
                "pexels".into(),
                "pixabay".into(),
                "generated".into(),
            ],
            local_dirs: Vec::new(),
            candidates_per_sentence: 3,
            media: "video".into(),
            search_ttl_hours: 24,
            pexels: StockConfig {
                api_keys: Vec::new(),
                api_key_env: "PEXELS_API_KEY".into(),
                base_url: "https://api.pexels.com".into(),
                per_page: 15,
            },
            pixabay: StockConfig {
                api_keys: Vec::new(),
                api_key_env: "PIXABAY_API_KEY".into(),
                base_url: "https://pixabay.com/api".into(),
                per_page: 20,
            },
        }
    }
}

/// One stock vendor.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StockConfig {
    /// Keys used in turn; a key the vendor rejects is set aside. Prefer the variable below.
    pub api_keys: Vec<Secret>,
    /// Environment variable holding more keys, comma-separated.
    pub api_key_env: String,
    pub base_url: String,
    /// Results asked per search page.
    pub per_page: u32,
}

impl StockConfig {
    /// The usable keys (blank ones dropped).
    pub fn keys(&self) -> Vec<Secret> {
        self.api_keys
            .iter()
            .filter(|k| !k.is_empty())
            .cloned()
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetConfig {
    /// Proxy for every request, e.g. "http://user:pass@proxy:3128" or "socks5://...". Empty:
    /// the HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY environment variables.
    pub proxy: Secret,
    /// Downloads running at once across all tasks, 1 to 64.
    pub max_downloads: u32,
    /// Downloads running at once to one host, 1 to 64.
    pub per_host: u32,
    pub connect_timeout_secs: u64,
    /// A download that receives nothing for this long is dropped and resumed.
    pub stall_timeout_secs: u64,
    /// Larger clips are skipped, in MB.
    pub max_clip_mb: u64,
    /// Tries per download or search, the first included, 1 to 10.
    pub max_attempts: u32,
}

impl NetConfig {
    /// Retries of every network request (searches, downloads): `max_attempts` tries, backoff
    /// from half a second doubling up to 30 s unless the server says when (`Retry-After`).
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            proxy: Secret::default(),
            max_downloads: 8,
            per_host: 6,
            connect_timeout_secs: 10,
            stall_timeout_secs: 20,
            max_clip_mb: 300,
            max_attempts: 5,
        }
    }
}
