//! Probing media files with ffprobe: duration, display size, which streams exist, and
//! whether the file is a still image (shown with `-loop 1`) or moving footage.

use super::MediaError;
use super::tool::{find_tool, run_tool};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// Seconds; `None` for stills and for streams that do not say.
    pub duration: Option<f64>,
    /// Display size (rotation applied): what the renderer's scale filter will see.
    pub width: u32,
    pub height: u32,
    pub has_video: bool,
    pub has_audio: bool,
    pub is_still: bool,
}

/// Codecs that only ever hold single pictures, or usually do (mjpeg: JPEG files; gif is
/// left out because animated GIFs are footage).
const IMAGE_CODECS: &[&str] = &[
    "png", "mjpeg", "jpeg2000", "jpegls", "webp", "bmp", "tiff", "ppm", "pgm", "pam", "qoi",
];

/// A still that claims a duration claims about one frame's worth; anything longer is video.
const STILL_MAX_SECS: f64 = 0.1;

#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    duration: Option<String>,
    nb_frames: Option<String>,
    #[serde(default)]
    disposition: Disposition,
    #[serde(default)]
    side_data_list: Vec<SideData>,
    #[serde(default)]
    tags: Tags,
}

#[derive(Default, Deserialize)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

#[derive(Deserialize)]
struct SideData {
    rotation: Option<f64>,
}

#[derive(Default, Deserialize)]
struct Tags {
    rotate: Option<String>,
}

#[derive(Deserialize)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
}

/// Probes `path`. Anything ffprobe cannot make sense of is `Unreadable`, naming the file.
pub async fn probe(path: &Path, cancel: &CancellationToken) -> Result<MediaInfo, MediaError> {
    let ffprobe = find_tool("ffprobe")?;
    let unreadable = |message: String| MediaError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    // ffprobe happily "opens" an empty file as nothing; say so plainly instead.
    match tokio::fs::metadata(path).await {
        Ok(meta) if meta.len() == 0 => return Err(unreadable("the file is empty".into())),
        Ok(_) => {}
        Err(err) => return Err(unreadable(err.to_string())),
    }
    let mut cmd = Command::new(ffprobe);
    cmd.args([
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_streams",
        "-show_format",
    ])
    .arg(path);
    let output = match run_tool(&mut cmd, "ffprobe", cancel).await {
        Ok(output) => output,
        Err(MediaError::Failed { stderr_tail, .. }) => return Err(unreadable(stderr_tail)),
        Err(other) => return Err(other),
    };
    let report: Report = serde_json::from_slice(&output.stdout)
        .map_err(|e| unreadable(format!("ffprobe printed unexpected JSON: {e}")))?;
    interpret(&report).map_err(unreadable)
}

fn interpret(report: &Report) -> Result<MediaInfo, String> {
    let format_name = report
        .format
        .as_ref()
        .and_then(|f| f.format_name.as_deref())
        .unwrap_or("");
    // The tty demuxer turns any text file into "ANSI art" video; that is never footage.
    if format_name == "tty" {
        return Err("a text file, not media".into());
    }
    // Cover art inside audio files is a video stream too, but not footage.
    let video = report
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0);
    let has_audio = report
        .streams
        .iter()
        .any(|s| s.codec_type.as_deref() == Some("audio"));
    if video.is_none() && !has_audio {
        return Err("no video or audio stream".into());
    }

    let format_duration = report
        .format
        .as_ref()
        .and_then(|f| parse_secs(f.duration.as_deref()));
    let stream_duration = report
        .streams
        .iter()
        .filter_map(|s| parse_secs(s.duration.as_deref()))
        .reduce(f64::max);
    let duration = format_duration.or(stream_duration);

    let (mut width, mut height) = video
        .map(|v| (v.width.unwrap_or(0), v.height.unwrap_or(0)))
        .unwrap_or((0, 0));
    if let Some(v) = video {
        if width == 0 || height == 0 {
            return Err("the video stream has no frame size".into());
        }
        // Phone footage is stored sideways with a rotation flag; ffmpeg rotates on decode,
        // so callers must see the upright size.
        if quarter_turn(v) {
            std::mem::swap(&mut width, &mut height);
        }
    }

    let is_still = video.is_some_and(|v| {
        let image_format = format_name == "image2" || format_name.ends_with("_pipe");
        let image_codec = v
            .codec_name
            .as_deref()
            .is_some_and(|c| IMAGE_CODECS.contains(&c));
        let single_frame = v.nb_frames.as_deref() == Some("1");
        let no_length = duration.is_none_or(|d| d <= STILL_MAX_SECS);
        !has_audio && (image_format || (image_codec && (no_length || single_frame)))
    });

    Ok(MediaInfo {
        duration: if is_still { None } else { duration },
        width,
        height,
        has_video: video.is_some(),
        has_audio,
        is_still,
    })
}

