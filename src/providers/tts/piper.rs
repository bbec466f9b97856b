//! The Piper neural voice (VITS, run in-process with `rten`): sentence by sentence, so each
//! sentence's start and end in the narration are exact, then loudness-normalized as a whole.

use super::loudness::normalize;
use super::phonemes::phonemize;
use super::piper_model::{PhonemeType, PiperModel, config_path, trim_silence};
use super::{Narration, SpokenSentence, SynthProgress, TtsProvider};
use crate::fsutil::PartGuard;
use crate::providers::ProviderError;
use crate::providers::models::{Loaded, ModelKind, OnceModel, default_models_dir};
use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Sentences in flight at once: one phonemizes (espeak-ng) while another runs the model,
/// which already spreads over the cores itself.
const SENTENCES_AT_ONCE: usize = 2;
/// Peaks stay 1 dB under full scale: room for the lossy encode of the final video.
const CEILING_DBFS: f64 = -1.0;

#[derive(Clone)]
pub struct PiperVoice {
    model_path: PathBuf,
    espeak_voice: String,
    rate: f64,
    volume: f64,
    sentence_gap_ms: u32,
    loudness_lufs: f64,
    model: Arc<OnceModel<PiperModel>>,
}

/// One `OnceModel` per voice file for the whole process, so every `PiperVoice` built for
/// the same file (one per task) shares a single load.
fn shared_model(path: &Path) -> Arc<OnceModel<PiperModel>> {
    static MODELS: OnceLock<Mutex<HashMap<PathBuf, Arc<OnceModel<PiperModel>>>>> = OnceLock::new();
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut models = MODELS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    models
        .entry(key)
        .or_insert_with(|| {
            let stem = path.file_stem().unwrap_or(path.as_os_str());
            Arc::new(OnceModel::new(format!("Piper {}", stem.to_string_lossy())))
        })
        .clone()
}

impl PiperVoice {
    /// `espeak_voice` is used only when the voice's `.onnx.json` names none: a model must be
    /// fed the phonemes of the language it was trained on.
    pub fn new(
        model_path: PathBuf,
        espeak_voice: String,
        rate: f64,
        volume: f64,
        sentence_gap_ms: u32,
        loudness_lufs: f64,
    ) -> Self {
        let model = shared_model(&model_path);
        PiperVoice {
            model_path,
            espeak_voice,
            rate,
            volume,
            sentence_gap_ms,
            loudness_lufs,
            model,
        }
    }

    /// The bundled voice, where the fetch script puts it.
    pub fn default_model_path() -> PathBuf {
        ModelKind::Piper.main_file(&default_models_dir())
    }

    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    async fn load(&self) -> Result<(Arc<PiperModel>, Loaded), ProviderError> {
        let path = self.model_path.clone();
        self.model.get(move || PiperModel::load(&path)).await
    }

    fn length_scale(&self, model: &PiperModel) -> f32 {
        // A faster rate is a shorter length; config validation keeps rate in 0.5–2.0.
        let rate = if self.rate > 0.0 { self.rate } else { 1.0 };
        (f64::from(model.config.length_scale) / rate) as f32
    }

    /// Phonemes, model, trimmed samples of one sentence.
    async fn speak(
        &self,
        model: &Arc<PiperModel>,
        text: &str,
        scratch: &Path,
        cancel: &CancellationToken,
    ) -> Result<Vec<f32>, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let config = &model.config;
        let phonemes = match config.phoneme_type {
            PhonemeType::Espeak => {
                let voice = config.espeak_voice.as_deref().unwrap_or(&self.espeak_voice);
                phonemize(text, voice, &config.table, scratch, cancel).await?
            }
            PhonemeType::Text => text.trim().to_string(),
        };
        if phonemes.is_empty() {
            return Ok(Vec::new());
        }
        tracing::debug!(%text, %phonemes, "piper phonemes");
        let ids = config.table.ids(&phonemes);
        let (runner, length_scale) = (model.clone(), self.length_scale(model));
        let job = tokio::task::spawn_blocking(move || runner.infer(&ids, length_scale));
        // A running inference cannot be interrupted; on cancel it finishes unobserved.
        let raw = tokio::select! {
            _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
            joined = job => joined.map_err(|e| failed(format!("synthesis thread crashed: {e}")))??,
        };
        Ok(trim_silence(&raw, config.sample_rate).to_vec())
    }
}

fn failed(message: String) -> ProviderError {
    ProviderError::Media {
        provider: "piper".into(),
        message,
        transient: false,
    }
}

