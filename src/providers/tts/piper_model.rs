//! A Piper voice on disk: its `.onnx.json` settings and the VITS graph run with `rten`
//! (pure Rust; onnxruntime is not packaged for the target machines).

use super::phonemes::PhonemeTable;
use crate::providers::ProviderError;
use crate::providers::models::{ModelKind, unavailable};
use rten::{Model, NodeId, Value};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How Piper turns text into symbols: espeak-ng IPA (almost every voice) or raw characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhonemeType {
    Espeak,
    Text,
}

/// The settings of a voice, from `<model>.onnx.json`.
#[derive(Clone, Debug)]
pub struct PiperConfig {
    pub sample_rate: u32,
    /// The espeak-ng voice the model was trained with, e.g. "en-us".
    pub espeak_voice: Option<String>,
    pub noise_scale: f32,
    pub length_scale: f32,
    pub noise_w: f32,
    pub num_speakers: u32,
    pub phoneme_type: PhonemeType,
    pub table: PhonemeTable,
}

#[derive(Deserialize)]
struct RawConfig {
    audio: RawAudio,
    #[serde(default)]
    espeak: Option<RawEspeak>,
    #[serde(default)]
    inference: RawInference,
    #[serde(default)]
    num_speakers: Option<u32>,
    #[serde(default)]
    phoneme_type: Option<String>,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    phoneme_map: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct RawAudio {
    sample_rate: u32,
}

#[derive(Deserialize)]
struct RawEspeak {
    voice: String,
}

/// Piper's own defaults for voices whose config leaves `inference` out.
#[derive(Deserialize)]
#[serde(default)]
struct RawInference {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

impl Default for RawInference {
    fn default() -> Self {
        RawInference {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        }
    }
}

impl PiperConfig {
    pub fn parse(json: &str) -> Result<Self, String> {
        let raw: RawConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if raw.audio.sample_rate == 0 {
            return Err("audio.sample_rate is 0".into());
        }
        let phoneme_type = match raw.phoneme_type.as_deref() {
            None | Some("espeak") => PhonemeType::Espeak,
            Some("text") => PhonemeType::Text,
            Some(other) => return Err(format!("phoneme_type \"{other}\" is not supported")),
        };
        Ok(PiperConfig {
            sample_rate: raw.audio.sample_rate,
            espeak_voice: raw.espeak.map(|e| e.voice).filter(|v| !v.is_empty()),
            noise_scale: raw.inference.noise_scale,
            length_scale: raw.inference.length_scale,
            noise_w: raw.inference.noise_w,
            num_speakers: raw.num_speakers.unwrap_or(1),
            phoneme_type,
            table: PhonemeTable::new(&raw.phoneme_id_map, &raw.phoneme_map)?,
        })
    }
}

/// `voice.onnx` → `voice.onnx.json`, Piper's naming.
pub fn config_path(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_os_string();
    name.push(".json");
    PathBuf::from(name)
}

/// A loaded voice: the graph, the ids of its inputs and output, and its settings.
pub struct PiperModel {
    model: Model,
    input: NodeId,
    input_lengths: NodeId,
    scales: NodeId,
    /// Multi-speaker voices take a speaker id; speaker 0 is their default.
    sid: Option<NodeId>,
    output: NodeId,
    pub config: PiperConfig,
}

impl PiperModel {
    /// Reads the settings and the graph. Every failure names the file and the fix.
    pub fn load(model_path: &Path) -> Result<Self, ProviderError> {
        let json_path = config_path(model_path);
        for path in [model_path, json_path.as_path()] {
            if !path.is_file() {
                let why = format!("Piper voice file {} is missing", path.display());
                return Err(unavailable(ModelKind::Piper, &why));
            }
        }
        let bad = |path: &Path, e: &dyn std::fmt::Display| {
            let why = format!("{} is not a usable Piper voice ({e})", path.display());
            unavailable(ModelKind::Piper, &why)
        };
        let json = std::fs::read_to_string(&json_path).map_err(|e| bad(&json_path, &e))?;
        let config = PiperConfig::parse(&json).map_err(|e| bad(&json_path, &e))?;
        let model = Model::load_file(model_path).map_err(|e| bad(model_path, &e))?;
        let node = |name: &str| {
            model
                .find_node(name)
                .ok_or_else(|| bad(model_path, &format!("the graph has no input \"{name}\"")))
        };
        let (input, input_lengths, scales) =
            (node("input")?, node("input_lengths")?, node("scales")?);
        let sid = model.find_node("sid");
        let output = *model
            .output_ids()
            .first()
            .ok_or_else(|| bad(model_path, &"the graph has no output"))?;
        Ok(PiperModel {
            model,
            input,
            input_lengths,
            scales,
            sid,
            output,
            config,
        })
    }