fn quarter_turn(stream: &Stream) -> bool {
    let from_side_data = stream.side_data_list.iter().find_map(|d| d.rotation);
    let from_tag = stream.tags.rotate.as_deref().and_then(|r| r.parse().ok());
    from_side_data
        .or(from_tag)
        .is_some_and(|deg: f64| (deg.abs().round() as i64) % 180 == 90)
}

/// ffprobe prints numbers as strings and "N/A" when unknown.
fn parse_secs(value: Option<&str>) -> Option<f64> {
    value
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ffmpeg(args: &[&str], out: &Path) {
        let status = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(args)
            .arg(out)
            .status()
            .expect("ffmpeg must be installed for media tests");
        assert!(status.success(), "ffmpeg {args:?} failed");
    }

    fn make(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
        let path = dir.join(name);
        ffmpeg(args, &path);
        path
    }

    async fn probe_ok(path: &Path) -> MediaInfo {
        probe(path, &CancellationToken::new()).await.unwrap()
    }

    #[tokio::test]
    async fn video_with_audio() {
        let dir = tempfile::tempdir().unwrap();
        let path = make(
            dir.path(),
            "v.mp4",
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=s=320x180:r=25:d=2",
                "-f",
                "lavfi",
                "-i",
                "sine=d=2",
                "-shortest",
            ],
        );
        let info = probe_ok(&path).await;
        assert_eq!((info.width, info.height), (320, 180));
        assert!(info.has_video && info.has_audio && !info.is_still);
        let duration = info.duration.unwrap();
        assert!((duration - 2.0).abs() < 0.1, "{duration}");
    }

    #[tokio::test]
    async fn silent_video_and_rotated_video() {
        let dir = tempfile::tempdir().unwrap();
        let path = make(
            dir.path(),
            "v.mp4",
            &["-f", "lavfi", "-i", "testsrc2=s=200x100:d=1"],
        );
        let info = probe_ok(&path).await;
        assert!(info.has_video && !info.has_audio && !info.is_still);

        let rotated = dir.path().join("r.mp4");
        let input = path.to_string_lossy().into_owned();
        ffmpeg(
            &["-i", &input, "-c", "copy", "-metadata:s:v:0", "rotate=90"],
            &rotated,
        );
        let info = probe_ok(&rotated).await;
        assert_eq!((info.width, info.height), (100, 200));
    }

    #[tokio::test]
    async fn images_are_stills() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.png", "a.jpg", "a.webp"] {
            let path = make(
                dir.path(),
                name,
                &["-f", "lavfi", "-i", "testsrc2=s=64x48", "-frames:v", "1"],
            );
            let info = probe_ok(&path).await;
            assert!(info.is_still, "{name}: {info:?}");
            assert!(info.has_video && !info.has_audio, "{name}");
            assert_eq!((info.width, info.height), (64, 48), "{name}");
            assert_eq!(info.duration, None, "{name}");
        }
    }

    #[tokio::test]
    async fn audio_only_wav() {
        let dir = tempfile::tempdir().unwrap();
        let path = make(dir.path(), "a.wav", &["-f", "lavfi", "-i", "sine=d=1.5"]);
        let info = probe_ok(&path).await;
        assert!(!info.has_video && info.has_audio && !info.is_still);
        assert_eq!((info.width, info.height), (0, 0));
        assert!((info.duration.unwrap() - 1.5).abs() < 0.05);
    }

    #[tokio::test]
    async fn unreadable_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "lorem ipsum dolor sit amet\n".repeat(3000)).unwrap();
        let empty = dir.path().join("empty.mp4");
        std::fs::write(&empty, b"").unwrap();
        let garbage = dir.path().join("garbage.mp4");
        let bytes: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        std::fs::write(&garbage, bytes).unwrap();
        let whole = make(
            dir.path(),
            "whole.mp4",
            &["-f", "lavfi", "-i", "testsrc2=d=2"],
        );
        let truncated = dir.path().join("truncated.mp4");
        let data = std::fs::read(&whole).unwrap();
        std::fs::write(&truncated, &data[..data.len() / 2]).unwrap();
        let missing = dir.path().join("missing.mp4");

        for path in [text, empty, garbage, truncated, missing] {
            match probe(&path, &CancellationToken::new()).await {
                Err(MediaError::Unreadable {
                    path: named,
                    message,
                }) => {
                    assert_eq!(named, path);
                    assert!(!message.is_empty());
                }
                other => panic!("{}: expected Unreadable, got {other:?}", path.display()),
            }
        }
    }

    #[tokio::test]
    async fn cancelled_probe_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = make(dir.path(), "a.wav", &["-f", "lavfi", "-i", "sine=d=0.2"]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = probe(&path, &cancel).await.unwrap_err();
        assert!(matches!(err, MediaError::Cancelled), "{err:?}");
    }
}
