//! Keyframes of a clip for image–text scoring: a few frames spread over a video (one for a
//! still), each scaled so its shorter side fits a square and the middle cropped, as CLIP's
//! own preprocessing does, and written as binary PPM: a format the scorer reads without an
//! image decoder. Generated (lavfi) backgrounds show nothing a sentence could name, so they
//! have none.

use super::probe::probe;
use super::tool::{find_tool, run_tool};
use super::{ClipSource, MediaError};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// Where in a video the keyframes are taken, as fractions of its length: away from the
/// ends, where stock clips fade in and out, and far enough apart to catch a change of shot.
pub const POSITIONS: [f64; 3] = [0.2, 0.5, 0.8];

/// Writes the keyframes of `source` into `dir` as `{stem}-{n}.ppm`, `size`×`size` pixels,
/// and returns the files ffmpeg wrote, in time order. `duration` is the clip's usable length
/// (probed when `None`). One ffmpeg run per clip, killed on cancel; its stderr is kept in
/// errors.
pub async fn extract(
    source: &ClipSource,
    duration: Option<f64>,
    size: u32,
    dir: &Path,
    stem: &str,
    cancel: &CancellationToken,
) -> Result<Vec<PathBuf>, MediaError> {
    let (input, times) = match source {
        ClipSource::Lavfi(_) => return Ok(Vec::new()),
        ClipSource::Image(path) => (path, vec![None]),
        ClipSource::Video(path) => {
            let length = match duration {
                Some(d) => Some(d),
                None => probe(path, cancel).await?.duration,
            };
            let times = match length.filter(|d| d.is_finite() && *d > 0.0) {
                Some(d) => POSITIONS.iter().map(|f| Some(f * d)).collect(),
                // A stream that does not say how long it is still has a first frame.
                None => vec![Some(0.0)],
            };
            (path, times)
        }
    };
    let outputs: Vec<PathBuf> = (0..times.len())
        .map(|n| dir.join(format!("{stem}-{n}.ppm")))
        .collect();
    // A frame left from an earlier attempt must not pass for this one's.
    for out in &outputs {
        if let Err(source) = tokio::fs::remove_file(out).await
            && source.kind() != std::io::ErrorKind::NotFound
        {
            return Err(MediaError::Io {
                context: format!("removing the old keyframe {}", out.display()),
                source,
            });
        }
    }
    let mut cmd = Command::new(find_tool("ffmpeg")?);
    cmd.args(arguments(input, &times, size, &outputs));
    run_tool(&mut cmd, "ffmpeg", cancel).await?;
    // A seek past the real end (a duration that overstated it) gives no frame, and ffmpeg
    // still succeeds: such a keyframe is simply absent.
    let mut written = Vec::with_capacity(outputs.len());
    for out in outputs {
        if tokio::fs::metadata(&out).await.is_ok_and(|m| m.len() > 0) {
            written.push(out);
        }
    }
    Ok(written)
}

