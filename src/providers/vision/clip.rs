//! `ClipScorer`: cosine of CLIP image and text embeddings. The model is loaded once per
//! process per folder and device, runs in batches on the blocking pool, and every embedding
//! is cached by content (keyframe bytes or text, with the model's fingerprint), so scoring
//! the same footage again runs no model at all.

use super::engine::Engine;
use super::{FILES, LABEL, VisionError, read_config};
use crate::providers::ProviderError;
use crate::providers::models::{Loaded, OnceModel};
use crate::store::{Cache, CacheKey};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Keyframes per forward pass: a ViT-B/32 image costs ~4 GFLOP, so 16 keep a batch under a
/// second or two on a few cores, and a cancelled run finishes little in the background.
pub const IMAGE_BATCH: usize = 16;
/// Texts per forward pass: CLIP's text tower is small and sentences are short.
pub const TEXT_BATCH: usize = 64;

const PROVIDER: &str = "clip";
const IMAGE_KIND: &str = "clip-image";
const TEXT_KIND: &str = "clip-text";

type SharedModel = Arc<OnceModel<Engine>>;

/// What a cached vector must belong to: the model files, the embedding width; and the
/// keyframe size the model takes.
#[derive(Clone)]
struct Identity {
    id: String,
    dim: usize,
    image_size: usize,
}

/// One thing to embed. A call holds one kind only, so a batch is all images or all texts.
enum Input {
    Image { path: PathBuf, bytes: Vec<u8> },
    Text(String),
}

/// A distinct input of a call, with every position it fills in the reply.
struct Pending {
    input: Input,
    /// What the cache key is made of: the keyframe's hash or the text.
    content: String,
    positions: Vec<usize>,
    key: Option<CacheKey>,
}

pub struct ClipScorer {
    dir: PathBuf,
    device: String,
    cache: Option<Cache>,
    model: SharedModel,
    identity: OnceLock<Identity>,
    images_embedded: AtomicU64,
    texts_embedded: AtomicU64,
}

impl ClipScorer {
    /// `dir` holds the Hugging Face files; `device` is "cpu" or "cuda". Nothing is read
    /// until the first call.
    pub fn new(dir: PathBuf, device: String, cache: Option<Cache>) -> ClipScorer {
        // One load per folder and device for the whole process, however many scorers the
        // wiring, CLI commands and tests create.
        static MODELS: LazyLock<Mutex<HashMap<(PathBuf, String), SharedModel>>> =
            LazyLock::new(Mutex::default);
        let canonical = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        let model = MODELS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((canonical, device.clone()))
            .or_insert_with(|| Arc::new(OnceModel::new(LABEL)))
            .clone();
        ClipScorer {
            dir,
            device,
            cache,
            model,
            identity: OnceLock::new(),
            images_embedded: AtomicU64::new(0),
            texts_embedded: AtomicU64::new(0),
        }
    }

    /// Keyframes this instance ran through the model (cache hits and repeats not counted).
    pub fn images_embedded(&self) -> u64 {
        self.images_embedded.load(Ordering::Relaxed)
    }

    /// Texts this instance ran through the model (cache hits and repeats not counted).
    pub fn texts_embedded(&self) -> u64 {
        self.texts_embedded.load(Ordering::Relaxed)
    }

    /// Loads the model now; `load_ms` is 0 once it is loaded.
    pub async fn warm_up(&self) -> Result<Loaded, ProviderError> {
        Ok(self.engine().await?.1)
    }

    async fn engine(&self) -> Result<(Arc<Engine>, Loaded), ProviderError> {
        let (dir, device) = (self.dir.clone(), self.device.clone());
        self.model.get(move || Engine::load(&dir, &device)).await
    }

    /// The side, in pixels, of the square keyframes the model takes.
    pub async fn image_size(&self) -> Result<u32, ProviderError> {
        let size = self.identity().await?.image_size;
        Ok(u32::try_from(size).expect("invariant: config caps the image size"))
    }

