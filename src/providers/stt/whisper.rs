//! The Whisper provider: decodes the file with ffmpeg, computes the log-mel spectrogram,
//! then walks it in 30 s windows (seeking past what each window transcribed), detecting the
//! language on the first one, decoding greedily with timestamps, and timing every word from
//! cross-attention, then moving word edges out of pauses found in the waveform. Inference
//! runs on a blocking thread; the model is loaded once and shared read-only.

use super::audio::{self, SAMPLE_RATE};
use super::decode::{decode_window, detect_language, split_segments};
use super::mel::WINDOW_FRAMES;
use super::model::WhisperModel;
use super::snap::{SpeechMask, snap_words};
use super::timestamps::find_alignment;
use super::words::place_words;
use super::{PROVIDER, SttProgress, SttProvider, Transcript, Word, model_error};
use crate::providers::ProviderError;
use crate::providers::device::candle_device;
use crate::providers::models::{Loaded, OnceModel};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A window whose start is probably silence or noise (openai-whisper's thresholds).
const NO_SPEECH_THRESHOLD: f64 = 0.6;
const LOGPROB_THRESHOLD: f64 = -1.0;
/// How long a cancelled transcription waits for its worker thread to stop.
const WORKER_STOP_WAIT: Duration = Duration::from_secs(5);

/// Whisper (CTranslate2 weights) running in-process with candle.
pub struct WhisperStt {
    model_dir: PathBuf,
    device: String,
    model: OnceModel<WhisperModel>,
}

impl WhisperStt {
    /// `model_dir` holds `model.bin`, `config.json` and `tokenizer.json` (the fetch script's
    /// `whisper-base` folder); `device` is "cpu" or "cuda". Nothing is read until first use.
    pub fn new(model_dir: PathBuf, device: String) -> Self {
        WhisperStt {
            model_dir,
            device,
            model: OnceModel::new("whisper-base"),
        }
    }

    async fn loaded(&self) -> Result<(Arc<WhisperModel>, Loaded), ProviderError> {
        let dir = self.model_dir.clone();
        let device = self.device.clone();
        self.model
            .get(move || WhisperModel::load(&dir, candle_device(&device)?))
            .await
    }
}

#[async_trait]
impl SttProvider for WhisperStt {
    fn name(&self) -> &str {
        self.model.name()
    }

    async fn warm_up(&self) -> Result<Option<Loaded>, ProviderError> {
        Ok(Some(self.loaded().await?.1))
    }

    async fn transcribe(
        &self,
        audio: &Path,
        language: Option<&str>,
        cancel: &CancellationToken,
        on_progress: SttProgress<'_>,
    ) -> Result<Transcript, ProviderError> {
        let pcm = audio::decode_pcm(audio, cancel).await?;
        let (model, _) = self.loaded().await?;
        let language = language
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !l.is_empty() && l != "auto");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f32>();
        let worker_cancel = cancel.clone();
        let mut job = tokio::task::spawn_blocking(move || {
            transcribe_pcm(&model, &pcm, language.as_deref(), &worker_cancel, &|p| {
                // The receiver is gone only once the caller stopped listening.
                let _ = tx.send(p);
            })
        });
        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    // The worker checks the same token between encoder layers and decoding
                    // steps; waiting for it means no inference still holds the CPU once
                    // Cancelled is returned. The bound only guards against a stuck thread.
                    if tokio::time::timeout(WORKER_STOP_WAIT, &mut job).await.is_err() {
                        tracing::warn!("whisper worker still running after cancel");
                    }
                    return Err(ProviderError::Cancelled);
                }
                Some(fraction) = rx.recv() => on_progress(fraction),
                result = &mut job => {
                    while let Ok(fraction) = rx.try_recv() {
                        on_progress(fraction);
                    }
                    return result.map_err(|e| model_error("transcription thread", e))?;
                }
            }
        }
    }
}

