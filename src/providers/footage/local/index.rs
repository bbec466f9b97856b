//! The probe index: what ffprobe said about each local file (frame size, length, still or
//! video), kept in the content-addressed cache under kind "local-index" so a library is probed
//! once, and after that only where files changed — in this process and the next.
//!
//! The key is the file's canonical path, size and modification time in nanoseconds. Editing,
//! replacing or touching a file gives it a new key, so it is probed again; the old entry
//! simply stops matching. Known limit: a rewrite that keeps both size and mtime (tools that
//! restore mtimes, file systems with coarse timestamps) goes unnoticed.

use crate::media::MediaError;
use crate::media::probe::{MediaInfo, probe};
use crate::store::{Cache, CacheKey};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Instant, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

pub(super) const KIND: &str = "local-index";
/// Part of every key: bump when [`Probed`] changes meaning so old entries stop matching.
const INDEX_VERSION: &str = "ffprobe-1";

/// What the index keeps per file: only what choosing and placing a clip needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Probed {
    /// Seconds; `None` for stills.
    pub duration: Option<f64>,
    pub width: u32,
    pub height: u32,
    pub has_video: bool,
    pub is_still: bool,
}

impl From<&MediaInfo> for Probed {
    fn from(info: &MediaInfo) -> Self {
        Probed {
            duration: info.duration,
            width: info.width,
            height: info.height,
            has_video: info.has_video,
            is_still: info.is_still,
        }
    }
}

/// Where a file stands in the index.
pub(super) enum Lookup {
    Indexed(Probed),
    /// Not indexed (new, changed, or no index): probe it, then keep the result under the key
    /// when there is one.
    Probe(Option<CacheKey>),
}

/// Looks the file up by its identity. An error means the file cannot even be stat'ed, so
/// probing it would fail too.
pub(super) fn lookup(cache: Option<&Cache>, path: &Path) -> std::io::Result<Lookup> {
    let Some(cache) = cache else {
        return Ok(Lookup::Probe(None));
    };
    let Some(key) = key_for(path)? else {
        return Ok(Lookup::Probe(None));
    };
    // An entry that no longer parses (written by another version) is a miss; the fresh probe
    // overwrites it.
    match cache
        .get(&key)
        .and_then(|hit| serde_json::from_slice(&hit.bytes).ok())
    {
        Some(probed) => Ok(Lookup::Indexed(probed)),
        None => Ok(Lookup::Probe(Some(key))),
    }
}

/// Probes the file and, when it has a key, keeps the result in the index.
pub(super) async fn probe_and_keep(
    cache: Option<&Cache>,
    key: Option<&CacheKey>,
    path: &Path,
    cancel: &CancellationToken,
) -> Result<Probed, MediaError> {
    let started = Instant::now();
    let probed = Probed::from(&probe(path, cancel).await?);
    let (Some(cache), Some(key)) = (cache, key) else {
        return Ok(probed);
    };
    // A file rewritten while it was probed would have the new content filed under the old
    // identity; keep nothing then, and the next scan probes it under its new one.
    if key_for(path).ok().flatten().as_ref() != Some(key) {
        return Ok(probed);
    }
    let stored = serde_json::to_vec(&probed)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            let cost_ms = started.elapsed().as_millis() as u64;
            cache.put(key, &bytes, cost_ms).map_err(|e| e.to_string())
        });
    // Losing an index entry only costs a probe next time; it is no reason to drop the clip.
    if let Err(e) = stored {
        tracing::warn!("cannot keep {} in the footage index: {e}", path.display());
    }
    Ok(probed)
}

/// The index key for the file as it is now; `None` where the file system keeps no
/// modification time, since without one a change could not be noticed.
fn key_for(path: &Path) -> std::io::Result<Option<CacheKey>> {
    #[derive(Serialize)]
    struct Identity<'a> {
        /// Raw bytes, so a path that is not UTF-8 still gets a key of its own.
        path: &'a [u8],
        size: u64,
        mtime_ns: i128,
    }
    let meta = std::fs::metadata(path)?;
    // Canonical, so the same file reached through a link or another folder spelling is
    // indexed once.
    let canonical = std::fs::canonicalize(path)?;
    let Ok(modified) = meta.modified() else {
        return Ok(None);
    };
    let mtime_ns = match modified.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    };
    let identity = Identity {
        path: canonical.as_os_str().as_encoded_bytes(),
        size: meta.len(),
        mtime_ns,
    };
    Ok(Some(CacheKey::new(KIND, "local", INDEX_VERSION, &identity)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn key_follows_size_and_mtime_and_ignores_the_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mp4");
        std::fs::write(&path, b"12345").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        file.set_modified(then).unwrap();
        let first = key_for(&path).unwrap().unwrap();
        assert_eq!(first.kind, KIND);
        let spelt_otherwise = dir.path().join(".").join("a.mp4");
        assert_eq!(key_for(&spelt_otherwise).unwrap().unwrap(), first);

        file.set_modified(then + Duration::from_nanos(1000))
            .unwrap();
        let touched = key_for(&path).unwrap().unwrap();
        assert_ne!(touched, first);

        std::fs::write(&path, b"123456").unwrap();
        file.set_modified(then).unwrap();
        assert_ne!(key_for(&path).unwrap().unwrap(), first);
        assert!(key_for(&dir.path().join("missing.mp4")).is_err());
    }
}
