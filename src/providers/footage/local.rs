//! Footage from folders on disk: videos and stills, kept as a library index.
//!
//! Each scan walks the folders, then takes every file's probe result (size, length, still or
//! video) from the index ([`index`]) and runs ffprobe only on files that are new or changed.
//! What a clip shows comes fresh from its metadata on every scan ([`meta`]): a `<name>.json`
//! sidecar, the folder's `clip.json`, or the file name.

mod index;
mod meta;

use super::{Clip, FootageRequest, FootageSource, Found};
use crate::media::{ClipSource, MediaError};
use crate::providers::ProviderError;
use crate::store::Cache;
use async_trait::async_trait;
use futures_util::StreamExt;
use index::{Lookup, Probed};
use meta::Described;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_util::sync::CancellationToken;

const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "m4v", "webm", "mkv", "avi"];
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp"];
/// Folders nested deeper than this are not searched (guards against link loops).
const MAX_DEPTH: usize = 4;
const PROBES_AT_ONCE: usize = 4;
/// Shorter videos cannot fill even a quick cut.
const MIN_VIDEO_SECS: f64 = 0.5;

pub struct LocalSource {
    dirs: Vec<PathBuf>,
    cache: Option<Cache>,
    probes: AtomicUsize,
}

impl LocalSource {
    /// `cache` holds the probe index between scans and runs; with `None` every scan probes
    /// every file.
    pub fn new(dirs: Vec<PathBuf>, cache: Option<Cache>) -> Self {
        LocalSource {
            dirs,
            cache,
            probes: AtomicUsize::new(0),
        }
    }

    /// How many files this source has run ffprobe on over all its scans: shows whether the
    /// index is doing its job.
    pub fn probed_count(&self) -> usize {
        self.probes.load(Ordering::Relaxed)
    }

    fn invalid(message: String) -> ProviderError {
        ProviderError::Invalid {
            provider: "local footage".into(),
            message,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Video,
    Image,
}

/// A media file found by the walk, with its index entry and words, before any probing.
struct Candidate {
    path: PathBuf,
    kind: Kind,
    lookup: Lookup,
    described: Described,
}

/// The blocking part of a scan: the walk, stat calls, index look-ups and metadata reads.
struct Scan {
    /// Media files the walk found, readable or not.
    files: usize,
    candidates: Vec<Candidate>,
    notes: Vec<String>,
}

#[async_trait]
impl FootageSource for LocalSource {
    fn name(&self) -> &str {
        "local"
    }

    async fn find(
        &self,
        _request: &FootageRequest,
        cancel: &CancellationToken,
    ) -> Result<Found, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let (dirs, cache) = (self.dirs.clone(), self.cache.clone());
        // Thousands of stat calls and index reads would stall a runtime worker; they run on
        // the blocking pool instead.
        let scan = tokio::task::spawn_blocking(move || scan(&dirs, cache.as_ref()))
            .await
            .map_err(|e| Self::invalid(format!("the footage folder scan stopped: {e}")))??;
        let cache = self.cache.as_ref();
        // Owned items: borrowed ones trip the compiler's higher-ranked lifetime check here.
        let probed: Vec<_> = futures_util::stream::iter(scan.candidates)
            .map(|candidate| async move {
                let result = match &candidate.lookup {
                    Lookup::Indexed(probed) => Ok((probed.clone(), false)),
                    Lookup::Probe(_) if cancel.is_cancelled() => Err(MediaError::Cancelled),
                    Lookup::Probe(key) => {
                        self.probes.fetch_add(1, Ordering::Relaxed);
                        index::probe_and_keep(cache, key.as_ref(), &candidate.path, cancel)
                            .await
                            .map(|probed| (probed, true))
                    }
                };
                (candidate, result)
            })
            .buffered(PROBES_AT_ONCE)
            .collect()
            .await;
        let mut found = Found::default();
        let mut skipped = Vec::new();
        let (mut probes, mut from_index) = (0, 0);
        for (candidate, result) in probed {
            match result {
                Ok((probed, was_probed)) => {
                    probes += usize::from(was_probed);
                    from_index += usize::from(!was_probed);
                    let path = candidate.path.display().to_string();
                    match clip_from(candidate, &probed) {
                        Ok(clip) => found.clips.push(clip),
                        Err(why) => skipped.push(format!("skipped {path}: {why}")),
                    }
                }
                Err(MediaError::Cancelled) => return Err(ProviderError::Cancelled),
                Err(MediaError::ToolMissing { tool, hint }) => {
                    return Err(Self::invalid(format!(
                        "{tool} is needed to read clips; {hint}"
                    )));
                }
                Err(e) => {
                    probes += 1;
                    skipped.push(format!("skipped {}: {e}", candidate.path.display()));
                }
            }
        }
        // Only worth saying when the library was (re)indexed: a warm scan is silent.
        if probes > 0 {
            let kept = if cache.is_some() {
                ""
            } else {
                " (no index kept)"
            };
            found.notes.push(format!(
                "local library: {} {}, {from_index} from the index, {probes} probed{kept}",
                scan.files,
                if scan.files == 1 { "file" } else { "files" },
            ));
        }
        found.notes.extend(scan.notes);
        found.notes.extend(skipped);
        if found.clips.is_empty() {
            return Err(Self::invalid(format!(
                "no usable clip in the footage folder: {}",
                found.notes.join("; ")
            )));
        }
        Ok(found)
    }
}

fn scan(dirs: &[PathBuf], cache: Option<&Cache>) -> Result<Scan, ProviderError> {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(LocalSource::invalid(format!(
                "footage folder {} does not exist or is not a folder; check --footage-dir / [footage] local_dirs",
                dir.display()
            )));
        }
        // The folder the user named must be readable; a subfolder that is not is only a note.
        let entries = std::fs::read_dir(dir).map_err(|e| {
            LocalSource::invalid(format!("cannot read footage folder {}: {e}", dir.display()))
        })?;
        collect_media(entries, 0, &mut files, &mut notes);
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if files.is_empty() {
        let shown: Vec<_> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(LocalSource::invalid(format!(
            "footage folder {} has no videos ({}) or images ({}); add clips there, or leave out --footage-dir to use generated backgrounds",
            shown.join(", "),
            VIDEO_EXTENSIONS.join(", "),
            IMAGE_EXTENSIONS.join(", ")
        )));
    }
    let mut library = meta::Library::default();
    let mut candidates = Vec::with_capacity(files.len());
    let total = files.len();
    for (path, kind) in files {
        match index::lookup(cache, &path) {
            Ok(lookup) => candidates.push(Candidate {
                described: library.describe(&path),
                path,
                kind,
                lookup,
            }),
            Err(e) => notes.push(format!("skipped {}: cannot read it: {e}", path.display())),
        }
    }
    notes.extend(library.into_notes());
    Ok(Scan {
        files: total,
        candidates,
        notes,
    })
}