/// The whole recognition of 16 kHz mono samples; blocking.
fn transcribe_pcm(
    model: &WhisperModel,
    pcm: &[f32],
    language: Option<&str>,
    cancel: &CancellationToken,
    on_progress: &dyn Fn(f32),
) -> Result<Transcript, ProviderError> {
    let started = Instant::now();
    let mut lang_token = match language {
        Some(code) => Some(model.language_token(code).ok_or_else(|| ProviderError::Invalid {
            provider: PROVIDER.into(),
            message: format!("language {code:?} is not one Whisper knows; use an ISO 639-1 code like \"en\" or \"auto\""),
        })?),
        None => None,
    };
    let mel = model
        .mel
        .compute(pcm, &model.device)
        .map_err(|e| model_error("log-mel spectrogram", e))?;
    // Where the time goes, for the log: the encoder dominates on a CPU.
    let mel_s = started.elapsed().as_secs_f64();
    let (mut encode_s, mut decode_s, mut align_s) = (0.0, 0.0, 0.0);
    let content = mel.content_frames;
    let timestamp_begin = model.tokens.timestamp_begin;
    let mut seek = 0;
    let mut texts: Vec<String> = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let mut last_speech = 0.0;
    while seek < content {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let window_frames = WINDOW_FRAMES.min(content - seek);
        let time_offset = seek as f64 / 100.0;
        let clock = Instant::now();
        let audio = mel
            .window(seek)
            .and_then(|x| model.encoder.forward(&x, &|| cancel.is_cancelled()))
            .map_err(|e| model_error("encoder", e))?
            .ok_or(ProviderError::Cancelled)?;
        encode_s += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let cross = model
            .decoder
            .cross(&audio)
            .map_err(|e| model_error("decoder", e))?;
        let lang = match lang_token {
            Some(token) => token,
            None => *lang_token.insert(detect_language(model, &cross)?),
        };
        let decoded = decode_window(model, &cross, lang, cancel)?;
        decode_s += clock.elapsed().as_secs_f64();
        if decoded.no_speech_prob > NO_SPEECH_THRESHOLD && decoded.avg_logprob < LOGPROB_THRESHOLD {
            seek += window_frames;
            on_progress(seek.min(content) as f32 / content as f32);
            continue;
        }
        let (segments, consumed) =
            split_segments(&decoded.tokens, timestamp_begin, time_offset, window_frames);
        let text_tokens: Vec<u32> = segments
            .iter()
            .flat_map(|s| s.tokens.iter().copied())
            .collect();
        let clock = Instant::now();
        let code = model.language_code(lang).unwrap_or_default();
        let alignment = find_alignment(model, &cross, lang, &code, &text_tokens, window_frames)?;
        let placed = place_words(alignment, &segments, time_offset, &mut last_speech);
        align_s += clock.elapsed().as_secs_f64();
        let mut next = seek + consumed;
        if consumed < window_frames {
            // The window's text was cut mid-way: resume right after the last timed word,
            // which is more precise than the last timestamp token (openai-whisper does so
            // with word timestamps on).
            if let Some(last) = placed.last().filter(|w| w.end > time_offset) {
                next = ((last.end * 100.0).round() as usize).max(seek + 1);
            }
        }
        texts.extend(
            segments
                .iter()
                .map(|s| model.decode_text(&s.tokens).trim().to_string())
                .filter(|t| !t.is_empty()),
        );
        words.extend(placed);
        seek = next;
        on_progress(seek.min(content) as f32 / content as f32);
    }
    snap_words(&mut words, &SpeechMask::from_pcm(pcm));
    make_monotonic(&mut words);
    let seconds = pcm.len() as f64 / f64::from(SAMPLE_RATE);
    let elapsed = started.elapsed().as_secs_f64();
    tracing::info!(
        audio_s = seconds,
        elapsed_s = elapsed,
        rtf = elapsed / seconds.max(1e-9),
        mel_s,
        encode_s,
        decode_s,
        align_s,
        words = words.len(),
        "whisper transcription"
    );
    Ok(Transcript {
        language: lang_token
            .and_then(|t| model.language_code(t))
            .or_else(|| language.map(str::to_string))
            .unwrap_or_default(),
        text: texts.join(" "),
        words,
    })
}

/// Windows are timed separately; where one overlaps the previous, shift its start so times
/// never go backwards (the contract of [`Transcript::words`]).
fn make_monotonic(words: &mut [Word]) {
    let mut prev_end = 0f64;
    for w in words.iter_mut() {
        w.start = w.start.max(prev_end);
        w.end = w.end.max(w.start);
        prev_end = w.end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_words_are_pushed_forward() {
        let word = |start, end| Word {
            text: "w".into(),
            start,
            end,
            probability: 1.0,
        };
        let mut words = vec![
            word(0.0, 1.0),
            word(0.8, 1.5),
            word(1.2, 1.3),
            word(2.0, 2.5),
        ];
        make_monotonic(&mut words);
        let spans: Vec<(f64, f64)> = words.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(spans, vec![(0.0, 1.0), (1.0, 1.5), (1.5, 1.5), (2.0, 2.5)]);
    }

    #[tokio::test]
    async fn missing_model_names_the_file_and_the_fetch_script() {
        let dir = tempfile::tempdir().unwrap();
        let stt = WhisperStt::new(dir.path().to_path_buf(), "cpu".into());
        assert_eq!(stt.name(), "whisper-base");
        let err = stt.warm_up().await.unwrap_err().to_string();
        assert!(err.contains("model.bin is missing"), "{err}");
        assert!(err.contains("./scripts/fetch-models.sh"), "{err}");
    }
}
