//! `MiniLm`: all-MiniLM-L6-v2 sentence embeddings, loaded once per process, run in batches on
//! a blocking thread, each text's vector cached by content.

use super::engine::{Engine, MAX_TOKENS};
use super::{Embedder, Embedding, Precision, from_bytes, to_bytes};
use crate::providers::ProviderError;
use crate::providers::models::{Loaded, ModelKind, OnceModel, unavailable};
use crate::store::{Cache, CacheKey};
use async_trait::async_trait;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Texts per forward pass: large enough to keep the matrix kernels busy, small enough that
/// a cancelled call leaves little work finishing in the background and memory stays flat.
pub const BATCH: usize = 32;

const PROVIDER: &str = "minilm";
const CACHE_KIND: &str = "embedding";

type SharedModel = Arc<OnceModel<Engine>>;

/// The process-wide model for a folder, device and precision: every `MiniLm` built on the same
/// folder shares one load, so actors, CLI commands and tests never load the weights twice.
fn shared_model(dir: &Path, device: &str, precision: Precision) -> SharedModel {
    type Key = (PathBuf, String, Precision);
    static MODELS: LazyLock<Mutex<HashMap<Key, SharedModel>>> = LazyLock::new(Mutex::default);
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    // A panic elsewhere while holding the lock leaves the map itself intact.
    let mut models = MODELS.lock().unwrap_or_else(PoisonError::into_inner);
    models
        .entry((dir, device.to_string(), precision))
        .or_insert_with(|| Arc::new(OnceModel::new(ModelKind::MiniLm.label())))
        .clone()
}

pub struct MiniLm {
    model_dir: PathBuf,
    device: String,
    /// What the engine computes in: the configured precision on the CPU, `f32` elsewhere.
    precision: Precision,
    cache: Option<Cache>,
    model: SharedModel,
    /// Fingerprint of the model files for cache keys, computed on first cached use.
    model_id: OnceLock<String>,
    texts_embedded: AtomicU64,
}

/// One distinct text of a call, with every position it fills in the reply.
struct Pending {
    text: String,
    positions: Vec<usize>,
    key: Option<CacheKey>,
}

impl MiniLm {
    /// `device` is "cpu" or "cuda"; nothing is read until the first `warm_up` or `embed`. The
    /// CPU encoder runs in the default [`Precision`]; see [`MiniLm::with_precision`].
    pub fn new(model_dir: PathBuf, device: String, cache: Option<Cache>) -> MiniLm {
        MiniLm::with_precision(model_dir, device, Precision::default(), cache)
    }

    /// As [`MiniLm::new`], with the CPU encoder's linear layers in `precision`.
    pub fn with_precision(
        model_dir: PathBuf,
        device: String,
        precision: Precision,
        cache: Option<Cache>,
    ) -> MiniLm {
        let precision = if device == "cpu" {
            precision
        } else {
            Precision::F32
        };
        let model = shared_model(&model_dir, &device, precision);
        MiniLm {
            model_dir,
            device,
            precision,
            cache,
            model,
            model_id: OnceLock::new(),
            texts_embedded: AtomicU64::new(0),
        }
    }

    /// What the vectors are computed in (`f32` on any device but the CPU).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// How many texts this instance has run through the model (cache hits and duplicates
    /// within a call are not counted): what the cache saved is visible here.
    pub fn texts_embedded(&self) -> u64 {
        self.texts_embedded.load(Ordering::Relaxed)
    }

    async fn engine(&self) -> Result<(Arc<Engine>, Loaded), ProviderError> {
        let dir = self.model_dir.clone();
        let (device, precision) = (self.device.clone(), self.precision);
        self.model
            .get(move || Engine::load(&dir, &device, precision))
            .await
    }

    async fn model_id(&self) -> Result<String, ProviderError> {
        if let Some(id) = self.model_id.get() {
            return Ok(id.clone());
        }
        let dir = self.model_dir.clone();
        let files = blocking(move || fingerprint(&dir)).await?;
        // The two precisions' vectors differ in the fourth decimal: never mixed in one ranking.
        let id = format!("{files}/{}", self.precision.name());
        Ok(self.model_id.get_or_init(|| id).clone())
    }

    /// Splits `unique` into cache hits (written into `out`) and the texts still to embed, each
    /// given its cache key.
    async fn take_hits(
        &self,
        unique: Vec<Pending>,
        out: &mut [Option<Embedding>],
    ) -> Result<Vec<Pending>, ProviderError> {
        let Some(cache) = self.cache.clone() else {
            return Ok(unique);
        };
        let id = self.model_id().await?;
        // sled reads and decoding stay off the async workers: a script has hundreds of texts.
        let looked_up = blocking(move || {
            let found = unique.into_iter().map(|mut item| {
                let key = CacheKey::new(CACHE_KIND, PROVIDER, &id, &item.text);
                let hit = cache.get(&key).and_then(|value| from_bytes(&value.bytes));
                item.key = Some(key);
                (item, hit)
            });
            Ok(found.collect::<Vec<_>>())
        })
        .await?;
        let mut misses = Vec::new();
        for (item, hit) in looked_up {
            match hit {
                Some(vector) => item.positions.iter().for_each(|&p| out[p] = Some(vector)),
                None => misses.push(item),
            }
        }
        Ok(misses)
    }
}

