//! Shared helpers of the real-ffmpeg render tests (`tests/render_*.rs`): generated clips at
//! several sizes and frame rates, stills, a narration of tone bursts with silent gaps, a music
//! bed, the plan around them, and the measurements (ffprobe streams, frame counts, black
//! spans, gray frames, loudness). They need ffmpeg and ffprobe and panic without them.
//!
//! Include it with `#[path = "support/render.rs"] mod render_support;`.

// Each test crate that includes this uses only some of the helpers; the others would warn
// as dead code there.
#![allow(dead_code)]

use reelforge::media::ClipSource;
use reelforge::media::render::{EncoderSettings, Fill, RenderPlan, Segment, Transition, render};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio_util::sync::CancellationToken;

/// The narration speaks (a 330 Hz tone) for this long in every `BURST_PERIOD`...
pub const BURST_ON: f64 = 1.2;
/// ...and is silent for the rest of each period.
pub const BURST_PERIOD: f64 = 2.0;

/// Runs ffmpeg with `args` (output last); panics with its stderr on failure. Returns stdout
/// (frames piped out) and stderr (where filters such as blackdetect and ebur128 report).
pub fn ffmpeg<I, S>(args: I) -> (Vec<u8>, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg must be installed to run the render tests");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "ffmpeg: {stderr}");
    (output.stdout, stderr)
}

/// ffmpeg's stderr only.
fn ffmpeg_log<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ffmpeg(args).1
}

/// A test clip: `source` is a lavfi video source name with options but no size, rate or
/// length (`testsrc2`, `smptebars`, `color=c=navy`), `size` like `640x360`. With `audio`, a
/// 220 Hz AAC track rides along (the render must ignore it).
pub fn clip(
    dir: &Path,
    name: &str,
    source: &str,
    size: &str,
    fps: u32,
    secs: f64,
    audio: bool,
) -> PathBuf {
    let path = dir.join(name);
    let sep = if source.contains('=') { ':' } else { '=' };
    let video = format!("{source}{sep}s={size}:r={fps}:d={secs}");
    let mut args: Vec<String> = vec!["-f".into(), "lavfi".into(), "-i".into(), video];
    if audio {
        args.extend(["-f", "lavfi", "-i"].map(String::from));
        args.push(format!("sine=f=220:d={secs}"));
        args.extend(["-c:a", "aac", "-shortest"].map(String::from));
    }
    encode_footage(&args, &path);
    path
}

/// How generated footage is encoded: fast, in the pixel format every player reads.
const FOOTAGE_CODEC: [&str; 6] = [
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
];

/// Runs ffmpeg on `args` (inputs, filters, maps) and encodes the picture as footage
/// (libx264 ultrafast, yuv420p) into `out`.
pub fn encode_footage<S: AsRef<OsStr>>(args: &[S], out: &Path) {
    ffmpeg(
        args.iter()
            .map(AsRef::as_ref)
            .chain(FOOTAGE_CODEC.map(OsStr::new))
            .chain([out.as_os_str()]),
    );
}

/// A detailed still picture (one testsrc2 frame) of `size`, as PNG.
pub fn still(dir: &Path, name: &str, size: &str) -> PathBuf {
    let path = dir.join(name);
    let source = format!("testsrc2=s={size}");
    ffmpeg([
        OsStr::new("-f"),
        OsStr::new("lavfi"),
        OsStr::new("-i"),
        OsStr::new(&source),
        OsStr::new("-frames:v"),
        OsStr::new("1"),
        // The name as given, even with `%d` in it (not a numbered sequence).
        OsStr::new("-update"),
        OsStr::new("1"),
        path.as_os_str(),
    ]);
    path
}

/// A narration of `secs`: 330 Hz tone bursts, `BURST_ON` s in every `BURST_PERIOD` s, the
/// rest silent; mono 22.05 kHz like a TTS voice, about −14 LUFS integrated.
pub fn narration(dir: &Path, secs: f64) -> PathBuf {
    let path = dir.join(format!("voice-{secs}.wav"));
    let tone = format!(
        "aevalsrc=0.35*sin(2*PI*330*t)*lt(mod(t\\,{BURST_PERIOD})\\,{BURST_ON}):s=22050:d={secs}"
    );
    ffmpeg([
        OsStr::new("-f"),
        OsStr::new("lavfi"),
        OsStr::new("-i"),
        OsStr::new(&tone),
        path.as_os_str(),
    ]);
    path
}

