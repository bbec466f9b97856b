//! Audio input for recognition: any file ffmpeg can read, decoded to 16 kHz mono f32.

use super::PROVIDER;
use crate::media::MediaError;
use crate::media::tool::{find_tool, run_tool};
use crate::providers::ProviderError;
use std::path::Path;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// The sample rate Whisper was trained on.
pub const SAMPLE_RATE: u32 = 16_000;

/// Decodes `path` (wav, mp3, m4a, aac, flac, ogg, or the audio track of a video) to 16 kHz
/// mono samples (ffmpeg's downmix; the log-mel front end is level-independent). Cancelling kills ffmpeg. Unreadable input gives a
/// [`ProviderError::Media`] that names the file.
pub async fn decode_pcm(
    path: &Path,
    cancel: &CancellationToken,
) -> Result<Vec<f32>, ProviderError> {
    // Checked here so a typo reads as "no such file", not as an ffmpeg error dump.
    if !path.is_file() {
        return Err(media_error(path, "no such file"));
    }
    let ffmpeg = find_tool("ffmpeg").map_err(|e| ProviderError::Invalid {
        provider: PROVIDER.into(),
        message: e.to_string(),
    })?;
    let mut cmd = Command::new(ffmpeg);
    cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        // Raw little-endian floats on stdout: no temporary file and no WAV header to parse.
        .args(["-vn", "-map", "0:a:0", "-f", "f32le", "-ac", "1", "-ar"])
        .arg(SAMPLE_RATE.to_string())
        .arg("pipe:1");
    let output = run_tool(&mut cmd, "ffmpeg", cancel)
        .await
        .map_err(|e| match e {
            MediaError::Cancelled => ProviderError::Cancelled,
            MediaError::Failed { stderr_tail, .. } => {
                media_error(path, &format!("not a readable audio file: {stderr_tail}"))
            }
            other => media_error(path, &other.to_string()),
        })?;
    let samples = samples_from_f32le(&output.stdout);
    if samples.is_empty() {
        return Err(media_error(path, "contains no audio"));
    }
    Ok(samples)
}

/// Little-endian f32 bytes to samples; a trailing partial sample (never expected) is dropped.
fn samples_from_f32le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn media_error(path: &Path, why: &str) -> ProviderError {
    ProviderError::Media {
        provider: PROVIDER.into(),
        message: format!("{}: {why}", path.display()),
        transient: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 0.5 s 440 Hz tone at 44.1 kHz, written with hound.
    fn write_tone(path: &Path, channels: u16) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..22_050 {
            let t = i as f32 / 44_100.0;
            let v = (0.5 * (2.0 * std::f32::consts::PI * 440.0 * t).sin() * 32767.0) as i16;
            for _ in 0..channels {
                w.write_sample(v).unwrap();
            }
        }
        w.finalize().unwrap();
    }

    #[tokio::test]
    async fn resamples_to_16k_mono() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("tone.wav");
        write_tone(&wav, 1);
        let pcm = decode_pcm(&wav, &CancellationToken::new()).await.unwrap();
        // 0.5 s at 16 kHz, give or take the resampler's edge.
        assert!((pcm.len() as i64 - 8000).abs() < 100, "{}", pcm.len());
        let peak = pcm.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 0.05, "peak {peak}");
        // Stereo is downmixed (ffmpeg's matrix: ×0.707 per channel), same length.
        write_tone(&wav, 2);
        let stereo = decode_pcm(&wav, &CancellationToken::new()).await.unwrap();
        assert_eq!(stereo.len(), pcm.len());
        let peak = stereo.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.45 && peak < 0.75, "peak {peak}");
    }

    #[tokio::test]
    async fn compressed_formats_decode_too() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("tone.wav");
        write_tone(&wav, 2);
        for ext in ["mp3", "flac", "ogg", "m4a"] {
            let out = dir.path().join(format!("tone.{ext}"));
            let status = std::process::Command::new("ffmpeg")
                .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
                .arg(&wav)
                .arg(&out)
                .status()
                .unwrap();
            assert!(status.success(), "ffmpeg could not write {ext}");
            let pcm = decode_pcm(&out, &CancellationToken::new()).await.unwrap();
            // Encoders may pad a frame or two at either end.
            assert!(pcm.len() > 7500 && pcm.len() < 9500, "{ext}: {}", pcm.len());
            let peak = pcm.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(peak > 0.4, "{ext}: peak {peak}");
        }
    }

    #[tokio::test]
    async fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "this is not audio\n").unwrap();
        let err = decode_pcm(&text, &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Media { .. }), "{err:?}");
        assert!(err.to_string().contains("notes.txt"), "{err}");
        assert!(!err.is_transient());

        let missing = dir.path().join("missing.wav");
        let err = decode_pcm(&missing, &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("missing.wav: no such file"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn cancelled_before_start() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("tone.wav");
        write_tone(&wav, 1);
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = decode_pcm(&wav, &cancel).await.unwrap_err();
        assert!(matches!(err, ProviderError::Cancelled), "{err:?}");
    }

    #[test]
    fn parses_little_endian_floats() {
        let mut bytes = Vec::new();
        for v in [0.25f32, -1.0, 0.5] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.push(7);
        assert_eq!(samples_from_f32le(&bytes), vec![0.25, -1.0, 0.5]);
    }
}