#[async_trait]
impl Embedder for MiniLm {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn warm_up(&self) -> Result<Option<Loaded>, ProviderError> {
        let (_, loaded) = self.engine().await?;
        Ok(Some(loaded))
    }

    async fn embed(
        &self,
        texts: &[&str],
        cancel: &CancellationToken,
    ) -> Result<Vec<Embedding>, ProviderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        // A script repeats itself ("Subscribe!"): each distinct text is looked up and run once.
        let mut unique: Vec<Pending> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (position, &text) in texts.iter().enumerate() {
            let slot = *index.entry(text).or_insert_with(|| {
                unique.push(Pending {
                    text: text.to_string(),
                    positions: Vec::new(),
                    key: None,
                });
                unique.len() - 1
            });
            unique[slot].positions.push(position);
        }
        let distinct = unique.len();
        let mut out: Vec<Option<Embedding>> = vec![None; texts.len()];
        let mut pending = self.take_hits(unique, &mut out).await?;
        let computed = pending.len();

        if !pending.is_empty() {
            let (engine, _) = self.engine().await?;
            // Similar lengths in one batch waste less work on padding.
            pending.sort_by_key(|p| p.text.len());
            let mut pending = pending.into_iter().peekable();
            while pending.peek().is_some() {
                if cancel.is_cancelled() {
                    return Err(ProviderError::Cancelled);
                }
                let batch: Vec<Pending> = pending.by_ref().take(BATCH).collect();
                let job = blocking({
                    let (engine, cache) = (engine.clone(), self.cache.clone());
                    move || run_batch(&engine, cache.as_ref(), batch)
                });
                let (batch, vectors) = tokio::select! {
                    // The batch in flight still finishes (and is cached) in the background.
                    _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                    done = job => done?,
                };
                self.texts_embedded
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                for (item, vector) in batch.iter().zip(vectors) {
                    item.positions.iter().for_each(|&p| out[p] = Some(vector));
                }
            }
        }
        tracing::debug!(texts = texts.len(), distinct, computed, "embedded");
        out.into_iter()
            .map(|v| {
                v.ok_or_else(|| ProviderError::Invalid {
                    provider: ModelKind::MiniLm.label().into(),
                    message: "the model returned fewer vectors than texts".into(),
                })
            })
            .collect()
    }
}

/// One forward pass, then each vector cached with its share of the batch's time (what a later
/// hit saves). Returns the batch so its positions can be filled.
fn run_batch(
    engine: &Engine,
    cache: Option<&Cache>,
    batch: Vec<Pending>,
) -> Result<(Vec<Pending>, Vec<Embedding>), ProviderError> {
    let started = Instant::now();
    let texts: Vec<&str> = batch.iter().map(|p| p.text.as_str()).collect();
    let vectors = engine.embed(&texts)?;
    let cost_ms = started.elapsed().as_millis() as u64 / batch.len().max(1) as u64;
    if let Some(cache) = cache {
        for (item, vector) in batch.iter().zip(&vectors) {
            let Some(key) = &item.key else { continue };
            if let Err(e) = cache.put(key, &to_bytes(vector), cost_ms) {
                // A full disk must not fail the stage: the vector is still returned.
                tracing::warn!(error = %e, "cannot cache an embedding");
            }
        }
    }
    Ok((batch, vectors))
}

/// Runs blocking work (model, files, sled) on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProviderError> + Send + 'static,
) -> Result<T, ProviderError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ProviderError::Invalid {
            provider: ModelKind::MiniLm.label().into(),
            message: format!("embedding thread crashed: {e}"),
        })?
}

/// Bytes sampled from each end and the middle of the weights for the fingerprint.
const SAMPLE: u64 = 64 * 1024;

