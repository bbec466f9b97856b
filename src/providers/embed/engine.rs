//! The MiniLM forward pass: word-piece tokenizer, BERT encoder, mean over each text's tokens,
//! L2 normalization — exactly what sentence-transformers computes for all-MiniLM-L6-v2
//! (`modules.json`: Transformer, Pooling, Normalize).
//!
//! On the CPU the encoder is our own ([`Encoder`]: 3–4× the sentences per CPU-second of
//! candle's on a 2-core AVX2 machine, by [`Precision`]); on CUDA, and under the device name
//! [`REFERENCE_DEVICE`], it is candle's `BertModel`, which the tests compare ours with.

use super::encoder::Encoder;
use super::{DIM, Embedding, Precision};
use crate::providers::ProviderError;
use crate::providers::device::candle_device;
use crate::providers::models::{ModelKind, unavailable};
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use std::path::Path;
use tokenizers::{PaddingStrategy, Tokenizer, TruncationParams};

/// Word pieces kept per text. sentence-transformers truncates this model at 256
/// (`sentence_bert_config.json`); the shipped `tokenizer.json` says 128, which would silently
/// drop the end of long narration sentences.
pub const MAX_TOKENS: usize = 256;

/// A device name for candle's `BertModel` on the CPU: the slower reference the CPU encoder is
/// checked against. Not a `models.device` setting (the config accepts "cpu" and "cuda" only).
pub const REFERENCE_DEVICE: &str = "cpu-candle";

/// A loaded model and its tokenizer; immutable, so one instance serves every task at once.
pub struct Engine {
    model: Model,
    tokenizer: Tokenizer,
}

enum Model {
    /// Ours, on each text's real tokens.
    Cpu(Encoder),
    /// candle's, on the batch padded to its longest text: CUDA, and the reference.
    Candle(BertModel, Device),
}

impl Engine {
    /// Loads the weights, config and tokenizer from `dir` onto `device` ("cpu", "cuda" or
    /// [`REFERENCE_DEVICE`]); `precision` applies to the CPU encoder. Anything missing or
    /// unreadable is reported with the path and the fetch command.
    pub fn load(
        dir: &Path,
        device_name: &str,
        precision: Precision,
    ) -> Result<Engine, ProviderError> {
        let reference = device_name == REFERENCE_DEVICE;
        let device = candle_device(if reference { "cpu" } else { device_name })?;
        for file in ModelKind::MiniLm.key_files() {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(unavailable(
                    ModelKind::MiniLm,
                    &format!("{} is missing", path.display()),
                ));
            }
        }
        let corrupt = |path: &Path, e: &dyn std::fmt::Display| {
            unavailable(
                ModelKind::MiniLm,
                &format!("{} cannot be loaded ({e})", path.display()),
            )
        };

        let config_path = dir.join("config.json");
        let config: Config = std::fs::read(&config_path)
            .map_err(|e| corrupt(&config_path, &e))
            .and_then(|raw| serde_json::from_slice(&raw).map_err(|e| corrupt(&config_path, &e)))?;
        if config.hidden_size != DIM {
            return Err(corrupt(
                &config_path,
                &format!("hidden_size {} where {DIM} is needed", config.hidden_size),
            ));
        }

        let weights_path = dir.join("model.safetensors");
        // Read into memory rather than memory-mapped: mapping is `unsafe` (the file could change
        // under us) and saves nothing here, since candle copies every F32 tensor on CPU anyway.
        let weights = std::fs::read(&weights_path).map_err(|e| corrupt(&weights_path, &e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device)
            .map_err(|e| corrupt(&weights_path, &e))?;
        let model = if device.is_cpu() && !reference && Encoder::supports(&config) {
            Encoder::load(vb, &config, precision).map(Model::Cpu)
        } else {
            // The checkpoint's names have no `bert.` prefix; `BertModel::load` looks for one
            // and falls back to the bare names.
            BertModel::load(vb, &config).map(|m| Model::Candle(m, device))
        }
        .map_err(|e| corrupt(&weights_path, &e))?;

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| corrupt(&tokenizer_path, &e))?;
        // The file pads every text to 128 tokens: padding to the batch's longest text instead
        // does 5–10× less work on narration-sized sentences, and the mask makes it exact.
        let mut padding = tokenizer.get_padding().cloned().unwrap_or_default();
        padding.strategy = PaddingStrategy::BatchLongest;
        padding.pad_to_multiple_of = None;
        tokenizer.with_padding(Some(padding));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| corrupt(&tokenizer_path, &e))?;

        Ok(Engine { model, tokenizer })
    }

    /// One forward pass over `texts` (the caller keeps batches small); blocking, CPU-heavy.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, ProviderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| failed(&e))?;
        let len = encodings.first().map_or(0, |e| e.len());
        let mut ids = Vec::with_capacity(texts.len() * len);
        let mut mask = Vec::with_capacity(texts.len() * len);
        for encoding in &encodings {
            if encoding.len() != len {
                return Err(failed(&"the tokenizer did not pad the batch to one length"));
            }
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        match &self.model {
            Model::Cpu(encoder) => packed(encoder, &ids, &mask, len),
            Model::Candle(model, device) => padded(model, device, ids, mask, (texts.len(), len)),
        }
        .map_err(|e| failed(&e))
    }
}

