//! A loaded Whisper: encoder and decoder, the tokenizer, the special token ids and
//! the CT2 `config.json` (alignment heads, language tokens, suppressed tokens).

use super::PROVIDER;
use super::ct2;
use super::decoder::Decoder;
use super::encoder::Encoder;
use super::mel::MelFrontEnd;
use crate::providers::ProviderError;
use crate::providers::models::{FETCH_COMMAND, ModelKind, unavailable};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::Deserialize;
use std::path::Path;
use tokenizers::Tokenizer;

/// CTranslate2's `config.json` for Whisper.
#[derive(Clone, Debug, Deserialize)]
pub struct Ct2Config {
    /// (decoder layer, head) pairs whose cross-attention follows the audio in time.
    #[serde(default)]
    pub alignment_heads: Vec<(usize, usize)>,
    /// The `<|xx|>` language tokens, in the model's order.
    #[serde(default)]
    pub lang_ids: Vec<u32>,
    /// Tokens never sampled (symbols, speaker tags...).
    #[serde(default)]
    pub suppress_ids: Vec<u32>,
    /// Tokens never sampled first (a blank, end of text).
    #[serde(default)]
    pub suppress_ids_begin: Vec<u32>,
}

/// Ids of the tokens the decoding rules refer to.
#[derive(Clone, Copy, Debug)]
pub struct SpecialTokens {
    pub eot: u32,
    pub sot: u32,
    pub transcribe: u32,
    pub no_timestamps: u32,
    pub no_speech: u32,
    /// `<|0.00|>`; timestamp k (in 20 ms steps) is `timestamp_begin + k`.
    pub timestamp_begin: u32,
}

pub struct WhisperModel {
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub tokenizer: Tokenizer,
    pub tokens: SpecialTokens,
    pub config: Ct2Config,
    pub mel: MelFrontEnd,
    pub device: Device,
}

impl WhisperModel {
    /// Loads `dir/{model.bin, config.json, tokenizer.json}` onto `device`.
    pub fn load(dir: &Path, device: Device) -> Result<Self, ProviderError> {
        for file in ModelKind::Whisper.key_files() {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(unavailable(
                    ModelKind::Whisper,
                    &format!("{} is missing", path.display()),
                ));
            }
        }
        let config_path = dir.join("config.json");
        let config: Ct2Config = std::fs::read(&config_path)
            .map_err(|e| e.to_string())
            .and_then(|raw| serde_json::from_slice(&raw).map_err(|e| e.to_string()))
            .map_err(|e| corrupt(&config_path, &e))?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| corrupt(&tokenizer_path, &e.to_string()))?;
        let tokens = special_tokens(&tokenizer).map_err(|e| corrupt(&tokenizer_path, &e))?;

        let model_path = dir.join("model.bin");
        let weights = ct2::load(&model_path, config.suppress_ids.clone())?;
        // Moved once here: the VarBuilder moves every tensor it hands out to its device,
        // which is then a cheap handle copy instead of a second upload.
        let tensors = weights
            .tensors
            .into_iter()
            .map(|(name, t)| Ok((name, t.to_device(&device)?)))
            .collect::<candle_core::Result<_>>()
            .map_err(|e| super::model_error("moving weights to the device", e))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let cfg = weights.config;
        let encoder = Encoder::load(vb.pp("model.encoder"), &cfg)
            .map_err(|e| corrupt(&model_path, &e.to_string()))?;
        let decoder = Decoder::load(vb.pp("model.decoder"), &cfg)
            .map_err(|e| corrupt(&model_path, &e.to_string()))?;
        let valid_heads = config
            .alignment_heads
            .iter()
            .all(|&(l, h)| l < cfg.decoder_layers && h < cfg.decoder_attention_heads);
        if !valid_heads {
            return Err(corrupt(
                &config_path,
                "alignment_heads name a layer or head the model lacks",
            ));
        }
        let mut config = config;
        if config.alignment_heads.is_empty() {
            // openai-whisper's default: every head of the upper half of the decoder.
            let (layers, heads) = (cfg.decoder_layers, cfg.decoder_attention_heads);
            config.alignment_heads = (layers / 2..layers)
                .flat_map(|l| (0..heads).map(move |h| (l, h)))
                .collect();
        }
        let mel = MelFrontEnd::new(cfg.num_mel_bins)
            .map_err(|e| super::model_error("building the mel filter bank", e))?;
        Ok(WhisperModel {
            encoder,
            decoder,
            tokenizer,
            tokens,
            config,
            mel,
            device,
        })
    }

    /// `"en"` for the token `<|en|>`.
    pub fn language_code(&self, token: u32) -> Option<String> {
        let text = self.tokenizer.id_to_token(token)?;
        text.strip_prefix("<|")?
            .strip_suffix("|>")
            .map(str::to_string)
    }

    /// The `<|xx|>` token of an ISO code, if the model knows that language.
    pub fn language_token(&self, code: &str) -> Option<u32> {
        let id = self.tokenizer.token_to_id(&format!("<|{code}|>"))?;
        self.config.lang_ids.contains(&id).then_some(id)
    }

    /// Text of ordinary tokens (timestamps and specials are skipped).
    pub fn decode_text(&self, tokens: &[u32]) -> String {
        let text: Vec<u32> = tokens
            .iter()
            .copied()
            .filter(|&t| t < self.tokens.eot)
            .collect();
        self.tokenizer.decode(&text, false).unwrap_or_default()
    }
}

fn special_tokens(tokenizer: &Tokenizer) -> Result<SpecialTokens, String> {
    let id = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| tokenizer.token_to_id(n))
            .ok_or_else(|| format!("token {} is missing", names[0]))
    };
    let no_timestamps = id(&["<|notimestamps|>"])?;
    Ok(SpecialTokens {
        eot: id(&["<|endoftext|>"])?,
        sot: id(&["<|startoftranscript|>"])?,
        transcribe: id(&["<|transcribe|>"])?,
        no_timestamps,
        no_speech: id(&["<|nospeech|>", "<|nocaptions|>"])?,
        // Timestamp tokens follow <|notimestamps|> and are not in tokenizer.json.
        timestamp_begin: no_timestamps + 1,
    })
}

fn corrupt(path: &Path, why: &str) -> ProviderError {
    // First line only: candle errors carry a backtrace when RUST_BACKTRACE is set.
    let why = why.lines().next().unwrap_or_default();
    ProviderError::Invalid {
        provider: PROVIDER.into(),
        message: format!(
            "{}: corrupt model file ({why}), re-run {FETCH_COMMAND}",
            path.display()
        ),
    }
}