    /// Runs the graph on framed phoneme ids; returns mono samples at the voice's rate.
    /// `length_scale` > 1 speaks slower. Blocking: call it from a blocking thread.
    pub fn infer(&self, ids: &[i64], length_scale: f32) -> Result<Vec<f32>, ProviderError> {
        let failed = |e: &dyn std::fmt::Display| ProviderError::Media {
            provider: "piper".into(),
            message: format!("voice model failed: {e}"),
            transient: false,
        };
        // rten runs ONNX int64 tensors as i32; phoneme ids are < 256, lengths far below 2³¹.
        let ids32: Vec<i32> = ids.iter().map(|&id| id as i32).collect();
        let n = ids32.len();
        let input = Value::from_shape([1, n], ids32).map_err(|e| failed(&e))?;
        let lengths = Value::from_shape([1], vec![n as i32]).map_err(|e| failed(&e))?;
        let c = &self.config;
        let scales = Value::from_shape([3], vec![c.noise_scale, length_scale, c.noise_w])
            .map_err(|e| failed(&e))?;
        let mut inputs = vec![
            (self.input, input.into()),
            (self.input_lengths, lengths.into()),
            (self.scales, scales.into()),
        ];
        if let Some(sid) = self.sid {
            let speaker = Value::from_shape([1], vec![0i32]).map_err(|e| failed(&e))?;
            inputs.push((sid, speaker.into()));
        }
        let [audio] = self
            .model
            .run_n(inputs, [self.output], None)
            .map_err(|e| failed(&e))?;
        // The output is [1, 1, 1, T] for Piper's export, [1, 1, T] for some others.
        let audio = audio
            .into_tensor::<f32>()
            .ok_or_else(|| failed(&"the output is not f32 audio"))?;
        Ok(audio.into_data())
    }
}

/// Samples quieter than this (about -50 dBFS relative to the sentence peak) count as silence.
const SILENCE_RATIO: f32 = 0.003;
/// Kept around the speech when trimming, so soft onsets and releases are not cut.
const TRIM_MARGIN_SECONDS: f64 = 0.02;

/// Drops the near-silence VITS leaves before and after a sentence, so the sentence's start
/// and end in the narration are those of its speech.
pub fn trim_silence(samples: &[f32], sample_rate: u32) -> &[f32] {
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    if peak == 0.0 {
        return &samples[..0];
    }
    let threshold = peak * SILENCE_RATIO;
    let loud = |s: &f32| s.abs() > threshold;
    let first = samples.iter().position(loud).unwrap_or(0);
    let last = samples.iter().rposition(loud).unwrap_or(samples.len() - 1);
    let margin = (TRIM_MARGIN_SECONDS * f64::from(sample_rate)) as usize;
    &samples[first.saturating_sub(margin)..(last + 1 + margin).min(samples.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_voice_config_with_defaults() {
        let json = r#"{"audio":{"sample_rate":16000},"espeak":{"voice":"de"},
            "num_speakers":3,"phoneme_id_map":{"_":[0],"^":[1],"$":[2],"a":[5]}}"#;
        let config = PiperConfig::parse(json).unwrap();
        assert_eq!(config.sample_rate, 16_000);
        assert_eq!(config.espeak_voice.as_deref(), Some("de"));
        assert_eq!(
            (config.noise_scale, config.length_scale, config.noise_w),
            (0.667, 1.0, 0.8)
        );
        assert_eq!(config.num_speakers, 3);
        assert_eq!(config.phoneme_type, PhonemeType::Espeak);
        assert_eq!(config.table.ids("a"), vec![1, 0, 5, 0, 2]);
        assert!(PiperConfig::parse(r#"{"audio":{"sample_rate":1}}"#).is_err());
        assert_eq!(
            config_path(Path::new("/m/v.onnx")),
            Path::new("/m/v.onnx.json")
        );
    }

    #[test]
    fn missing_voice_names_the_file_and_the_fetch_script() {
        let err = PiperModel::load(Path::new("/nonexistent/voice.onnx"))
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/voice.onnx"), "{text}");
        assert!(text.contains("./scripts/fetch-models.sh"), "{text}");
    }

    #[test]
    fn corrupt_voice_is_an_invalid_error() {
        let dir = tempfile::tempdir().unwrap();
        let onnx = dir.path().join("v.onnx");
        std::fs::write(&onnx, b"not a model").unwrap();
        std::fs::write(
            config_path(&onnx),
            r#"{"audio":{"sample_rate":22050},
            "phoneme_id_map":{"_":[0],"^":[1],"$":[2]}}"#,
        )
        .unwrap();
        let err = PiperModel::load(&onnx).err().unwrap();
        assert!(matches!(err, ProviderError::Invalid { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("v.onnx is not a usable Piper voice"),
            "{err}"
        );
    }

    #[test]
    fn trims_leading_and_trailing_near_silence_with_a_margin() {
        let rate = 1000; // 20 ms margin = 20 samples
        let mut audio = vec![0.0001f32; 100];
        audio.extend(vec![0.5; 50]);
        audio.extend(vec![0.0; 100]);
        let kept = trim_silence(&audio, rate);
        assert_eq!(kept.len(), 50 + 2 * 20);
        assert!(trim_silence(&[0.0; 10], rate).is_empty());
    }
}
