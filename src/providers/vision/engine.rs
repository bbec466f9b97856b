//! The CLIP forward passes: images (PPM keyframes at the model's size, normalized as CLIP was
//! trained) and texts (CLIP's tokenizer, pooled at the end-of-text token) projected into the
//! shared space and L2-normalized, so a dot product is their cosine.

use super::{FILES, VisionError, read_config};
use crate::providers::ProviderError;
use crate::providers::device::candle_device;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::clip::{ClipModel, div_l2_norm};
use std::path::Path;
use tokenizers::{Tokenizer, TruncationParams};

/// The per-channel statistics of CLIP's training images (its preprocessor_config.json).
const MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
const STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

/// The token CLIP pools the text at; its id is the largest of the vocabulary, which is what
/// candle's text transformer relies on (it pools at the arg-max id).
const END_TOKEN: &str = "<|endoftext|>";

/// A loaded model and its tokenizer; immutable, so one instance serves every task.
pub struct Engine {
    model: ClipModel,
    tokenizer: Tokenizer,
    device: Device,
    image_size: usize,
}

impl Engine {
    /// Loads `dir` onto `device`; each problem names the file and `select.clip_model`.
    pub fn load(dir: &Path, device: &str) -> Result<Engine, ProviderError> {
        let device = candle_device(device)?;
        super::check_folder(dir)?;
        let config = read_config(dir)?;

        let weights_path = dir.join(FILES[0]);
        let bad_weights = |e: &dyn std::fmt::Display| VisionError::bad(&weights_path, e);
        // Read rather than memory-mapped, as MiniLM does: mapping is `unsafe` and candle
        // copies every F32 tensor on the CPU anyway.
        let weights = std::fs::read(&weights_path).map_err(|e| bad_weights(&e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| bad_weights(&e))?;
        // candle draws a random class embedding when the tensor is absent: a checkpoint
        // without it (or with other names) would score noise, so it is refused instead.
        let class = "vision_model.embeddings.class_embedding";
        if !vb.contains_tensor(class) {
            return Err(bad_weights(&format!(
                "no tensor {class}: not a CLIP checkpoint with Hugging Face names"
            ))
            .into());
        }
        let model = ClipModel::new(vb, &config).map_err(|e| bad_weights(&e))?;

        let tokenizer_path = dir.join(FILES[2]);
        let bad_tokenizer = |e: &dyn std::fmt::Display| VisionError::bad(&tokenizer_path, e);
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| bad_tokenizer(&e))?;
        let max_tokens = config.text_config.max_position_embeddings;
        // Truncation keeps room for the start and end tokens the template adds.
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| bad_tokenizer(&e))?;
        tokenizer.with_padding(None);
        if tokenizer.get_vocab_size(true) > config.text_config.vocab_size {
            return Err(bad_tokenizer(&format!(
                "{} tokens where config.json's text_config.vocab_size is {}",
                tokenizer.get_vocab_size(true),
                config.text_config.vocab_size
            ))
            .into());
        }
        let end = tokenizer.token_to_id(END_TOKEN);
        let largest = tokenizer.get_vocab(true).into_values().max();
        let probe = tokenizer
            .encode("a photo", true)
            .map_err(|e| bad_tokenizer(&e))?;
        if end.is_none() || end != largest || probe.get_ids().last().copied() != end {
            return Err(bad_tokenizer(&format!(
                "it does not end texts with {END_TOKEN} as its largest id, where CLIP pools"
            ))
            .into());
        }