/// The ffmpeg command line: the input opened once per keyframe, each seeked on its own
/// (input seeking jumps to the nearest key frame, then decodes to the exact time), and one
/// single-image output per opening.
fn arguments(input: &Path, times: &[Option<f64>], size: u32, outputs: &[PathBuf]) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        .map(OsString::from)
        .to_vec();
    for time in times {
        if let Some(t) = time {
            args.extend(["-ss".into(), format!("{t:.3}").into()]);
        }
        args.extend(["-i".into(), input.as_os_str().to_owned()]);
    }
    let square = format!(
        "scale={size}:{size}:force_original_aspect_ratio=increase:flags=bicubic,crop={size}:{size}"
    );
    for (n, out) in outputs.iter().enumerate() {
        args.extend(
            [
                "-map".to_string(),
                format!("{n}:v:0"),
                "-frames:v".into(),
                "1".into(),
                "-vf".into(),
                square.clone(),
                "-pix_fmt".into(),
                "rgb24".into(),
                "-update".into(),
                "1".into(),
            ]
            .map(OsString::from),
        );
        args.push(out.as_os_str().to_owned());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clip ffmpeg generates: `seconds` of a solid colour, or a still PNG when `None`.
    async fn make(dir: &Path, name: &str, colour: &str, seconds: Option<u32>) -> PathBuf {
        let path = dir.join(name);
        let mut cmd = Command::new("ffmpeg");
        let source = format!("color=c={colour}:s=96x64:r=10:d={}", seconds.unwrap_or(1));
        cmd.args(["-y", "-f", "lavfi", "-i", &source, "-frames:v"])
            .arg(if seconds.is_some() { "1000" } else { "1" })
            .arg(&path);
        run_tool(&mut cmd, "ffmpeg", &CancellationToken::new())
            .await
            .unwrap();
        path
    }

    #[test]
    fn one_input_and_one_output_per_time() {
        let outs = [PathBuf::from("a-0.ppm"), PathBuf::from("a-1.ppm")];
        let args = arguments(Path::new("in.mp4"), &[Some(1.0), Some(2.5)], 32, &outs);
        let text: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = text.join(" ");
        assert!(
            joined.contains("-ss 1.000 -i in.mp4 -ss 2.500 -i in.mp4"),
            "{joined}"
        );
        assert!(joined.contains("-map 1:v:0"), "{joined}");
        assert!(joined.contains("crop=32:32"), "{joined}");
        assert_eq!(text.last().map(String::as_str), Some("a-1.ppm"));
        let still = arguments(Path::new("in.png"), &[None], 32, &outs[..1]);
        assert!(!still.iter().any(|a| a == "-ss"));
    }

    #[tokio::test]
    async fn videos_give_three_frames_stills_one_generated_none() {
        let dir = tempfile::tempdir().unwrap();
        let video = make(dir.path(), "red.mp4", "red", Some(2)).await;
        let still = make(dir.path(), "blue.png", "blue", None).await;
        let cancel = CancellationToken::new();
        let source = ClipSource::Video(video);
        let frames = extract(&source, None, 16, dir.path(), "v", &cancel)
            .await
            .unwrap();
        assert_eq!(frames.len(), 3);
        let bytes = std::fs::read(&frames[1]).unwrap();
        assert!(bytes.starts_with(b"P6\n16 16\n255\n"));
        assert_eq!(bytes.len(), 13 + 16 * 16 * 3);
        // Red stays red through the scaling and the colour conversion.
        assert!(bytes[13] > 200 && bytes[14] < 60 && bytes[15] < 60);

        let one = extract(
            &ClipSource::Image(still),
            None,
            16,
            dir.path(),
            "s",
            &cancel,
        )
        .await
        .unwrap();
        assert_eq!(one.len(), 1);
        let lavfi = ClipSource::Lavfi("testsrc2".into());
        assert!(
            extract(&lavfi, Some(5.0), 16, dir.path(), "g", &cancel)
                .await
                .unwrap()
                .is_empty()
        );
        // A length that overstates the clip loses the frames past its end, not the call.
        let long = extract(&source, Some(6.0), 16, dir.path(), "l", &cancel)
            .await
            .unwrap();
        assert_eq!(long.len(), 1, "{long:?}");
    }

    #[tokio::test]
    async fn errors_keep_stderr_and_cancel_stops() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("broken.mp4");
        std::fs::write(&bad, b"not a video").unwrap();
        let err = extract(
            &ClipSource::Video(bad),
            Some(3.0),
            16,
            dir.path(),
            "b",
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        let MediaError::Failed { stderr_tail, .. } = &err else {
            panic!("expected Failed, got {err:?}");
        };
        assert!(stderr_tail.contains("broken.mp4"), "{stderr_tail}");
        let cancel = CancellationToken::new();
        cancel.cancel();
        let source = ClipSource::Image(dir.path().join("x.png"));
        let err = extract(&source, None, 16, dir.path(), "c", &cancel).await;
        assert!(matches!(err, Err(MediaError::Cancelled)), "{err:?}");
    }
}
