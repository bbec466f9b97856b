//! The espeak-ng voice (Debian package): robotic but always available, fully offline.
//! Each sentence is synthesized on its own, so its start and end in the narration are exact.

use super::{Narration, SpokenSentence, SynthProgress, TtsProvider};
use crate::fsutil::{commit_part, part_path};
use crate::media::MediaError;
use crate::media::tool::{find_tool, run_tool};
use crate::providers::ProviderError;
use async_trait::async_trait;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_util::sync::CancellationToken;

/// espeak-ng's own default speed, words per minute.
const BASE_WPM: f64 = 175.0;
const SYNTHS_AT_ONCE: usize = 2;

pub struct EspeakVoice {
    pub voice: String,
    pub rate: f64,
    pub volume: f64,
    pub sentence_gap_ms: u32,
}

impl EspeakVoice {
    fn error(message: String) -> ProviderError {
        ProviderError::Invalid {
            provider: "espeak-ng".into(),
            message,
        }
    }

    async fn synthesize_one(
        &self,
        text: &str,
        index: usize,
        scratch: &Path,
        cancel: &CancellationToken,
    ) -> Result<PathBuf, ProviderError> {
        let text_file = scratch.join(format!("sentence-{index:03}.txt"));
        let wav = scratch.join(format!("sentence-{index:03}.wav"));
        // The text goes through a file so that a sentence starting with '-' is never an option.
        tokio::fs::write(&text_file, text)
            .await
            .map_err(|e| Self::error(format!("cannot write {}: {e}", text_file.display())))?;
        let exe = find_tool("espeak-ng").map_err(media_to_provider)?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg("-v")
            .arg(&self.voice)
            .arg("-s")
            .arg(format!("{:.0}", BASE_WPM * self.rate))
            .arg("-a")
            .arg(format!("{:.0}", (100.0 * self.volume).clamp(0.0, 200.0)))
            .arg("-w")
            .arg(&wav)
            .arg("-f")
            .arg(&text_file);
        run_tool(&mut cmd, "espeak-ng", cancel)
            .await
            .map_err(media_to_provider)?;
        Ok(wav)
    }
}

fn media_to_provider(err: MediaError) -> ProviderError {
    match err {
        MediaError::Cancelled => ProviderError::Cancelled,
        other => ProviderError::Media {
            provider: "espeak-ng".into(),
            message: other.to_string(),
            transient: false,
        },
    }
}

#[async_trait]
impl TtsProvider for EspeakVoice {
    fn name(&self) -> &str {
        "espeak-ng"
    }

    fn fingerprint(&self) -> String {
        format!(
            "espeak-ng voice={} rate={} volume={} gap={}",
            self.voice, self.rate, self.volume, self.sentence_gap_ms
        )
    }

    async fn synthesize(
        &self,
        sentences: &[String],
        out_wav: &Path,
        cancel: &CancellationToken,
        on_progress: SynthProgress<'_>,
    ) -> Result<Narration, ProviderError> {
        if sentences.iter().all(|s| s.trim().is_empty()) {
            return Err(Self::error(
                "nothing to say: the script has no sentences".into(),
            ));
        }
        let scratch = out_wav
            .parent()
            .unwrap_or(Path::new("."))
            .join(".work")
            .join("voice");
        std::fs::create_dir_all(&scratch)
            .map_err(|e| Self::error(format!("cannot create {}: {e}", scratch.display())))?;
        let done = AtomicUsize::new(0);
        let results: Vec<Result<PathBuf, ProviderError>> =
            futures_util::stream::iter(sentences.iter().cloned().enumerate())
                .map(|(i, text)| {
                    let done = &done;
                    let scratch = &scratch;
                    async move {
                        let wav = self.synthesize_one(&text, i, scratch, cancel).await;
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        on_progress(n as f32 / sentences.len() as f32);
                        wav
                    }
                })
                .buffered(SYNTHS_AT_ONCE)
                .collect()
                .await;
        let wavs = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        let narration = join_wavs(&wavs, sentences, self.sentence_gap_ms, out_wav)?;
        let _ = std::fs::remove_dir_all(&scratch);
        Ok(narration)
    }
}

/// Concatenates per-sentence WAVs with a gap between them; timings come from sample counts.
fn join_wavs(
    wavs: &[PathBuf],
    sentences: &[String],
    gap_ms: u32,
    out_wav: &Path,
) -> Result<Narration, ProviderError> {
    let fail = |what: &Path, e: hound::Error| {
        EspeakVoice::error(format!("cannot use audio {}: {e}", what.display()))
    };
    let first = hound::WavReader::open(&wavs[0]).map_err(|e| fail(&wavs[0], e))?;
    let spec = first.spec();
    drop(first);
    let rate = spec.sample_rate;
    let gap_samples = (u64::from(gap_ms) * u64::from(rate) / 1000) as usize;
    let part = part_path(out_wav);
    let mut writer = hound::WavWriter::create(&part, spec).map_err(|e| fail(&part, e))?;
    let mut position: u64 = 0;
    let mut spoken = Vec::with_capacity(wavs.len());
    for (i, wav) in wavs.iter().enumerate() {
        let mut reader = hound::WavReader::open(wav).map_err(|e| fail(wav, e))?;
        if reader.spec() != spec {
            return Err(EspeakVoice::error(format!(
                "{} has a different audio format than the first sentence",
                wav.display()
            )));
        }
        let start = position;
        for sample in reader.samples::<i16>() {
            writer
                .write_sample(sample.map_err(|e| fail(wav, e))?)
                .map_err(|e| fail(&part, e))?;
            position += 1;
        }
        spoken.push(SpokenSentence {
            text: sentences[i].clone(),
            start: start as f64 / f64::from(rate),
            end: position as f64 / f64::from(rate),
        });
        if i + 1 < wavs.len() {
            for _ in 0..gap_samples {
                writer.write_sample(0i16).map_err(|e| fail(&part, e))?;
            }
            position += gap_samples as u64;
        }
    }
    writer.finalize().map_err(|e| fail(&part, e))?;
    commit_part(&part, out_wav)
        .map_err(|e| EspeakVoice::error(format!("cannot write {}: {e}", out_wav.display())))?;
    Ok(Narration {
        duration: position as f64 / f64::from(rate),
        sample_rate: rate,
        sentences: spoken,
    })
}