        Ok(Engine {
            model,
            tokenizer,
            device,
            image_size: config.image_size,
        })
    }

    /// One forward pass over PPM keyframes (the caller keeps batches small); blocking.
    pub fn embed_images(&self, images: &[(&Path, &[u8])]) -> Result<Vec<Vec<f32>>, VisionError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let size = self.image_size;
        let mut pixels = Vec::with_capacity(images.len() * 3 * size * size);
        for (path, bytes) in images {
            let image = ppm_pixels(bytes, size).map_err(|why| VisionError::Image {
                path: path.to_path_buf(),
                why,
            })?;
            pixels.extend(image);
        }
        let run = || {
            let batch = Tensor::from_vec(pixels, (images.len(), 3, size, size), &self.device)?;
            rows(&self.model.get_image_features(&batch)?)
        };
        run().map_err(|e| VisionError::Inference(e.to_string()))
    }

    /// One forward pass over `texts`, padded to the longest; blocking.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, VisionError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let failed = |e: &dyn std::fmt::Display| VisionError::Inference(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| failed(&e))?;
        let len = encodings.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        // Padding with id 0 is invisible: the causal mask keeps the end token from seeing
        // what follows it, and pooling picks the end token (the largest id), not the pad.
        let mut ids = Vec::with_capacity(texts.len() * len);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            ids.resize(ids.len() + len - encoding.len(), 0);
        }
        let run = || {
            let ids = Tensor::from_vec(ids, (texts.len(), len), &self.device)?;
            rows(&self.model.get_text_features(&ids)?)
        };
        run().map_err(|e| failed(&e))
    }
}

/// Unit rows of a `[n, dim]` feature tensor.
fn rows(features: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
    div_l2_norm(features)?.to_vec2::<f32>()
}

/// A binary PPM (P6, 8 bits, `size`×`size`, as `media::keyframes` writes it) as CLIP's input:
/// channel-major, each channel scaled to 0–1 and standardized.
pub fn ppm_pixels(bytes: &[u8], size: usize) -> Result<Vec<f32>, String> {
    let mut fields = Vec::with_capacity(4);
    let mut at = 0;
    // Header: magic, width, height, maxval, separated by white space (comments allowed),
    // then exactly one white-space byte before the samples.
    while fields.len() < 4 {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'#') {
            if bytes[at] == b'#' {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            } else {
                at += 1;
            }
        }
        let start = at;
        while at < bytes.len() && !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if start == at {
            return Err("not a PPM image (the header ends early)".into());
        }
        fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
    }
    if fields[0] != "P6" || fields[3] != "255" {
        return Err(format!(
            "not an 8-bit binary PPM (header {} … {})",
            fields[0], fields[3]
        ));
    }
    let dims: (Option<usize>, Option<usize>) = (fields[1].parse().ok(), fields[2].parse().ok());
    if dims != (Some(size), Some(size)) {
        return Err(format!(
            "it is {}x{}, the model takes {size}x{size} (extract keyframes at the model's size)",
            fields[1], fields[2]
        ));
    }
    let samples = bytes.get(at + 1..).unwrap_or_default();
    let plane = size * size;
    if samples.len() < plane * 3 {
        return Err(format!(
            "{} bytes of pixels where {} are needed",
            samples.len(),
            plane * 3
        ));
    }
    let mut out = vec![0f32; plane * 3];
    for (i, rgb) in samples.chunks_exact(3).take(plane).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (f32::from(rgb[c]) / 255.0 - MEAN[c]) / STD[c];
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_is_standardized_channel_major() {
        let mut ppm = b"P6\n# from ffmpeg\n2 2\n255\n".to_vec();
        for _ in 0..4 {
            ppm.extend([255, 0, 128]);
        }
        let px = ppm_pixels(&ppm, 2).unwrap();
        assert_eq!(px.len(), 12);
        assert!((px[0] - (1.0 - MEAN[0]) / STD[0]).abs() < 1e-6);
        assert!((px[4] - (0.0 - MEAN[1]) / STD[1]).abs() < 1e-6);
        assert!(px[..4].iter().all(|&v| v == px[0]));
        assert!(ppm_pixels(&ppm, 3).unwrap_err().contains("2x2"));
        assert!(ppm_pixels(&ppm[..ppm.len() - 1], 2).is_err());
        assert!(ppm_pixels(b"\x89PNG\r\n", 2).is_err());
        assert!(ppm_pixels(b"P6 2", 2).is_err());
    }
}