/// 3 s of stereo pink noise as AAC: shorter than the renders, so the loop is exercised, and
/// rich above 2 kHz where the narration has nothing.
pub fn music(dir: &Path) -> PathBuf {
    let path = dir.join("music.m4a");
    ffmpeg([
        OsStr::new("-f"),
        OsStr::new("lavfi"),
        OsStr::new("-i"),
        OsStr::new("anoisesrc=c=pink:a=0.3:d=3:r=48000"),
        OsStr::new("-ac"),
        OsStr::new("2"),
        OsStr::new("-c:a"),
        OsStr::new("aac"),
        path.as_os_str(),
    ]);
    path
}

pub fn cut(source: ClipSource, start_in: f64, duration: f64) -> Segment {
    Segment {
        source,
        start_in,
        duration,
        speed: 1.0,
        transition: Transition::None,
    }
}

/// A plan of `segments` at `width`×`height` and `fps`, with a narration as long as the cuts
/// (generated in `dir`), ultrafast, nothing else.
pub fn plan(
    dir: &Path,
    (width, height, fps): (u32, u32, u32),
    segments: Vec<Segment>,
    name: &str,
) -> RenderPlan {
    let total: f64 = segments.iter().map(|s| s.duration).sum();
    plan_over(
        narration(dir, (total * 1000.0).round() / 1000.0),
        (width, height, fps),
        segments,
        dir.join(format!("{name}.mp4")),
    )
}

/// A plan of `segments` at `width`×`height` and `fps` over `narration`, written to `out`:
/// crop fill, 0.5 s transitions, libx264 ultrafast crf 30, no music, subtitles or loudness
/// target.
pub fn plan_over(
    narration: PathBuf,
    (width, height, fps): (u32, u32, u32),
    segments: Vec<Segment>,
    out: PathBuf,
) -> RenderPlan {
    RenderPlan {
        width,
        height,
        fps,
        segments,
        transition_secs: 0.5,
        fill: Fill::Crop,
        narration,
        music: None,
        loudness_lufs: None,
        subtitles: None,
        soft_subtitles: None,
        subtitles_fonts_dir: None,
        encoder: x264("ultrafast", 30),
        out,
    }
}

/// libx264 at `preset` and `crf`.
pub fn x264(preset: &str, crf: u32) -> EncoderSettings {
    EncoderSettings {
        codec: "libx264".into(),
        preset: preset.into(),
        crf,
    }
}

/// Renders `plan`, panicking with ffmpeg's error.
pub async fn render_ok(plan: &RenderPlan) {
    render(plan, &CancellationToken::new(), &|_| {})
        .await
        .unwrap_or_else(|e| panic!("render {}: {e}", plan.out.display()));
}

pub fn ffprobe(path: &Path) -> Value {
    let output = Command::new("ffprobe")
        .args("-v error -count_packets -print_format json -show_streams -show_format".split(' '))
        .arg(path)
        .output()
        .expect("ffprobe must be installed to run the render tests");
    assert!(output.status.success(), "ffprobe {}", path.display());
    serde_json::from_slice(&output.stdout).expect("ffprobe prints JSON")
}

/// The streams of `kind` (`video`, `audio`, `subtitle`) in ffprobe's `info`.
pub fn streams_of<'a>(info: &'a Value, kind: &str) -> Vec<&'a Value> {
    let streams = info["streams"].as_array().expect("streams");
    streams.iter().filter(|s| s["codec_type"] == kind).collect()
}

