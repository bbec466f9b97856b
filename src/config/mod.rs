//! Settings: defaults < config file < `REELFORGE_*` environment < command-line flags.
//!
//! The structs here are the schema; `load` layers and validates them. Unknown keys, wrong
//! types and impossible values are errors that name the key, the value and what is allowed.

mod env;
mod error;
mod footage;
pub mod load;
mod options;
mod schema;
pub mod secret;
#[cfg(test)]
mod tests;
mod validate;
mod video;

pub use footage::{FootageConfig, NetConfig, StockConfig};
pub use load::{ConfigError, load};
pub use options::{TaskOption, apply_options, config_for, subtitle_style};
pub use secret::Secret;
pub use video::{MusicConfig, SubtitleConfig, VideoConfig};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub paths: PathsConfig,
    pub llm: LlmConfig,
    pub script: ScriptConfig,
    pub terms: TermsConfig,
    pub voice: VoiceConfig,
    pub footage: FootageConfig,
    pub video: VideoConfig,
    pub subtitles: SubtitleConfig,
    pub pipeline: PipelineConfig,
    pub models: ModelsConfig,
    pub stt: SttConfig,
    pub net: NetConfig,
    pub music: MusicConfig,
    pub ui: UiConfig,
    pub select: SelectConfig,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    /// Empty: `$XDG_DATA_HOME/reelforge` (or `~/.local/share/reelforge`).
    pub data_dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// "auto" (an OpenAI-compatible endpoint when base_url is set, else the local model),
    /// "openai", "local" (embedded GGUF model) or "none" (bundled example script).
    pub provider: String,
    /// e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1`. Empty: no LLM.
    pub base_url: String,
    /// Prefer the environment variable named by `api_key_env`.
    pub api_key: Secret,
    pub api_key_env: String,
    pub model: String,
    pub temperature: f64,
    pub timeout_secs: u64,
    pub stream: bool,
    /// GGUF file for the local model ("" = SmolLM2 from the models folder).
    pub local_model: String,
    /// Longest reply in tokens (16–4096).
    pub max_tokens: u32,
    /// Nucleus sampling (0 < top_p ≤ 1).
    pub top_p: f64,
    /// Sampling seed for the local model (same seed, same script).
    pub seed: u64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            provider: "auto".into(),
            base_url: String::new(),
            api_key: Secret::default(),
            api_key_env: "OPENAI_API_KEY".into(),
            model: "gpt-4o-mini".into(),
            temperature: 0.7,
            timeout_secs: 120,
            stream: true,
            local_model: String::new(),
            max_tokens: 400,
            top_p: 0.9,
            seed: 42,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptConfig {
    /// "auto" (the subject's language) or a language name such as "English", "zh-CN".
    pub language: String,
    /// 1–10 paragraphs.
    pub paragraphs: u32,
    /// Sentences in the narration (3–30), or 0 to let the paragraph count decide.
    pub sentences: u32,
    /// Extra instructions appended to the prompt.
    pub extra_requirements: String,
    /// Replaces the built-in system prompt when not empty.
    pub system_prompt: String,
}

