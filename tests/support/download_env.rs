//! The downloader tests' shared setup: ffmpeg-made fixtures, fast-retry settings, a
//! downloader over a temporary store ([`Env`]) and helpers that read its updates and results.
//!
//! Include it next to the file server:
//! `#[path = "support/files.rs"] mod files;` and
//! `#[path = "support/download_env.rs"] mod download_env;`.

// Shared by several test crates (tests/download.rs, tests/download_faults.rs), each using only
// part of it; the rest would warn as dead code in each of them.
#![allow(dead_code)]

use crate::files::Fixtures;
use reelforge::providers::download::{
    DownloadError, DownloadRequest, DownloadSettings, DownloadState, DownloadUpdate, Downloaded,
    Downloader,
};
use reelforge::providers::footage::MediaKind;
use reelforge::store::Store;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(Fixtures::make)
}

/// Fast retries so the whole file runs in seconds.
pub fn settings() -> DownloadSettings {
    DownloadSettings {
        max_downloads: 4,
        per_host: 4,
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_secs(1),
        max_bytes: 50 * 1024 * 1024,
        max_attempts: 4,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        proxy: None,
        validate_media: true,
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub dl: Downloader,
}

impl Env {
    pub fn new(settings: DownloadSettings) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let dl = Downloader::new(self::clips(&dir), settings, Some(store.cache.clone())).unwrap();
        Env { dir, store, dl }
    }

    pub fn clips(&self) -> PathBuf {
        clips(&self.dir)
    }

    /// Fetches `url`, returning the result and every update sent.
    pub async fn fetch(
        &self,
        url: &str,
        kind: MediaKind,
    ) -> (Result<Downloaded, DownloadError>, Vec<DownloadUpdate>) {
        let seen = Mutex::new(Vec::new());
        let sink = |u: DownloadUpdate| seen.lock().unwrap().push(u);
        let result = self
            .dl
            .fetch(request(url, kind), &sink, &CancellationToken::new())
            .await;
        (result, seen.into_inner().unwrap())
    }
}

pub fn clips(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("clips")
}

pub fn request(url: &str, kind: MediaKind) -> DownloadRequest {
    DownloadRequest {
        url: url.to_string(),
        label: "test 1".into(),
        source: "files".into(),
        kind,
        expected_bytes: None,
    }
}

pub fn states(updates: &[DownloadUpdate]) -> Vec<DownloadState> {
    updates.iter().map(|u| u.state).collect()
}

pub fn details(updates: &[DownloadUpdate], state: DownloadState) -> Vec<String> {
    updates
        .iter()
        .filter(|u| u.state == state)
        .filter_map(|u| u.detail.clone())
        .collect()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

pub fn rejected_reason(result: Result<Downloaded, DownloadError>) -> String {
    match result {
        Err(DownloadError::Rejected {
            reason,
            source_name,
            label,
        }) => {
            assert_eq!((source_name.as_str(), label.as_str()), ("files", "test 1"));
            reason
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}