/// Removes the per-call scratch folder however the call ends (cancellation included).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch_dir(out_wav: &Path) -> Result<Scratch, ProviderError> {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = out_wav
        .parent()
        .unwrap_or(Path::new("."))
        .join(".work")
        .join(format!("piper-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
    Ok(Scratch(dir))
}

/// Concatenates sentences with `gap` samples of silence between spoken ones; each
/// sentence's span comes from sample counts, so it is exact.
pub fn join_sentences(parts: &[Vec<f32>], gap: usize) -> (Vec<f32>, Vec<(usize, usize)>) {
    let total = parts.iter().map(Vec::len).sum::<usize>() + gap * parts.len();
    let mut audio = Vec::with_capacity(total);
    let mut spans = Vec::with_capacity(parts.len());
    for part in parts {
        // An empty sentence (nothing to say) takes no time and adds no second gap.
        if !audio.is_empty() && !part.is_empty() {
            audio.resize(audio.len() + gap, 0.0);
        }
        let start = audio.len();
        audio.extend_from_slice(part);
        spans.push((start, audio.len()));
    }
    (audio, spans)
}

/// 16-bit PCM mono, written to `*.part` and renamed, so no half file has the final name.
fn write_wav(samples: &[f32], sample_rate: u32, out_wav: &Path) -> Result<(), ProviderError> {
    let guard = PartGuard::for_final(out_wav);
    let fail =
        |e: &dyn std::fmt::Display| failed(format!("cannot write {}: {e}", out_wav.display()));
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(guard.path(), spec).map_err(|e| fail(&e))?;
    for &s in samples {
        let pcm = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
        writer.write_sample(pcm).map_err(|e| fail(&e))?;
    }
    writer.finalize().map_err(|e| fail(&e))?;
    guard.commit(out_wav).map_err(|e| fail(&e))
}

#[async_trait]
impl TtsProvider for PiperVoice {
    fn name(&self) -> &str {
        "piper"
    }

    fn fingerprint(&self) -> String {
        // File sizes stand in for content: a different or re-trained voice changes them.
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        format!(
            "piper model={} bytes={} config_bytes={} voice={} rate={} volume={} gap={} loudness={}",
            self.model_path.display(),
            size(&self.model_path),
            size(&config_path(&self.model_path)),
            self.espeak_voice,
            self.rate,
            self.volume,
            self.sentence_gap_ms,
            self.loudness_lufs
        )
    }

    async fn warm_up(&self) -> Result<Option<Loaded>, ProviderError> {
        self.load().await.map(|(_, loaded)| Some(loaded))
    }

    async fn synthesize(
        &self,
        sentences: &[String],
        out_wav: &Path,
        cancel: &CancellationToken,
        on_progress: SynthProgress<'_>,
    ) -> Result<Narration, ProviderError> {
        if sentences.iter().all(|s| s.trim().is_empty()) {
            return Err(ProviderError::Invalid {
                provider: "piper".into(),
                message: "nothing to say: the script has no sentences".into(),
            });
        }
        let (model, _) = self.load().await?;
        let started = Instant::now();
        let scratch = scratch_dir(out_wav)?;
        let done = AtomicUsize::new(0);
        let parts: Vec<Vec<f32>> =
            futures_util::stream::iter(sentences.iter().cloned().enumerate())
                .map(|(i, text)| {
                    let (model, done, scratch) = (&model, &done, &scratch.0);
                    async move {
                        let file = scratch.join(format!("sentence-{i:03}.txt"));
                        let samples = self.speak(model, &text, &file, cancel).await?;
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        on_progress(n as f32 / sentences.len() as f32);
                        Ok::<_, ProviderError>(samples)
                    }
                })
                .buffered(SENTENCES_AT_ONCE)
                .try_collect()
                .await?;
        drop(scratch);
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }

        let rate = model.config.sample_rate;
        let gap = (u64::from(self.sentence_gap_ms) * u64::from(rate) / 1000) as usize;
        let (mut audio, spans) = join_sentences(&parts, gap);
        if audio.is_empty() {
            return Err(failed("the voice produced no audio".into()));
        }
        let (target, volume, out) = (self.loudness_lufs, self.volume, out_wav.to_path_buf());
        let finish = tokio::task::spawn_blocking(move || {
            let report = normalize(&mut audio, rate, target, volume, CEILING_DBFS);
            write_wav(&audio, rate, &out).map(|()| (report, audio.len()))
        });
        let (report, total) = finish
            .await
            .map_err(|e| failed(format!("audio writer crashed: {e}")))??;

        let seconds = |samples: usize| samples as f64 / f64::from(rate);
        let duration = seconds(total);
        tracing::info!(
            sentences = sentences.len(),
            duration_s = duration,
            rtf = started.elapsed().as_secs_f64() / duration,
            measured_lufs = ?report.measured_lufs,
            final_lufs = ?report.final_lufs,
            "piper narration written"
        );
        Ok(Narration {
            duration,
            sample_rate: rate,
            sentences: sentences
                .iter()
                .zip(spans)
                .map(|(text, (start, end))| SpokenSentence {
                    text: text.clone(),
                    start: seconds(start),
                    end: seconds(end),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_puts_gaps_between_spoken_sentences_only() {
        let parts = vec![vec![1.0; 3], vec![], vec![2.0; 2]];
        let (audio, spans) = join_sentences(&parts, 4);
        assert_eq!(audio.len(), 3 + 4 + 2);
        assert_eq!(spans, vec![(0, 3), (3, 3), (7, 9)]);
        assert_eq!(&audio[3..7], &[0.0; 4]);
    }

    #[test]
    fn fingerprint_changes_with_every_setting() {
        let path = PathBuf::from("/nonexistent/v.onnx");
        let base = PiperVoice::new(path.clone(), "en-us".into(), 1.0, 1.0, 250, -14.0);
        let variants = [
            PiperVoice::new(path.clone(), "en-gb".into(), 1.0, 1.0, 250, -14.0),
            PiperVoice::new(path.clone(), "en-us".into(), 1.2, 1.0, 250, -14.0),
            PiperVoice::new(path.clone(), "en-us".into(), 1.0, 0.8, 250, -14.0),
            PiperVoice::new(path.clone(), "en-us".into(), 1.0, 1.0, 300, -14.0),
            PiperVoice::new(path.clone(), "en-us".into(), 1.0, 1.0, 250, -16.0),
            PiperVoice::new("/other/v.onnx".into(), "en-us".into(), 1.0, 1.0, 250, -14.0),
        ];
        for v in &variants {
            assert_ne!(base.fingerprint(), v.fingerprint());
        }
        assert!(base.fingerprint().contains("/nonexistent/v.onnx"));
        assert!(Arc::ptr_eq(&base.model, &variants[0].model));
    }
}