impl Default for ScriptConfig {
    fn default() -> Self {
        ScriptConfig {
            language: "auto".into(),
            paragraphs: 1,
            sentences: 6,
            extra_requirements: String::new(),
            system_prompt: String::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TermsConfig {
    /// Search terms asked for each sentence (1–8).
    pub per_sentence: u32,
}

impl Default for TermsConfig {
    fn default() -> Self {
        TermsConfig { per_sentence: 3 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
    /// "piper" (neural voice, falls back to espeak-ng when its model is missing) or "espeak".
    pub provider: String,
    /// espeak-ng voice name, e.g. "en-us", "en-gb", "fr" (also Piper's phoneme language).
    pub voice: String,
    /// Piper voice file (.onnx with its .onnx.json beside it; "" = the bundled joe voice).
    pub piper_model: String,
    /// Integrated loudness of the narration, LUFS (-30 to -5; social video uses -14).
    pub loudness_lufs: f64,
    /// Speaking rate multiplier 0.5–2.0.
    pub rate: f64,
    /// Volume multiplier 0.0–2.0.
    pub volume: f64,
    /// Silence between sentences, milliseconds (0–2000).
    pub sentence_gap_ms: u32,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        VoiceConfig {
            provider: "piper".into(),
            voice: "en-us".into(),
            piper_model: String::new(),
            loudness_lufs: -14.0,
            rate: 1.0,
            volume: 1.0,
            sentence_gap_ms: 250,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Attempts per stage for transient failures (1–10).
    pub max_attempts: u32,
    /// First backoff delay; doubles each attempt, with jitter.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Stage runs at once, per stage, across all tasks.
    pub limits: BTreeMap<String, usize>,
    /// Cores shared by the CPU-heavy stages of all tasks (render takes them all; local LLM,
    /// voice, Whisper and embeddings one each); 0: the cores of this machine.
    pub cpu_slots: usize,
    /// Downloaded footage kept for tasks not rendered yet before more downloads wait, MB;
    /// 0: no limit.
    pub footage_budget_mb: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        let limits = [
            ("script", 4),
            ("terms", 4),
            ("voice", 2),
            ("subtitles", 4),
            ("footage", 4),
            ("select", 4),
            ("render", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        PipelineConfig {
            max_attempts: 4,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            limits,
            cpu_slots: 0,
            footage_budget_mb: 2048,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Folder of local models ("" = $REELFORGE_MODELS_DIR, else $XDG_DATA_HOME/reelforge/models).
    pub dir: String,
    /// "cpu", or "cuda" with a build that has the `cuda` feature.
    pub device: String,
    /// MiniLM's products on the CPU: "fixed16" (faster, vectors at cosine ≥ 0.99999 of the
    /// exact ones) or "f32" (sentence-transformers' vectors to within float rounding).
    pub embed_precision: String,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            dir: String::new(),
            device: "cpu".into(),
            embed_precision: crate::providers::embed::Precision::default().name().into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SttConfig {
    /// "whisper" (local Whisper base) or "none".
    pub provider: String,
    /// Spoken language: "auto" (detected) or a code such as "en", "fr", "zh".
    pub language: String,
    /// Time every word (for word-by-word subtitle highlight) when the voice gives only sentences.
    pub word_timings: bool,
}

impl Default for SttConfig {
    fn default() -> Self {
        SttConfig {
            provider: "whisper".into(),
            language: "auto".into(),
            word_timings: true,
        }
    }
}

/// `[select]`: how the semantic concat mode picks footage.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelectConfig {
    /// A sentence whose best clip scores below this (0–3; 0 turns it off) gets more
    /// candidates searched with other terms before the best available is accepted.
    pub min_relevance: f64,
    /// Extra search rounds for such sentences, 0–3.
    pub alternative_rounds: u32,
    /// A folder with CLIP weights (`model.safetensors`, `config.json`, `tokenizer.json`,
    /// Hugging Face names) to score keyframes against sentences as well; "" = text only.
    pub clip_model: String,
    /// How much the CLIP image score counts beside the text score (0–1).
    pub clip_weight: f64,
}

impl Default for SelectConfig {
    fn default() -> Self {
        SelectConfig {
            min_relevance: 0.55,
            alternative_rounds: 1,
            clip_model: String::new(),
            clip_weight: 0.5,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Dashboard colours: "dark", "light", "high-contrast" or the path of a theme .toml file.
    /// Checked by the dashboard, which knows the built-in names and reads the file.
    pub theme: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            theme: "dark".into(),
        }
    }
}

impl Config {
    /// The models folder this config points at.
    pub fn models_dir(&self) -> PathBuf {
        match self.models.dir.trim() {
            "" => crate::providers::models::default_models_dir(),
            dir => PathBuf::from(dir),
        }
    }
}

/// Output frame size for an aspect ratio name.
pub fn frame_size(aspect: &str) -> Option<(u32, u32)> {
    match aspect {
        "9:16" => Some((1080, 1920)),
        "16:9" => Some((1920, 1080)),
        "1:1" => Some((1080, 1080)),
        _ => None,
    }
}