    /// `scores[image][text]`: the cosine of each keyframe (a PPM at [`Self::image_size`])
    /// with each text, in [-1, 1]. Stops with `Cancelled` between batches.
    pub async fn score(
        &self,
        images: &[PathBuf],
        texts: &[&str],
        cancel: &CancellationToken,
    ) -> Result<Vec<Vec<f32>>, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        if images.is_empty() || texts.is_empty() {
            return Ok(vec![Vec::new(); images.len()]);
        }
        let mut frames = Vec::with_capacity(images.len());
        for path in images {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|e| VisionError::Image {
                    path: path.clone(),
                    why: e.to_string(),
                })?;
            frames.push(Input::Image {
                path: path.clone(),
                bytes,
            });
        }
        let seen = self.embed(frames, cancel).await?;
        let said = texts.iter().map(|t| Input::Text(t.to_string())).collect();
        let said = self.embed(said, cancel).await?;
        Ok(seen
            .iter()
            .map(|image| {
                said.iter()
                    .map(|text| dot(image, text).clamp(-1.0, 1.0))
                    .collect()
            })
            .collect())
    }

    async fn identity(&self) -> Result<Identity, ProviderError> {
        if let Some(known) = self.identity.get() {
            return Ok(known.clone());
        }
        let dir = self.dir.clone();
        let found = on_blocking_pool(move || {
            let config = read_config(&dir)?;
            Ok(Identity {
                id: fingerprint(&dir)?,
                dim: config.text_config.projection_dim,
                image_size: config.image_size,
            })
        })
        .await?;
        Ok(self.identity.get_or_init(|| found).clone())
    }

    /// Unit vectors for `inputs` (all of one kind), in order: repeats run once, cached
    /// ones not at all.
    async fn embed(
        &self,
        inputs: Vec<Input>,
        cancel: &CancellationToken,
    ) -> Result<Vec<Vec<f32>>, ProviderError> {
        let count = inputs.len();
        let mut distinct: Vec<Pending> = Vec::new();
        let mut by_content: HashMap<String, usize> = HashMap::new();
        for (position, input) in inputs.into_iter().enumerate() {
            let content = match &input {
                Input::Image { bytes, .. } => blake3::hash(bytes).to_hex().to_string(),
                Input::Text(text) => text.clone(),
            };
            let slot = *by_content.entry(content.clone()).or_insert(distinct.len());
            if slot == distinct.len() {
                distinct.push(Pending {
                    input,
                    content,
                    positions: Vec::new(),
                    key: None,
                });
            }
            distinct[slot].positions.push(position);
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; count];
        let todo = self.take_cached(distinct, &mut out).await?;
        if !todo.is_empty() {
            let (engine, _) = self.engine().await?;
            let (size, counter) = match todo[0].input {
                Input::Image { .. } => (IMAGE_BATCH, &self.images_embedded),
                Input::Text(_) => (TEXT_BATCH, &self.texts_embedded),
            };
            let mut todo = todo.into_iter();
            loop {
                let batch: Vec<Pending> = todo.by_ref().take(size).collect();
                if batch.is_empty() {
                    break;
                }
                let (engine, cache) = (engine.clone(), self.cache.clone());
                let job = on_blocking_pool(move || run_batch(&engine, cache.as_ref(), batch));
                let (batch, vectors) = tokio::select! {
                    // The batch in flight still finishes, and is cached, in the background.
                    _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                    done = job => done?,
                };
                counter.fetch_add(batch.len() as u64, Ordering::Relaxed);
                for (item, vector) in batch.into_iter().zip(vectors) {
                    for p in item.positions {
                        out[p] = Some(vector.clone());
                    }
                }
            }
        }
        out.into_iter()
            .map(|v| v.ok_or_else(|| VisionError::Inference("a vector is missing".into()).into()))
            .collect()
    }

    /// Fills `out` from the cache; returns what is still to run, each with its cache key.
    async fn take_cached(
        &self,
        distinct: Vec<Pending>,
        out: &mut [Option<Vec<f32>>],
    ) -> Result<Vec<Pending>, ProviderError> {
        let Some(cache) = self.cache.clone() else {
            return Ok(distinct);
        };
        let Identity { id, dim, .. } = self.identity().await?;
        // sled reads stay off the async workers.
        let looked_up = on_blocking_pool(move || {
            let mut found = Vec::with_capacity(distinct.len());
            for mut item in distinct {
                let kind = match item.input {
                    Input::Image { .. } => IMAGE_KIND,
                    Input::Text(_) => TEXT_KIND,
                };
                let key = CacheKey::new(kind, PROVIDER, &id, &item.content);
                let hit = cache.get(&key).and_then(|v| decode(&v.bytes, dim));
                item.key = Some(key);
                found.push((item, hit));
            }
            Ok(found)
        })
        .await?;
        let mut todo = Vec::new();
        for (item, hit) in looked_up {
            match hit {
                Some(vector) => item
                    .positions
                    .iter()
                    .for_each(|&p| out[p] = Some(vector.clone())),
                None => todo.push(item),
            }
        }
        Ok(todo)
    }
}

