//! Footage from folders on disk: videos and stills, described by a `<name>.json` beside the
//! file (`description`, `title`, `tags`) or else by the file name.

use super::{Clip, FootageRequest, FootageSource, Found};
use crate::media::probe::probe;
use crate::media::{ClipSource, MediaError};
use crate::providers::ProviderError;
use async_trait::async_trait;
use futures_util::StreamExt;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "m4v", "webm", "mkv", "avi"];
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp"];
/// Folders nested deeper than this are not searched (guards against link loops).
const MAX_DEPTH: usize = 4;
const PROBES_AT_ONCE: usize = 4;

pub struct LocalSource {
    dirs: Vec<PathBuf>,
}

#[derive(Deserialize, Default)]
struct Sidecar {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
}

impl LocalSource {
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        LocalSource { dirs }
    }

    fn invalid(message: String) -> ProviderError {
        ProviderError::Invalid {
            provider: "local footage".into(),
            message,
        }
    }
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
        let mut files = Vec::new();
        for dir in &self.dirs {
            if !dir.is_dir() {
                return Err(Self::invalid(format!(
                    "footage folder {} does not exist or is not a folder; check --footage-dir / [footage] local_dirs",
                    dir.display()
                )));
            }
            collect_media(dir, 0, &mut files).map_err(|e| {
                Self::invalid(format!("cannot read footage folder {}: {e}", dir.display()))
            })?;
        }
        files.sort();
        if files.is_empty() {
            let shown: Vec<_> = self.dirs.iter().map(|d| d.display().to_string()).collect();
            return Err(Self::invalid(format!(
                "footage folder {} has no videos ({}) or images ({}); add clips there, or leave out --footage-dir to use generated backgrounds",
                shown.join(", "),
                VIDEO_EXTENSIONS.join(", "),
                IMAGE_EXTENSIONS.join(", ")
            )));
        }
        // Owned items: borrowed ones trip the compiler's higher-ranked lifetime check here.
        let probed: Vec<_> = futures_util::stream::iter(files)
            .map(|path| async move {
                let result = describe(&path, cancel).await;
                (path, result)
            })
            .buffered(PROBES_AT_ONCE)
            .collect()
            .await;
        let mut found = Found::default();
        for (path, result) in probed {
            match result {
                Ok(clip) => found.clips.push(clip),
                Err(MediaError::Cancelled) => return Err(ProviderError::Cancelled),
                Err(MediaError::ToolMissing { tool, hint }) => {
                    return Err(Self::invalid(format!(
                        "{tool} is needed to read clips; {hint}"
                    )));
                }
                Err(e) => found.notes.push(format!("skipped {}: {e}", path.display())),
            }
        }
        if found.clips.is_empty() {
            return Err(Self::invalid(format!(
                "no usable clip in the footage folder: {}",
                found.notes.join("; ")
            )));
        }
        Ok(found)
    }
}

fn collect_media(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if depth < MAX_DEPTH {
                collect_media(&path, depth + 1, out)?;
            }
        } else if media_kind(&path).is_some() {
            out.push(path);
        }
    }
    Ok(())
}

#[derive(PartialEq)]
enum Kind {
    Video,
    Image,
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

async fn describe(path: &Path, cancel: &CancellationToken) -> Result<Clip, MediaError> {
    let info = probe(path, cancel).await?;
    let is_image = media_kind(path) == Some(Kind::Image) || info.is_still;
    if !info.has_video || info.width == 0 || info.height == 0 {
        return Err(MediaError::Unreadable {
            path: path.to_path_buf(),
            message: "no video stream".into(),
        });
    }
    let duration = if is_image { None } else { info.duration };
    if !is_image && duration.is_none_or(|d| d < 0.5) {
        return Err(MediaError::Unreadable {
            path: path.to_path_buf(),
            message: "shorter than half a second".into(),
        });
    }
    let source = if is_image {
        ClipSource::Image(path.to_path_buf())
    } else {
        ClipSource::Video(path.to_path_buf())
    };
    Ok(Clip::new(
        source,
        duration,
        (info.width, info.height),
        description_for(path),
        "local",
    ))
}

/// The sidecar's words if there is one, else the file name made readable.
fn description_for(path: &Path) -> String {
    let sidecar = path.with_extension("json");
    if let Ok(bytes) = std::fs::read(&sidecar) {
        if let Ok(meta) = serde_json::from_slice::<Sidecar>(&bytes) {
            let text = [meta.title, meta.description, meta.tags.join(", ")]
                .into_iter()
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
                .join(". ");
            if !text.is_empty() {
                return text;
            }
        }
        tracing::warn!("{} is not a usable clip description", sidecar.display());
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem.split(['_', '-', '.', ' '])
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_from_sidecar_or_name() {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("ocean_waves-at_sunset_1234.mp4");
        assert_eq!(description_for(&clip), "ocean waves at sunset");
        std::fs::write(
            dir.path().join("cat.json"),
            r#"{"description": "a cat purring on a sofa", "tags": ["cat", "pet"]}"#,
        )
        .unwrap();
        assert_eq!(
            description_for(&dir.path().join("cat.mp4")),
            "a cat purring on a sofa. cat, pet"
        );
    }

    #[tokio::test]
    async fn empty_and_missing_folders_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a clip").unwrap();
        let request = FootageRequest {
            sentence_terms: vec![],
            sentence_secs: vec![],
            width: 1080,
            height: 1920,
            fps: 30,
        };
        let cancel = CancellationToken::new();
        let err = LocalSource::new(vec![dir.path().to_path_buf()])
            .find(&request, &cancel)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has no videos") && err.contains("--footage-dir"),
            "{err}"
        );
        let err = LocalSource::new(vec![dir.path().join("nope")])
            .find(&request, &cancel)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