/// The CPU encoder on each text's real tokens only (padding is cut off, not masked), then the
/// mean over those tokens and the L2 normalization.
fn packed(
    encoder: &Encoder,
    ids: &[u32],
    mask: &[u32],
    len: usize,
) -> candle_core::Result<Vec<Embedding>> {
    let mut texts = Vec::with_capacity(ids.len() / len.max(1));
    for (ids, mask) in ids.chunks(len.max(1)).zip(mask.chunks(len.max(1))) {
        // The tokenizer pads on the right, so a text's tokens are the mask's leading ones.
        let real = mask.iter().take_while(|&&m| m == 1).count();
        if mask[real..].iter().any(|&m| m != 0) {
            candle_core::bail!("the attention mask is not a run of tokens then padding");
        }
        texts.push(&ids[..real]);
    }
    encoder.forward(&texts, |hidden| mean_pooled(&texts, hidden))
}

/// Each text's mean over its tokens' rows of `hidden` (texts packed one after another),
/// normalized to unit length.
fn mean_pooled(texts: &[&[u32]], hidden: &[f32]) -> Vec<Embedding> {
    let mut rows = hidden.chunks_exact(DIM);
    let mut out = Vec::with_capacity(texts.len());
    for text in texts {
        let mut mean = [0f32; DIM];
        for row in rows.by_ref().take(text.len()) {
            mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
        }
        // The clamps of sentence-transformers (1e-9 tokens, 1e-12 norm): an empty text
        // would otherwise divide by zero.
        let count = (text.len() as f32).max(1e-9);
        mean.iter_mut().for_each(|m| *m /= count);
        let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        mean.iter_mut().for_each(|m| *m /= norm);
        out.push(mean);
    }
    out
}

/// candle's `BertModel` on the batch padded to its longest text, padding masked out.
fn padded(
    model: &BertModel,
    device: &Device,
    ids: Vec<u32>,
    mask: Vec<u32>,
    shape: (usize, usize),
) -> candle_core::Result<Vec<Embedding>> {
    let ids = Tensor::from_vec(ids, shape, device)?;
    let mask = Tensor::from_vec(mask, shape, device)?;
    // A single segment: every token type is 0.
    let token_types = ids.zeros_like()?;
    // [batch, tokens, DIM]; the mask keeps real tokens from attending to padding.
    let hidden = model.forward(&ids, &token_types, Some(&mask))?;

    // Mean over real tokens only, so a text's vector does not depend on how much padding
    // its batch-mates forced on it. Clamps as sentence-transformers does (1e-9, 1e-12).
    let weights = mask.to_dtype(DTYPE)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&weights)?.sum(1)?;
    let counts = weights.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    let unit = mean.broadcast_div(&norms)?;

    unit.to_vec2::<f32>()?
        .into_iter()
        .map(|row| {
            Embedding::try_from(row.as_slice())
                .map_err(|_| candle_core::Error::Msg(format!("{} values, not {DIM}", row.len())))
        })
        .collect()
}

/// A failure inside a loaded model: not the user's settings and not worth a retry.
fn failed(e: &dyn std::fmt::Display) -> ProviderError {
    ProviderError::Invalid {
        provider: ModelKind::MiniLm.label().into(),
        message: format!("embedding failed: {e}"),
    }
}
