//! Where clips live and what the cache remembers about them.
//!
//! A clip is stored once, under `<clips>/<hash[..2]>/<hash>.<ext>` with hash = blake3 of the
//! URL, so the same URL never costs network twice. The cache (kind "clips") remembers the
//! stored file's size and probe results, so a hit needs neither network nor ffprobe, and can
//! report how long the original download took.

use crate::media::probe::MediaInfo;
use crate::providers::footage::MediaKind;
use crate::store::{Cache, CacheKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The cache kind of clip records, shown by `cache stats`.
pub const CACHE_KIND: &str = "clips";

/// Extensions kept from the URL; anything else (or none) gets the kind's default, because
/// ffmpeg and the renderer go by the extension for stills.
const MEDIA_EXTENSIONS: &[&str] = &["mp4", "mov", "webm", "m4v", "jpg", "jpeg", "png", "webp"];

/// What the cache remembers about one stored clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct ClipRecord {
    pub size: u64,
    pub width: u32,
    pub height: u32,
    pub duration: Option<f64>,
    pub download_ms: u64,
    /// The stored file's name, for people reading the cache.
    pub file: String,
}

impl ClipRecord {
    pub fn new(path: &Path, size: u64, info: Option<&MediaInfo>, download_ms: u64) -> Self {
        ClipRecord {
            size,
            width: info.map_or(0, |i| i.width),
            height: info.map_or(0, |i| i.height),
            duration: info.and_then(|i| i.duration),
            download_ms,
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

/// The final path of `url` under `clips_dir`.
pub(super) fn stored_path(clips_dir: &Path, url: &str, kind: MediaKind) -> PathBuf {
    let hash = blake3::hash(url.as_bytes()).to_hex();
    let name = format!("{hash}.{}", extension(url, kind));
    clips_dir.join(&hash[..2]).join(name)
}

/// The URL path's extension when it is a known media one, else the kind's default.
fn extension(url: &str, kind: MediaKind) -> &'static str {
    let path = reqwest::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| super::without_query(url).to_string());
    let last = path.rsplit('/').next().unwrap_or("");
    let ext = last
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    let known = ext.and_then(|ext| MEDIA_EXTENSIONS.iter().copied().find(|k| *k == ext));
    known.unwrap_or(match kind {
        MediaKind::Video => "mp4",
        MediaKind::Image => "jpg",
    })
}

/// Reads and writes clip records; a downloader without a cache remembers nothing.
#[derive(Clone)]
pub(super) struct Records {
    cache: Option<Cache>,
}

impl Records {
    pub fn new(cache: Option<Cache>) -> Self {
        Records { cache }
    }

    fn key(url: &str) -> CacheKey {
        CacheKey::new(CACHE_KIND, "", "", &url)
    }

    pub fn get(&self, url: &str) -> Option<ClipRecord> {
        let hit = self.cache.as_ref()?.get(&Self::key(url))?;
        serde_json::from_slice(&hit.bytes).ok()
    }

    /// Best effort: a record that cannot be written only costs an ffprobe on the next hit.
    pub fn put(&self, url: &str, record: &ClipRecord) {
        let Some(cache) = &self.cache else { return };
        let Ok(bytes) = serde_json::to_vec(record) else {
            return;
        };
        if let Err(e) = cache.put(&Self::key(url), &bytes, record.download_ms) {
            tracing::warn!("cannot remember clip {}: {e}", record.file);
        }
    }

    pub fn remove(&self, url: &str) {
        if let Some(cache) = &self.cache {
            cache.remove(&Self::key(url));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_comes_from_the_url_path_only() {
        let v = MediaKind::Video;
        assert_eq!(extension("https://x.example/a/b.MOV?x=1", v), "mov");
        assert_eq!(extension("https://x.example/a/b.webm", v), "webm");
        assert_eq!(extension("https://x.example/a/b?f=c.webm", v), "mp4");
        assert_eq!(extension("https://x.example/video-files/123/", v), "mp4");
        assert_eq!(
            extension("https://x.example/p.php", MediaKind::Image),
            "jpg"
        );
        assert_eq!(
            extension("https://x.example/p.png", MediaKind::Image),
            "png"
        );
    }

    #[test]
    fn stored_path_is_sharded_by_url_hash() {
        let path = stored_path(Path::new("/c"), "https://x.example/a.mp4", MediaKind::Video);
        let hash = blake3::hash(b"https://x.example/a.mp4")
            .to_hex()
            .to_string();
        assert_eq!(
            path,
            Path::new("/c").join(&hash[..2]).join(format!("{hash}.mp4"))
        );
    }
}