/// One forward pass, then each vector cached with its share of the batch's time.
fn run_batch(
    engine: &Engine,
    cache: Option<&Cache>,
    batch: Vec<Pending>,
) -> Result<(Vec<Pending>, Vec<Vec<f32>>), VisionError> {
    let started = Instant::now();
    let mut images = Vec::new();
    let mut texts = Vec::new();
    for item in &batch {
        match &item.input {
            Input::Image { path, bytes } => images.push((path.as_path(), bytes.as_slice())),
            Input::Text(text) => texts.push(text.as_str()),
        }
    }
    // One of the two is empty: a batch holds one kind.
    let mut vectors = engine.embed_images(&images)?;
    vectors.extend(engine.embed_texts(&texts)?);
    let cost_ms = started.elapsed().as_millis() as u64 / batch.len().max(1) as u64;
    for (item, vector) in batch.iter().zip(&vectors) {
        if let (Some(cache), Some(key)) = (cache, &item.key) {
            let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
            // A full disk must not fail the stage: the vector is still returned.
            if let Err(e) = cache.put(key, &bytes, cost_ms) {
                tracing::warn!(error = %e, "cannot cache a CLIP embedding");
            }
        }
    }
    Ok((batch, vectors))
}

/// A cached vector, or `None` for anything but `dim` finite floats (recomputed, then).
fn decode(bytes: &[u8], dim: usize) -> Option<Vec<f32>> {
    if bytes.len() != dim * 4 {
        return None;
    }
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    v.iter().all(|x| x.is_finite()).then_some(v)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

async fn on_blocking_pool<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VisionError> + Send + 'static,
) -> Result<T, ProviderError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done.map_err(ProviderError::from),
        Err(e) => Err(VisionError::Inference(format!("worker thread crashed: {e}")).into()),
    }
}

/// Bytes of the weights hashed from each end: the start holds the safetensors header (every
/// tensor's name, type, shape and offset), the end the last layers' values.
const ENDS: u64 = 1 << 20;

/// Identifies the model files for cache keys without hashing 600 MB on every start: config
/// and tokenizer in full, the weights' length and both ends.
fn fingerprint(dir: &Path) -> Result<String, VisionError> {
    let mut hasher = blake3::Hasher::new();
    for name in [FILES[1], FILES[2]] {
        let path = dir.join(name);
        let text = std::fs::read(&path).map_err(|e| VisionError::bad(&path, e))?;
        hasher
            .update(&(text.len() as u64).to_le_bytes())
            .update(&text);
    }
    let path = dir.join(FILES[0]);
    let ends = || -> std::io::Result<(u64, Vec<u8>)> {
        let mut file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        let take = ENDS.min(len);
        let mut both = vec![0; 2 * take as usize];
        let (head, tail) = both.split_at_mut(take as usize);
        file.read_exact(head)?;
        file.seek(SeekFrom::Start(len - take))?;
        file.read_exact(tail)?;
        Ok((len, both))
    };
    let (len, both) = ends().map_err(|e| VisionError::bad(&path, e))?;
    hasher.update(&len.to_le_bytes()).update(&both);
    Ok(format!("clip/{}", &hasher.finalize().to_hex()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_vectors_must_fit() {
        let v = [0.6f32, 0.8];
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(decode(&bytes, 2), Some(v.to_vec()));
        assert_eq!(decode(&bytes, 3), None);
        let nan: Vec<u8> = [f32::NAN, 0.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(decode(&nan, 2), None);
    }

    #[tokio::test]
    async fn nothing_to_score_needs_no_model() {
        let scorer = ClipScorer::new("/nonexistent/clip".into(), "cpu".into(), None);
        let none = scorer
            .score(&[], &["a cat"], &CancellationToken::new())
            .await
            .unwrap();
        assert!(none.is_empty());
        let rows = scorer
            .score(&["a.ppm".into()], &[], &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(rows, vec![Vec::<f32>::new()]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = scorer.score(&["a.ppm".into()], &["x"], &cancel).await;
        assert!(matches!(err, Err(ProviderError::Cancelled)));
        let err = scorer.warm_up().await.unwrap_err().to_string();
        assert!(err.contains("select.clip_model"), "{err}");
    }
}
