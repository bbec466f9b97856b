//! Whisper's log-mel front end, as openai-whisper computes it: a centred STFT (n_fft 400,
//! hop 160, periodic Hann window, reflect padding), power spectrum, an 80-band Slaney mel
//! filter bank built here from its formulas, log10, a floor 8 below the maximum, (x+4)/4.
//!
//! The DFT runs as one matrix product per chunk of frames (window folded into the basis)
//! so the heavy arithmetic happens in candle's optimized kernels, not in this crate's
//! (unoptimized in debug) loops.

use candle_core::{Device, Result, Tensor};

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
/// Frequency bins of one frame: 0 Hz to Nyquist, 40 Hz apart.
pub const N_BINS: usize = N_FFT / 2 + 1;
/// Mel frames in one 30 s window (100 per second).
pub const WINDOW_FRAMES: usize = 3000;
/// Frames per STFT matrix product: bounds memory on long audio.
const CHUNK_FRAMES: usize = 1000;

/// The Slaney-style mel filter bank librosa builds with
/// `filters.mel(sr, n_fft, n_mels, htk=False, norm="slaney")`, row-major `[n_mels][n_fft/2+1]`:
/// triangles between adjacent mel-spaced frequencies, each scaled to unit area in Hz.
pub fn mel_filters(sample_rate: usize, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    let nyquist = sample_rate as f64 / 2.0;
    let bin_hz: Vec<f64> = (0..n_bins)
        .map(|k| k as f64 * sample_rate as f64 / n_fft as f64)
        .collect();
    let top = hz_to_mel(nyquist);
    // n_mels + 2 edges: triangle i spans edges i..i+2 and peaks at edge i+1.
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = Vec::with_capacity(n_mels * n_bins);
    for i in 0..n_mels {
        let (lo, mid, hi) = (edges[i], edges[i + 1], edges[i + 2]);
        let area_norm = 2.0 / (hi - lo);
        for &f in &bin_hz {
            let rising = (f - lo) / (mid - lo);
            let falling = (hi - f) / (hi - mid);
            out.push((rising.min(falling).max(0.0) * area_norm) as f32);
        }
    }
    out
}

/// Slaney's mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let log_step = 6.4f64.ln() / 27.0;
    if hz < MIN_LOG_HZ {
        hz / F_SP
    } else {
        MIN_LOG_HZ / F_SP + (hz / MIN_LOG_HZ).ln() / log_step
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let log_step = 6.4f64.ln() / 27.0;
    if mel < min_log_mel {
        mel * F_SP
    } else {
        MIN_LOG_HZ * (log_step * (mel - min_log_mel)).exp()
    }
}

/// The log-mel spectrogram of a whole recording.
pub struct LogMel {
    /// `[n_mels, frames]`: `content_frames` (at least 1).
    pub mel: Tensor,
    /// Frames that hold audio (100 per second).
    pub content_frames: usize,
}

impl LogMel {
    /// The 3000-frame window starting at `seek`, shaped `[1, n_mels, 3000]` for the encoder.
    /// Frames past the end of the audio are zeros, as openai-whisper's `transcribe` pads
    /// (`pad_or_trim` on the mel segment), rather than the log-mel of silence.
    pub fn window(&self, seek: usize) -> Result<Tensor> {
        let audio = WINDOW_FRAMES.min(self.content_frames.saturating_sub(seek));
        let window = self.mel.narrow(1, seek, audio)?;
        let window = if audio < WINDOW_FRAMES {
            let (n_mels, device) = (self.mel.dim(0)?, self.mel.device());
            let pad = Tensor::zeros((n_mels, WINDOW_FRAMES - audio), self.mel.dtype(), device)?;
            Tensor::cat(&[&window, &pad], 1)?
        } else {
            window
        };
        window.unsqueeze(0)
    }
}

/// The tensors the front end reuses between recordings.
pub struct MelFrontEnd {
    /// `[N_FFT, 2 * N_BINS]`: Hann-windowed cosines, then negated sines.
    basis: Tensor,
    /// `[N_BINS, n_mels]`.
    filters_t: Tensor,
}

impl MelFrontEnd {
    pub fn new(n_mels: usize) -> Result<Self> {
        let cpu = Device::Cpu;
        let mut basis = vec![0f32; N_FFT * 2 * N_BINS];
        for n in 0..N_FFT {
            let phase = 2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64;
            let hann = 0.5 * (1.0 - phase.cos());
            for k in 0..N_BINS {
                let angle = phase * k as f64;
                basis[n * 2 * N_BINS + k] = (hann * angle.cos()) as f32;
                basis[n * 2 * N_BINS + N_BINS + k] = (-hann * angle.sin()) as f32;
            }
        }
        let basis = Tensor::from_vec(basis, (N_FFT, 2 * N_BINS), &cpu)?;
        let filters = mel_filters(SAMPLE_RATE, N_FFT, n_mels);
        let filters_t = Tensor::from_vec(filters, (n_mels, N_BINS), &cpu)?
            .t()?
            .contiguous()?;
        Ok(MelFrontEnd { basis, filters_t })
    }

    /// The log-mel spectrogram of 16 kHz mono `samples`, placed on `device`.
    pub fn compute(&self, samples: &[f32], device: &Device) -> Result<LogMel> {
        // openai-whisper appends 30 s of zeros before the STFT and keeps 100 frames per
        // second of audio; frames past the audio are never used (windows are zero-padded
        // instead), so zeros for the last frames' right halves are all the tail needs.
        let content_frames = samples.len() / HOP;
        let frames = content_frames.max(1);
        let half = N_FFT / 2;
        // Reflect-pad the head by half a frame (torch.stft center=True).
        let mut signal = Vec::with_capacity(frames * HOP + N_FFT);
        signal.extend(
            (1..=half)
                .rev()
                .map(|i| samples.get(i).copied().unwrap_or(0.0)),
        );
        signal.extend_from_slice(samples);
        signal.resize(frames * HOP + N_FFT, 0.0);
        let mut chunks = Vec::new();
        let mut buf = Vec::with_capacity(CHUNK_FRAMES * N_FFT);
        for first in (0..frames).step_by(CHUNK_FRAMES) {
            let count = CHUNK_FRAMES.min(frames - first);
            buf.clear();
            for f in first..first + count {
                buf.extend_from_slice(&signal[f * HOP..f * HOP + N_FFT]);
            }
            let x = Tensor::from_slice(&buf, (count, N_FFT), &Device::Cpu)?;
            let spectrum = x.matmul(&self.basis)?;
            let power = (spectrum.narrow(1, 0, N_BINS)?.sqr()?
                + spectrum.narrow(1, N_BINS, N_BINS)?.sqr()?)?;
            let mel = power.matmul(&self.filters_t)?;
            chunks.push((mel.maximum(1e-10)?.log()? / std::f64::consts::LN_10)?);
        }
        let log = Tensor::cat(&chunks, 0)?;
        let max = log.max_all()?.to_scalar::<f32>()?;
        let mel = log
            .maximum(f64::from(max) - 8.0)?
            .affine(0.25, 1.0)?
            .t()?
            .contiguous()?
            .to_device(device)?;
        Ok(LogMel {
            mel,
            content_frames,
        })
    }
}

#[cfg(test)]
#[path = "mel_tests.rs"]
mod tests;
