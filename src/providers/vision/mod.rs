//! Image–text scoring with CLIP: how well a clip's keyframes show what a sentence says.
//!
//! Optional: no package ships CLIP weights, so it runs only when the user points
//! `select.clip_model` at a folder with a Hugging Face CLIP checkpoint (`model.safetensors`,
//! `config.json`, `tokenizer.json`). Text-side matching with MiniLM stays the default.

mod clip;
mod config;
mod engine;

pub use clip::{ClipScorer, IMAGE_BATCH, TEXT_BATCH};
pub use config::{clip_config, read_config};

use super::ProviderError;
use std::path::{Path, PathBuf};

/// The setting every error points at.
pub const CONFIG_KEY: &str = "select.clip_model";

/// The files a CLIP folder must hold, weights first.
pub const FILES: [&str; 3] = ["model.safetensors", "config.json", "tokenizer.json"];

/// The name reported for model loads and in messages.
pub const LABEL: &str = "CLIP (image-text scoring)";

#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error(
        "the CLIP folder {dir} ({key}) does not exist: put a Hugging Face CLIP model there \
         (model.safetensors, config.json, tokenizer.json; e.g. openai/clip-vit-base-patch32) \
         or set {key} = \"\" to match footage by text only",
        key = CONFIG_KEY
    )]
    NoFolder { dir: PathBuf },
    #[error(
        "{path} is missing: the CLIP folder named by {key} needs model.safetensors, config.json \
         and tokenizer.json with Hugging Face CLIP names; add it or set {key} = \"\"",
        key = CONFIG_KEY
    )]
    Missing { path: PathBuf },
    #[error(
        "{path} cannot be loaded as CLIP ({why}); replace it with the file of a Hugging Face \
         CLIP model in the folder named by {key}, or set {key} = \"\"",
        key = CONFIG_KEY
    )]
    Bad { path: PathBuf, why: String },
    #[error("keyframe {path} cannot be scored: {why}")]
    Image { path: PathBuf, why: String },
    #[error("CLIP inference failed: {0}")]
    Inference(String),
    #[error("cancelled")]
    Cancelled,
}

impl VisionError {
    pub(crate) fn bad(path: &Path, why: impl std::fmt::Display) -> VisionError {
        VisionError::Bad {
            path: path.to_path_buf(),
            why: why.to_string(),
        }
    }
}

/// The seam to the pipeline: everything but cancellation is the user's folder or input, so
/// retrying cannot help.
impl From<VisionError> for ProviderError {
    fn from(err: VisionError) -> ProviderError {
        match err {
            VisionError::Cancelled => ProviderError::Cancelled,
            other => ProviderError::Invalid {
                provider: LABEL.into(),
                message: other.to_string(),
            },
        }
    }
}

/// Checks that `dir` exists and holds the three files, without reading them: run at start,
/// so a typo in `select.clip_model` is reported before any task spends time.
pub fn check_folder(dir: &Path) -> Result<(), VisionError> {
    if !dir.is_dir() {
        return Err(VisionError::NoFolder {
            dir: dir.to_path_buf(),
        });
    }
    match FILES.iter().map(|f| dir.join(f)).find(|p| !p.is_file()) {
        Some(path) => Err(VisionError::Missing { path }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_check_names_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let gone = check_folder(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(gone.contains("nope") && gone.contains(CONFIG_KEY), "{gone}");
        std::fs::write(dir.path().join("model.safetensors"), b"x").unwrap();
        std::fs::write(dir.path().join("config.json"), b"{}").unwrap();
        let missing = check_folder(dir.path()).unwrap_err().to_string();
        assert!(missing.contains("tokenizer.json is missing"), "{missing}");
        assert!(missing.contains(CONFIG_KEY), "{missing}");
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        assert!(check_folder(dir.path()).is_ok());
    }

    #[test]
    fn only_cancellation_stays_cancellation() {
        assert!(matches!(
            ProviderError::from(VisionError::Cancelled),
            ProviderError::Cancelled
        ));
        let err = ProviderError::from(VisionError::Inference("boom".into()));
        assert!(!err.is_transient());
        assert!(err.to_string().contains("boom"));
    }
}
