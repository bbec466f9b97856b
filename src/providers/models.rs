//! Local model files: where they live, whether they are whole, and loading each one exactly
//! once per process (`OnceModel`), off the async runtime.

use super::ProviderError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OnceCell;

/// The command that installs or repairs the models; quoted in every "missing model" error.
pub const FETCH_COMMAND: &str = "./scripts/fetch-models.sh";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Llm,
    Piper,
    Whisper,
    MiniLm,
}

impl ModelKind {
    pub const ALL: [ModelKind; 4] = [
        ModelKind::Llm,
        ModelKind::Piper,
        ModelKind::Whisper,
        ModelKind::MiniLm,
    ];

    /// Folder under the models directory, as laid out by the fetch script.
    pub fn folder(self) -> &'static str {
        match self {
            ModelKind::Llm => "smollm2",
            ModelKind::Piper => "piper",
            ModelKind::Whisper => "whisper-base",
            ModelKind::MiniLm => "minilm",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ModelKind::Llm => "SmolLM2-135M-Instruct (local LLM)",
            ModelKind::Piper => "Piper en_US-joe-medium (voice)",
            ModelKind::Whisper => "Whisper base (speech recognition)",
            ModelKind::MiniLm => "all-MiniLM-L6-v2 (embeddings)",
        }
    }

    /// The file a loader opens first (the weights), inside `models_dir`.
    pub fn main_file(self, models_dir: &Path) -> PathBuf {
        models_dir.join(self.folder()).join(self.key_files()[0])
    }

    /// The files a loader opens, relative to the model's folder.
    pub fn key_files(self) -> &'static [&'static str] {
        match self {
            ModelKind::Llm => &["SmolLM2-135M-Instruct.Q4_1.gguf"],
            ModelKind::Piper => &["en_US-joe-medium.onnx", "en_US-joe-medium.onnx.json"],
            ModelKind::Whisper => &["model.bin", "config.json", "tokenizer.json"],
            ModelKind::MiniLm => &["model.safetensors", "config.json", "tokenizer.json"],
        }
    }
}

/// `$REELFORGE_MODELS_DIR`, else `$XDG_DATA_HOME/reelforge/models`, else
/// `~/.local/share/reelforge/models` — the same rule as the fetch script.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("REELFORGE_MODELS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("reelforge").join("models")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelStatus {
    Present,
    Missing(String),
    Corrupt(String),
}

/// Checks a model folder against the manifest the fetch script wrote (file sizes).
pub fn status(models_dir: &Path, kind: ModelKind) -> ModelStatus {
    let dir = models_dir.join(kind.folder());
    for file in kind.key_files() {
        if !dir.join(file).is_file() {
            return ModelStatus::Missing(format!("{} is missing", dir.join(file).display()));
        }
    }
    let Ok(manifest) = std::fs::read_to_string(dir.join(".manifest")) else {
        // A folder laid out by hand (no manifest) is trusted: the loader will say if not.
        return ModelStatus::Present;
    };
    for line in manifest.lines() {
        let Some((size, file)) = line.split_once(' ') else {
            continue;
        };
        let path = dir.join(file);
        match std::fs::metadata(&path) {
            Err(_) => return ModelStatus::Missing(format!("{} is missing", path.display())),
            Ok(meta) if size.parse::<u64>().ok() != Some(meta.len()) => {
                return ModelStatus::Corrupt(format!(
                    "{} has {} bytes, expected {size}",
                    path.display(),
                    meta.len()
                ));
            }
            Ok(_) => {}
        }
    }
    ModelStatus::Present
}

/// The folder of an installed model under the default models folder, or a message naming
/// what is wrong and the fetch command (tests and benchmarks fail with it, never skip).
pub fn installed(kind: ModelKind) -> Result<PathBuf, String> {
    let models = default_models_dir();
    match status(&models, kind) {
        ModelStatus::Present => Ok(models.join(kind.folder())),
        ModelStatus::Missing(why) | ModelStatus::Corrupt(why) => Err(format!(
            "the {} model is not usable ({why}); install it with {FETCH_COMMAND}",
            kind.label()
        )),
    }
}

/// The error a stage reports when its model is not usable.
pub fn unavailable(kind: ModelKind, why: &str) -> ProviderError {
    ProviderError::Invalid {
        provider: kind.label().into(),
        message: format!("{why}; install the models with {FETCH_COMMAND}"),
    }
}

/// One model load, as reported to the user: the time it took, 0 when already loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub model: String,
    pub load_ms: u64,
}

/// A model loaded on first use and kept for the life of the process, shared by every task.
pub struct OnceModel<T> {
    name: String,
    cell: OnceCell<Arc<T>>,
}

impl<T: Send + Sync + 'static> OnceModel<T> {
    pub fn new(name: impl Into<String>) -> Self {
        OnceModel {
            name: name.into(),
            cell: OnceCell::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model, loading it on a blocking thread the first time; concurrent callers wait for
    /// the same load. The second value is what to report (`load_ms` 0 after the first time).
    pub async fn get<F>(&self, load: F) -> Result<(Arc<T>, Loaded), ProviderError>
    where
        F: FnOnce() -> Result<T, ProviderError> + Send + 'static,
    {
        let mut load_ms = 0;
        let model = self
            .cell
            .get_or_try_init(|| async {
                let started = Instant::now();
                let model = tokio::task::spawn_blocking(load).await.map_err(|e| {
                    ProviderError::Invalid {
                        provider: self.name.clone(),
                        message: format!("model loader crashed: {e}"),
                    }
                })??;
                load_ms = started.elapsed().as_millis() as u64;
                tracing::info!(model = %self.name, load_ms, "model loaded");
                Ok::<_, ProviderError>(Arc::new(model))
            })
            .await?
            .clone();
        Ok((
            model,
            Loaded {
                model: self.name.clone(),
                load_ms,
            },
        ))
    }

    pub fn is_loaded(&self) -> bool {
        self.cell.initialized()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn loads_once_and_reports_zero_after() {
        let model = OnceModel::<u32>::new("test");
        let loads = Arc::new(AtomicU32::new(0));
        for round in 0..3 {
            let counter = loads.clone();
            let (value, loaded) = model
                .get(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    Ok(7)
                })
                .await
                .unwrap();
            assert_eq!(*value, 7);
            if round == 0 {
                assert!(loaded.load_ms >= 20);
            } else {
                assert_eq!(loaded.load_ms, 0);
            }
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn status_reads_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            status(dir.path(), ModelKind::Llm),
            ModelStatus::Missing(_)
        ));
        let folder = dir.path().join("smollm2");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("SmolLM2-135M-Instruct.Q4_1.gguf"), b"12345").unwrap();
        std::fs::write(
            folder.join(".manifest"),
            "5 SmolLM2-135M-Instruct.Q4_1.gguf\n",
        )
        .unwrap();
        assert_eq!(status(dir.path(), ModelKind::Llm), ModelStatus::Present);
        std::fs::write(folder.join("SmolLM2-135M-Instruct.Q4_1.gguf"), b"123").unwrap();
        assert!(matches!(
            status(dir.path(), ModelKind::Llm),
            ModelStatus::Corrupt(_)
        ));
    }
}