fn collect_media(
    entries: std::fs::ReadDir,
    depth: usize,
    out: &mut Vec<(PathBuf, Kind)>,
    notes: &mut Vec<String>,
) {
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => {
                notes.push(format!("skipped an entry of a footage folder: {e}"));
                continue;
            }
        };
        if path.is_dir() {
            if depth >= MAX_DEPTH {
                continue;
            }
            match std::fs::read_dir(&path) {
                Ok(inner) => collect_media(inner, depth + 1, out, notes),
                Err(e) => notes.push(format!("skipped folder {}: {e}", path.display())),
            }
        } else if let Some(kind) = media_kind(&path) {
            out.push((path, kind));
        }
    }
}

fn media_kind(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        Some(Kind::Video)
    } else if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        Some(Kind::Image)
    } else {
        None
    }
}

/// Decided from the (possibly indexed) probe every scan, so a rule change here needs no
/// re-probe; `Err` says why the file is no clip.
fn clip_from(candidate: Candidate, probed: &Probed) -> Result<Clip, String> {
    if !probed.has_video || probed.width == 0 || probed.height == 0 {
        return Err("no video stream".into());
    }
    // A one-frame "video" (a poster .mp4) is shown like a still.
    let is_image = candidate.kind == Kind::Image || probed.is_still;
    let duration = if is_image { None } else { probed.duration };
    if !is_image && duration.is_none_or(|d| d < MIN_VIDEO_SECS) {
        return Err(format!("shorter than {MIN_VIDEO_SECS} s"));
    }
    let source = if is_image {
        ClipSource::Image(candidate.path)
    } else {
        ClipSource::Video(candidate.path)
    };
    let mut clip = Clip::new(
        source,
        duration,
        (probed.width, probed.height),
        candidate.described.description,
        "local",
    );
    clip.tags = candidate.described.tags;
    Ok(clip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> FootageRequest {
        FootageRequest {
            sentence_terms: vec![],
            sentence_secs: vec![],
            width: 1080,
            height: 1920,
            fps: 30,
        }
    }

    #[tokio::test]
    async fn empty_and_missing_folders_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a clip").unwrap();
        let cancel = CancellationToken::new();
        let err = LocalSource::new(vec![dir.path().to_path_buf()], None)
            .find(&request(), &cancel)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has no videos") && err.contains("--footage-dir"),
            "{err}"
        );
        let err = LocalSource::new(vec![dir.path().join("nope")], None)
            .find(&request(), &cancel)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[tokio::test]
    async fn unreadable_files_are_notes_and_depth_is_limited() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty.mp4"), b"").unwrap();
        let mut deep = dir.path().to_path_buf();
        for level in 0..=MAX_DEPTH + 1 {
            deep = deep.join(format!("d{level}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("too_deep.mp4"), b"").unwrap();
        let source = LocalSource::new(vec![dir.path().to_path_buf()], None);
        let err = source
            .find(&request(), &CancellationToken::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("empty.mp4") && err.contains("is empty"),
            "{err}"
        );
        assert!(!err.contains("too_deep"), "{err}");
        assert!(err.contains("1 file, 0 from the index, 1 probed"), "{err}");
        assert_eq!(source.probed_count(), 1);
    }

    #[tokio::test]
    async fn a_cancelled_scan_says_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.mp4"), b"x").unwrap();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let source = LocalSource::new(vec![dir.path().to_path_buf()], None);
        let err = source.find(&request(), &cancel).await.unwrap_err();
        assert!(matches!(err, ProviderError::Cancelled), "{err:?}");
        assert_eq!(source.probed_count(), 0);
    }
}
