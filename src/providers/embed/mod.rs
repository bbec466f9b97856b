//! Sentence embeddings: one 384-dimensional unit vector per text, compared by cosine, used by
//! the `select` stage to match narration sentences with stock clips.

mod attention;
mod encoder;
mod engine;
mod fixed;
pub(crate) mod kernels;
mod linear;
pub mod minilm;
mod packed;

pub use minilm::{BATCH, MiniLm};

use super::ProviderError;
use super::models::Loaded;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

/// How the CPU encoder multiplies in its linear layers, ~85 % of its work (`models.embed_precision`;
/// CUDA always computes in `f32`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// 16-bit fixed point (see `fixed.rs`): ~1.3× the sentences per CPU-second of `f32`, with
    /// vectors at cosine ≥ 0.99999 of sentence-transformers' own.
    #[default]
    Fixed16,
    /// `f32` throughout: sentence-transformers' vectors to within float rounding.
    F32,
}

impl Precision {
    /// The names `models.embed_precision` accepts.
    pub const NAMES: [&str; 2] = ["fixed16", "f32"];

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fixed16 => "fixed16",
            Precision::F32 => "f32",
        }
    }

    pub fn from_name(name: &str) -> Option<Precision> {
        match name {
            "fixed16" => Some(Precision::Fixed16),
            "f32" => Some(Precision::F32),
            _ => None,
        }
    }
}

/// Width of every embedding (all-MiniLM-L6-v2's hidden size).
pub const DIM: usize = 384;

/// One sentence embedding, L2-normalized.
pub type Embedding = [f32; DIM];

#[async_trait]
pub trait Embedder: Send + Sync {
    /// Short provider name used in messages and cache keys, e.g. "minilm".
    fn name(&self) -> &str;
    /// Loads the model if it lives in this process (`None` for one that does not, such as a
    /// test double); `load_ms` is 0 once it is loaded.
    async fn warm_up(&self) -> Result<Option<Loaded>, ProviderError> {
        Ok(None)
    }
    /// One unit vector per text, in input order. Stops with [`ProviderError::Cancelled`]
    /// between batches once `cancel` fires.
    async fn embed(
        &self,
        texts: &[&str],
        cancel: &CancellationToken,
    ) -> Result<Vec<Embedding>, ProviderError>;
}

/// Cosine similarity of two embeddings. Both are unit vectors, so the dot product is the
/// cosine and no division is needed.
pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Little-endian bytes of an embedding, as stored in the cache (1 536 bytes).
pub(crate) fn to_bytes(v: &Embedding) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`to_bytes`]; `None` for anything that is not exactly one finite embedding,
/// so a damaged cache entry is recomputed instead of poisoning the clip ranking.
pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Embedding> {
    if bytes.len() != DIM * 4 {
        return None;
    }
    let mut v = [0f32; DIM];
    for (x, chunk) in v.iter_mut().zip(bytes.chunks_exact(4)) {
        *x = f32::from_le_bytes(chunk.try_into().ok()?);
        if !x.is_finite() {
            return None;
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(axis: usize) -> Embedding {
        let mut v = [0.0; DIM];
        v[axis] = 1.0;
        v
    }

    #[test]
    fn cosine_of_unit_vectors() {
        let a = unit(0);
        assert_eq!(cosine(&a, &a), 1.0);
        assert_eq!(cosine(&a, &unit(1)), 0.0);
        let mut neg = a;
        neg[0] = -1.0;
        assert_eq!(cosine(&a, &neg), -1.0);
        let mut diag = [0.0; DIM];
        diag[0] = std::f32::consts::FRAC_1_SQRT_2;
        diag[1] = std::f32::consts::FRAC_1_SQRT_2;
        assert!((cosine(&a, &diag) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }

    #[test]
    fn bytes_round_trip_and_reject_damage() {
        let mut v = [0.0; DIM];
        for (i, x) in v.iter_mut().enumerate() {
            *x = (i as f32 - 191.5) / 1000.0;
        }
        let bytes = to_bytes(&v);
        assert_eq!(bytes.len(), 1536);
        assert_eq!(from_bytes(&bytes), Some(v));
        assert_eq!(from_bytes(&bytes[..1532]), None);
        assert_eq!(from_bytes(&[bytes.clone(), vec![0; 4]].concat()), None);
        let mut nan = bytes;
        nan[..4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(from_bytes(&nan), None);
    }
}