/// Identifies the model files for cache keys without reading 90 MB on every start: config and
/// tokenizer in full, the weights' size, their header (tensor names, shapes, offsets) and
/// samples of the weights themselves, so a fine-tuned checkpoint never reuses old vectors.
fn fingerprint(dir: &Path) -> Result<String, ProviderError> {
    let unreadable = |path: &Path, e: std::io::Error| {
        unavailable(
            ModelKind::MiniLm,
            &format!("{} cannot be read ({e})", path.display()),
        )
    };
    let mut hasher = blake3::Hasher::new();
    for name in ["config.json", "tokenizer.json"] {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e))?;
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let path = dir.join("model.safetensors");
    let sample = |file: &mut std::fs::File, at: u64, len: u64| -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0; len as usize];
        file.seek(SeekFrom::Start(at))?;
        file.read_exact(&mut buf)?;
        Ok(buf)
    };
    let mut file = std::fs::File::open(&path).map_err(|e| unreadable(&path, e))?;
    let len = file.metadata().map_err(|e| unreadable(&path, e))?.len();
    let take = SAMPLE.min(len);
    hasher.update(&len.to_le_bytes());
    for at in [0, (len - take) / 2, len - take] {
        hasher.update(&sample(&mut file, at, take).map_err(|e| unreadable(&path, e))?);
    }
    // The pooling recipe is part of the id: changing it must not reuse old vectors.
    Ok(format!(
        "all-MiniLM-L6-v2/{}/mean-l2-{MAX_TOKENS}",
        &hasher.finalize().to_hex()[..16]
    ))
}

#[cfg(test)]
mod tests {
    //! Behaviour that needs no real weights; the model itself is tested in `tests/embed.rs`.
    use super::*;
    use crate::providers::models::FETCH_COMMAND;
    use crate::store::Store;

    const CONFIG: &str = r#"{"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
        "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0}"#;

    /// A folder with every file present but weights that cannot load.
    fn broken_model() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), CONFIG).unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), "{}").unwrap();
        std::fs::write(
            dir.path().join("model.safetensors"),
            b"not a safetensors file",
        )
        .unwrap();
        dir
    }

    #[tokio::test]
    async fn missing_model_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let embedder = MiniLm::new(dir.path().join("minilm"), "cpu".into(), None);
        let err = embedder.warm_up().await.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, ProviderError::Invalid { .. }), "{message}");
        assert!(message.contains("minilm/model.safetensors"), "{message}");
        assert!(message.contains(FETCH_COMMAND), "{message}");
        // Nothing to embed needs no model, and a cancelled call stops before loading one.
        let none = embedder
            .embed(&[], &CancellationToken::new())
            .await
            .unwrap();
        assert!(none.is_empty());
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = embedder.embed(&["text"], &cancel).await.unwrap_err();
        assert!(matches!(err, ProviderError::Cancelled));
    }

    #[tokio::test]
    async fn corrupt_weights_name_the_file_and_the_fix() {
        let dir = broken_model();
        let embedder = MiniLm::new(dir.path().to_path_buf(), "cpu".into(), None);
        let message = embedder.warm_up().await.unwrap_err().to_string();
        assert!(
            message.contains("model.safetensors cannot be loaded"),
            "{message}"
        );
        assert!(message.contains(FETCH_COMMAND), "{message}");
        assert!(!embedder.model.is_loaded());
    }

    #[tokio::test]
    async fn cache_hits_skip_the_model_and_keep_input_order() {
        let dir = broken_model();
        let data = tempfile::tempdir().unwrap();
        let store = Store::open(data.path()).unwrap();
        let embedder = MiniLm::new(dir.path().to_path_buf(), "cpu".into(), Some(store.cache));
        let id = embedder.model_id().await.unwrap();
        assert!(
            id.starts_with("all-MiniLM-L6-v2/") && id.ends_with("/mean-l2-256/fixed16"),
            "{id}"
        );
        let (mut a, mut b) = ([0.0; super::super::DIM], [0.0; super::super::DIM]);
        (a[0], b[1]) = (1.0, 1.0);
        let key = |text: &str| CacheKey::new(CACHE_KIND, PROVIDER, &id, &text);
        let cache = embedder.cache.as_ref().unwrap();
        cache.put(&key("a"), &to_bytes(&a), 5).unwrap();
        cache.put(&key("b"), &to_bytes(&b), 5).unwrap();

        let got = embedder
            .embed(&["b", "a", "b"], &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(got, vec![b, a, b]);
        assert_eq!(embedder.texts_embedded(), 0);
        assert!(!embedder.model.is_loaded());
        // A miss must reach the model, which here cannot load.
        let err = embedder.embed(&["a", "c"], &CancellationToken::new()).await;
        assert!(err.is_err());

        // Another precision, or other weights, give another id, so their vectors never mix
        // with these.
        let exact = MiniLm::with_precision(dir.path().into(), "cpu".into(), Precision::F32, None);
        assert_eq!(
            exact.model_id().await.unwrap(),
            id.replace("/fixed16", "/f32")
        );
        std::fs::write(dir.path().join("model.safetensors"), b"other weights").unwrap();
        let other = MiniLm::new(dir.path().to_path_buf(), "cpu".into(), None);
        assert_ne!(other.model_id().await.unwrap(), id);
    }
}
