//! A Hugging Face CLIP `config.json` mapped to candle's `ClipConfig`. Absent fields take the
//! ViT-B/32 values (as `transformers` does with its class defaults), so both the full
//! openai/clip-vit-base-patch32 file and a tiny test config describe a model; anything
//! candle's CLIP cannot run is refused here, naming the field, rather than failing deep
//! inside the first forward pass.

use super::VisionError;
use candle_transformers::models::clip::ClipConfig;
use candle_transformers::models::clip::text_model::{Activation, ClipTextConfig};
use candle_transformers::models::clip::vision_model::ClipVisionConfig;
use serde::Deserialize;
use std::path::Path;

/// Sizes beyond these are not a CLIP anyone ships; they would only exhaust memory.
const MAX_IMAGE_SIZE: usize = 1024;
const MAX_TOKENS: usize = 1024;

#[derive(Deserialize)]
struct HfConfig {
    #[serde(default)]
    text_config: HfText,
    #[serde(default)]
    vision_config: HfVision,
    /// The shared embedding width; sub-configs repeat it in newer files.
    projection_dim: Option<usize>,
    logit_scale_init_value: Option<f32>,
}

#[derive(Deserialize)]
#[serde(default)]
struct HfText {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    max_position_embeddings: usize,
    projection_dim: Option<usize>,
    hidden_act: String,
}

impl Default for HfText {
    fn default() -> Self {
        HfText {
            vocab_size: 49408,
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            projection_dim: None,
            hidden_act: "quick_gelu".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(default)]
struct HfVision {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_channels: usize,
    image_size: usize,
    patch_size: usize,
    projection_dim: Option<usize>,
    hidden_act: String,
}

impl Default for HfVision {
    fn default() -> Self {
        HfVision {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            projection_dim: None,
            hidden_act: "quick_gelu".into(),
        }
    }
}

/// Parses the text of a `config.json`; the error says which value is unusable.
pub fn clip_config(raw: &[u8]) -> Result<ClipConfig, String> {
    let hf: HfConfig = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let (text, vision) = (&hf.text_config, &hf.vision_config);
    let projection = hf
        .projection_dim
        .or(text.projection_dim)
        .or(vision.projection_dim)
        .unwrap_or(512);
    let positive = [
        ("projection_dim", projection),
        ("text_config.vocab_size", text.vocab_size),
        ("text_config.intermediate_size", text.intermediate_size),
        ("text_config.num_hidden_layers", text.num_hidden_layers),
        ("vision_config.intermediate_size", vision.intermediate_size),
        ("vision_config.num_hidden_layers", vision.num_hidden_layers),
    ];
    if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
        return Err(format!("{name} is 0"));
    }
    for (side, hidden, heads) in [
        ("text_config", text.hidden_size, text.num_attention_heads),
        (
            "vision_config",
            vision.hidden_size,
            vision.num_attention_heads,
        ),
    ] {
        if heads == 0 || hidden == 0 || !hidden.is_multiple_of(heads) {
            return Err(format!(
                "{side}.hidden_size {hidden} is not a multiple of num_attention_heads {heads}"
            ));
        }
    }
    // candle implements the activation of the OpenAI checkpoints only.
    for (side, act) in [
        ("text_config", &text.hidden_act),
        ("vision_config", &vision.hidden_act),
    ] {
        if act != "quick_gelu" {
            return Err(format!(
                "{side}.hidden_act \"{act}\" is not supported (candle's CLIP runs quick_gelu)"
            ));
        }
    }
    if !(1..=MAX_TOKENS).contains(&text.max_position_embeddings) {
        return Err(format!(
            "text_config.max_position_embeddings {} is not in 1..={MAX_TOKENS}",
            text.max_position_embeddings
        ));
    }
    let size = vision.image_size;
    if vision.patch_size == 0 || !size.is_multiple_of(vision.patch_size) || size > MAX_IMAGE_SIZE {
        return Err(format!(
            "vision_config.image_size {size} is not a multiple of patch_size {} up to {MAX_IMAGE_SIZE}",
            vision.patch_size
        ));
    }
    // Keyframes are RGB.
    if vision.num_channels != 3 {
        return Err(format!(
            "vision_config.num_channels is {}, not 3 (RGB)",
            vision.num_channels
        ));
    }
    Ok(ClipConfig {
        text_config: ClipTextConfig {
            vocab_size: text.vocab_size,
            embed_dim: text.hidden_size,
            activation: Activation::QuickGelu,
            intermediate_size: text.intermediate_size,
            max_position_embeddings: text.max_position_embeddings,
            pad_with: None,
            num_hidden_layers: text.num_hidden_layers,
            num_attention_heads: text.num_attention_heads,
            projection_dim: projection,
        },
        vision_config: ClipVisionConfig {
            embed_dim: vision.hidden_size,
            activation: Activation::QuickGelu,
            intermediate_size: vision.intermediate_size,
            num_hidden_layers: vision.num_hidden_layers,
            num_attention_heads: vision.num_attention_heads,
            projection_dim: projection,
            num_channels: 3,
            image_size: size,
            patch_size: vision.patch_size,
        },
        logit_scale_init_value: hf.logit_scale_init_value.unwrap_or(2.6592),
        image_size: size,
    })
}

/// Reads and parses `dir/config.json`; a missing or unusable file is named in the error.
pub fn read_config(dir: &Path) -> Result<ClipConfig, VisionError> {
    let path = dir.join("config.json");
    let raw = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VisionError::Missing { path: path.clone() },
        _ => VisionError::bad(&path, e),
    })?;
    clip_config(&raw).map_err(|why| VisionError::bad(&path, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_vit_b32() {
        let c = clip_config(b"{}").unwrap();
        let b32 = ClipConfig::vit_base_patch32();
        assert_eq!(c.image_size, 224);
        assert_eq!(c.vision_config.patch_size, b32.vision_config.patch_size);
        assert_eq!(c.vision_config.embed_dim, b32.vision_config.embed_dim);
        assert_eq!(c.text_config.embed_dim, b32.text_config.embed_dim);
        assert_eq!(c.text_config.vocab_size, b32.text_config.vocab_size);
        assert_eq!(c.text_config.projection_dim, 512);
    }

    #[test]
    fn tiny_sizes_are_taken_and_bad_ones_named() {
        let tiny = br#"{"projection_dim": 8,
            "text_config": {"hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1,
                            "intermediate_size": 32, "vocab_size": 20, "max_position_embeddings": 8},
            "vision_config": {"hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1,
                              "intermediate_size": 32, "image_size": 32, "patch_size": 8}}"#;
        let c = clip_config(tiny).unwrap();
        assert_eq!((c.image_size, c.text_config.projection_dim), (32, 8));
        let bad = clip_config(br#"{"vision_config": {"image_size": 30, "patch_size": 8}}"#);
        assert!(bad.unwrap_err().contains("vision_config.image_size 30"));
        let gelu = clip_config(br#"{"text_config": {"hidden_act": "gelu"}}"#);
        assert!(gelu.unwrap_err().contains("text_config.hidden_act"));
        let heads = clip_config(br#"{"text_config": {"hidden_size": 10}}"#);
        assert!(heads.unwrap_err().contains("num_attention_heads"));
        assert!(clip_config(b"not json").is_err());
    }
}