/// The file's duration in ffprobe's `info`, seconds.
pub fn format_duration(info: &Value) -> f64 {
    info["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("duration")
}

/// Checks the streams of the rendered file of `plan`: exactly one h264 video of the frame
/// size, one 48 kHz stereo aac audio and — with `soft_track` — one mov_text subtitle stream,
/// nothing else. Returns ffprobe's `info`.
pub fn check_streams(plan: &RenderPlan, soft_track: bool) -> Value {
    let info = ffprobe(&plan.out);
    let streams = info["streams"].as_array().expect("streams");
    let (video, audio, subs) = (
        streams_of(&info, "video"),
        streams_of(&info, "audio"),
        streams_of(&info, "subtitle"),
    );
    assert_eq!(streams.len(), 2 + usize::from(soft_track), "{info}");
    assert_eq!(
        (video.len(), audio.len(), subs.len()),
        (1, 1, usize::from(soft_track)),
        "{info}"
    );
    assert_eq!(video[0]["codec_name"], "h264");
    assert_eq!(video[0]["width"], plan.width);
    assert_eq!(video[0]["height"], plan.height);
    assert_eq!(audio[0]["codec_name"], "aac");
    assert_eq!(audio[0]["sample_rate"], "48000");
    assert_eq!(audio[0]["channels"], 2);
    if soft_track {
        assert_eq!(subs[0]["codec_name"], "mov_text");
    }
    info
}

/// `check_streams`, and the file as long as the cuts (±0.2 s) and the video exactly as many
/// frames (±1).
pub fn check_output(plan: &RenderPlan, soft_track: bool) -> Value {
    let info = check_streams(plan, soft_track);
    let total = plan.total_duration();
    let duration = format_duration(&info);
    assert!(
        (duration - total).abs() < 0.2,
        "duration {duration}, cuts {total}"
    );
    let frames: f64 = streams_of(&info, "video")[0]["nb_read_packets"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("frame count");
    let expected = (total * f64::from(plan.fps)).round();
    assert!(
        (frames - expected).abs() <= 1.0,
        "{frames} frames, expected {expected}"
    );
    info
}

/// The black spans blackdetect finds (`d=0.1:pix_th=0.1`): `(start, duration)`.
pub fn black_spans(video: &Path) -> Vec<(f64, f64)> {
    let log = ffmpeg_log([
        OsStr::new("-i"),
        video.as_os_str(),
        OsStr::new("-vf"),
        OsStr::new("blackdetect=d=0.1:pix_th=0.1"),
        OsStr::new("-an"),
        OsStr::new("-f"),
        OsStr::new("null"),
        OsStr::new("-"),
    ]);
    let field = |line: &str, key: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse().ok())
    };
    log.lines()
        .filter(|l| l.contains("black_start:"))
        .filter_map(|l| Some((field(l, "black_start:")?, field(l, "black_duration:")?)))
        .collect()
}

/// The gray (luma) frame shown at `at` seconds: `width × height` bytes, row by row.
pub fn gray_frame(video: &Path, at: f64, width: u32, height: u32) -> Vec<u8> {
    let at = at.to_string();
    let (frame, _) = ffmpeg([
        OsStr::new("-v"),
        OsStr::new("error"),
        OsStr::new("-ss"),
        OsStr::new(&at),
        OsStr::new("-i"),
        video.as_os_str(),
        OsStr::new("-frames:v"),
        OsStr::new("1"),
        OsStr::new("-vf"),
        OsStr::new("format=gray"),
        OsStr::new("-f"),
        OsStr::new("rawvideo"),
        OsStr::new("-"),
    ]);
    assert_eq!(
        frame.len(),
        (width * height) as usize,
        "one gray frame at {at}"
    );
    frame
}

/// Mean of the absolute differences of two gray frames, 0–255.
pub fn mean_difference(a: &[u8], b: &[u8]) -> f64 {
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.len().max(1) as f64
}

/// Integrated loudness of the file's audio (ebur128), LUFS.
pub fn integrated_lufs(media: &Path) -> f64 {
    let log = ffmpeg_log([
        OsStr::new("-nostats"),
        OsStr::new("-i"),
        media.as_os_str(),
        OsStr::new("-vn"),
        OsStr::new("-af"),
        OsStr::new("ebur128"),
        OsStr::new("-f"),
        OsStr::new("null"),
        OsStr::new("-"),
    ]);
    // The summary at the end: "Integrated loudness:\n    I:   -14.1 LUFS".
    let summary = log
        .rsplit("Integrated loudness:")
        .next()
        .unwrap_or_default();
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("I:"))
        .and_then(|v| v.trim().trim_end_matches("LUFS").trim().parse().ok())
        .unwrap_or_else(|| panic!("no integrated loudness in {log}"))
}

/// Mean volume (dB) of `secs` of the file's audio from `start`, after `filter` (e.g. a
/// high-pass that keeps the music and drops the narration's tone).
pub fn window_db(media: &Path, start: f64, secs: f64, filter: &str) -> f64 {
    let (start, secs) = (start.to_string(), secs.to_string());
    let chain = format!("{filter},volumedetect");
    let log = ffmpeg_log([
        OsStr::new("-ss"),
        OsStr::new(&start),
        OsStr::new("-t"),
        OsStr::new(&secs),
        OsStr::new("-i"),
        media.as_os_str(),
        OsStr::new("-af"),
        OsStr::new(&chain),
        OsStr::new("-vn"),
        OsStr::new("-f"),
        OsStr::new("null"),
        OsStr::new("-"),
    ]);
    log.lines()
        .find_map(|l| l.split("mean_volume:").nth(1))
        .and_then(|v| v.trim().trim_end_matches("dB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no mean_volume in {log}"))
}

pub fn graph_file(out: &Path) -> PathBuf {
    reelforge::media::render::graph_path(out)
}
