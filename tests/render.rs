//! Real ffmpeg renders of generated clips: sizes, streams, durations, burned-in subtitles,
//! cancellation and failure. These need ffmpeg and ffprobe and fail without them.

use reelforge::config::SubtitleConfig;
use reelforge::fsutil::part_path;
use reelforge::media::render::{
    EncoderSettings, Fill, RenderPlan, RenderProgress, Segment, Transition, render,
};
use reelforge::media::subtitle::{AssStyle, Cue, cues_from_sentences, to_ass};
use reelforge::media::{ClipSource, MediaError, generate};
use reelforge::providers::tts::SpokenSentence;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const NARRATION_SECS: f64 = 4.3;

/// Runs ffmpeg with whitespace-separated `args` writing `out`; panics with its stderr.
fn ffmpeg(args: &str, out: &Path) {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args.split_whitespace())
        .arg(out)
        .output()
        .expect("ffmpeg must be installed to run the render tests");
    assert!(
        output.status.success(),
        "ffmpeg {args}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn ffprobe(path: &Path) -> Value {
    let output = Command::new("ffprobe")
        .args("-v error -print_format json -show_streams -show_format".split(' '))
        .arg(path)
        .output()
        .expect("ffprobe must be installed to run the render tests");
    assert!(output.status.success(), "ffprobe {}", path.display());
    serde_json::from_slice(&output.stdout).expect("ffprobe prints JSON")
}

/// Test clips of different sizes and aspects, a still image and a narration WAV.
struct Fixture {
    dir: tempfile::TempDir,
    wide: PathBuf,
    tall: PathBuf,
    square: PathBuf,
    image: PathBuf,
    narration: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = |name: &str, size: &str, secs: u32| {
        let path = dir.path().join(name);
        let args =
            format!("-f lavfi -i testsrc2=s={size}:r=30:d={secs} -c:v libx264 -preset ultrafast");
        ffmpeg(&args, &path);
        path
    };
    let wide = clip("wide.mp4", "640x360", 3);
    let tall = clip("tall.mp4", "360x640", 2);
    let square = clip("square.mp4", "400x400", 4);
    let image = dir.path().join("still.png");
    ffmpeg("-f lavfi -i testsrc2=s=500x300 -frames:v 1", &image);
    let narration = dir.path().join("voice.wav");
    let sine = format!("-f lavfi -i sine=f=440:d={NARRATION_SECS} -ar 22050 -ac 1");
    ffmpeg(&sine, &narration);
    Fixture {
        dir,
        wide,
        tall,
        square,
        image,
        narration,
    }
}

fn encoder(preset: &str) -> EncoderSettings {
    EncoderSettings {
        codec: "libx264".into(),
        preset: preset.into(),
        crf: 28,
    }
}

fn segment(source: ClipSource, start_in: f64, duration: f64) -> Segment {
    Segment {
        source,
        start_in,
        duration,
        speed: 1.0,
        transition: Transition::None,
    }
}

/// Writes the cues as ASS; `size` 0 is the automatic size (height / 24).
fn write_ass(
    dir: &Path,
    name: &str,
    cues: &[Cue],
    (width, height): (u32, u32),
    size: u32,
) -> PathBuf {
    let config = SubtitleConfig {
        size,
        ..SubtitleConfig::default()
    };
    let style = AssStyle::from_config(&config, height);
    let path = dir.join(name);
    std::fs::write(&path, to_ass(cues, &style, width, height)).expect("write ASS");
    path
}

/// A plan over every kind of input, 4.3 s in all, with subtitles.
fn mixed_plan(f: &Fixture, width: u32, height: u32, name: &str, preset: &str) -> RenderPlan {
    let sentences = [
        SpokenSentence {
            text: "Why do cats purr?".into(),
            start: 0.2,
            end: 1.6,
        },
        SpokenSentence {
            text: "Nobody knows for sure, but it is calming.".into(),
            start: 1.8,
            end: 4.1,
        },
    ];
    let cues = cues_from_sentences(&sentences, 28);
    let ass = write_ass(
        f.dir.path(),
        &format!("{name}.ass"),
        &cues,
        (width, height),
        0,
    );
    RenderPlan {
        width,
        height,
        fps: 30,
        segments: vec![
            segment(ClipSource::Video(f.wide.clone()), 0.5, 1.0),
            segment(ClipSource::Image(f.image.clone()), 0.0, 0.8),
            segment(ClipSource::Video(f.tall.clone()), 0.0, 0.9),
            segment(
                ClipSource::Lavfi(generate::background(1, width, height, 30)),
                0.0,
                0.6,
            ),
            // Asks for more than the clip has left: the clip starts over (it is read looped)
            // and the cut keeps its length.
            segment(ClipSource::Video(f.square.clone()), 3.4, 1.0),
        ],
        narration: f.narration.clone(),
        transition_secs: 0.5,
        fill: Fill::Crop,
        music: None,
        loudness_lufs: None,
        soft_subtitles: None,
        subtitles_fonts_dir: None,
        subtitles: Some(ass),
        encoder: encoder(preset),
        out: f.dir.path().join(format!("{name}.mp4")),
    }
}

/// Renders `plan` and checks the file: size, one h264 and one aac stream, duration.
async fn render_and_check(plan: &RenderPlan) {
    let fractions = Mutex::new(Vec::new());
    let on_progress = |p: RenderProgress| fractions.lock().expect("progress lock").push(p.fraction);
    render(plan, &CancellationToken::new(), &on_progress)
        .await
        .unwrap_or_else(|e| panic!("render {}x{}: {e}", plan.width, plan.height));
    assert!(plan.out.exists());
    assert!(!part_path(&plan.out).exists());

    let fractions = fractions.into_inner().expect("progress lock");
    assert_eq!(fractions.last(), Some(&1.0));
    assert!(
        fractions.windows(2).all(|w| w[0] <= w[1] + 1e-6),
        "{fractions:?}"
    );
    assert!(fractions.iter().all(|f| (0.0..=1.0).contains(f)));

    let info = ffprobe(&plan.out);
    let streams = info["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 2, "{info}");
    let video: Vec<&Value> = streams
        .iter()
        .filter(|s| s["codec_type"] == "video")
        .collect();
    let audio: Vec<&Value> = streams
        .iter()
        .filter(|s| s["codec_type"] == "audio")
        .collect();
    assert_eq!((video.len(), audio.len()), (1, 1), "{info}");
    assert_eq!(video[0]["codec_name"], "h264");
    assert_eq!(video[0]["width"], plan.width);
    assert_eq!(video[0]["height"], plan.height);
    assert_eq!(video[0]["pix_fmt"], "yuv420p");
    assert_eq!(audio[0]["codec_name"], "aac");
    assert_eq!(audio[0]["sample_rate"], "48000");
    assert_eq!(audio[0]["channels"], 2);
    let duration: f64 = info["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("duration");
    assert!(
        (duration - NARRATION_SECS).abs() < 0.2,
        "duration {duration}"
    );
}

#[tokio::test]
async fn renders_vertical_horizontal_and_square() {
    let f = fixture();
    for (w, h, name) in [
        (270, 480, "vertical"),
        (480, 270, "horizontal"),
        (300, 300, "square"),
    ] {
        render_and_check(&mixed_plan(&f, w, h, name, "ultrafast")).await;
    }
}

#[tokio::test]
async fn renders_full_size_vertical() {
    let f = fixture();
    render_and_check(&mixed_plan(&f, 1080, 1920, "full", "veryfast")).await;
}

/// Counts pixels brighter than 200 in the bottom third of the frame at `at` seconds.
fn bright_pixels_low(video: &Path, at: f64, width: usize, height: usize) -> usize {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-ss", &at.to_string(), "-i"])
        .arg(video)
        .args("-frames:v 1 -vf format=gray -f rawvideo -".split(' '))
        .output()
        .expect("ffmpeg must be installed to run the render tests");
    assert!(output.status.success());
    assert_eq!(output.stdout.len(), width * height, "one gray frame");
    output.stdout[width * height * 2 / 3..]
        .iter()
        .filter(|&&p| p > 200)
        .count()
}

#[tokio::test]
async fn subtitles_are_burned_in_only_while_a_cue_is_on() {
    let f = fixture();
    let (w, h) = (480, 270);
    // Filter-graph syntax characters in the path must survive the escaping.
    let sub_dir = f.dir.path().join("subs [1], it's; a:b");
    std::fs::create_dir(&sub_dir).expect("subtitle dir");
    let cues = [Cue {
        start: 1.0,
        end: 2.5,
        text: "HELLO WORLD\nBRIGHT TEXT".into(),
    }];
    let ass = write_ass(&sub_dir, "cues.ass", &cues, (w, h), 36);
    let black = ClipSource::Lavfi(format!("color=c=black:s={w}x{h}"));
    let plan = RenderPlan {
        width: w,
        height: h,
        fps: 25,
        segments: vec![segment(black.clone(), 0.0, 2.0), segment(black, 0.0, 2.3)],
        narration: f.narration.clone(),
        transition_secs: 0.5,
        fill: Fill::Crop,
        music: None,
        loudness_lufs: None,
        soft_subtitles: None,
        subtitles_fonts_dir: None,
        subtitles: Some(ass),
        encoder: encoder("ultrafast"),
        out: f.dir.path().join("subs.mp4"),
    };
    render(&plan, &CancellationToken::new(), &|_| {})
        .await
        .expect("render with subtitles");
    let (w, h) = (w as usize, h as usize);
    let during = bright_pixels_low(&plan.out, 1.8, w, h);
    let before = bright_pixels_low(&plan.out, 0.5, w, h);
    let after = bright_pixels_low(&plan.out, 3.5, w, h);
    assert!(
        during > 300,
        "only {during} bright pixels while the cue is on"
    );
    assert_eq!((before, after), (0, 0), "bright pixels with no cue");
}

#[tokio::test]
async fn cancel_stops_quickly_and_leaves_nothing() {
    let f = fixture();
    let long = |i| {
        segment(
            ClipSource::Lavfi(generate::background(i, 1080, 1920, 30)),
            0.0,
            120.0,
        )
    };
    let plan = RenderPlan {
        width: 1080,
        height: 1920,
        fps: 30,
        segments: vec![
            long(0),
            long(5),
            segment(ClipSource::Video(f.wide.clone()), 0.0, 3.0),
        ],
        narration: f.narration.clone(),
        transition_secs: 0.5,
        fill: Fill::Crop,
        music: None,
        loudness_lufs: None,
        soft_subtitles: None,
        subtitles_fonts_dir: None,
        subtitles: None,
        encoder: encoder("medium"),
        out: f.dir.path().join("cancelled.mp4"),
    };
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let cancelled_at = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
        Instant::now()
    });
    let result = render(&plan, &cancel, &|_| {}).await;
    let returned = Instant::now();
    let cancelled_at = cancelled_at.await.expect("cancel task");
    assert!(matches!(result, Err(MediaError::Cancelled)), "{result:?}");
    assert!(returned.duration_since(cancelled_at) < Duration::from_secs(2));
    assert!(!plan.out.exists());
    assert!(!part_path(&plan.out).exists());
}

#[tokio::test]
async fn garbage_input_fails_with_ffmpeg_stderr() {
    let f = fixture();
    let broken = f.dir.path().join("broken.mp4");
    let bytes: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&broken, bytes).expect("write garbage");
    let plan = RenderPlan {
        width: 270,
        height: 480,
        fps: 30,
        segments: vec![
            segment(ClipSource::Video(f.wide.clone()), 0.0, 2.0),
            segment(ClipSource::Video(broken.clone()), 0.0, 2.3),
        ],
        narration: f.narration.clone(),
        transition_secs: 0.5,
        fill: Fill::Crop,
        music: None,
        loudness_lufs: None,
        soft_subtitles: None,
        subtitles_fonts_dir: None,
        subtitles: None,
        encoder: encoder("ultrafast"),
        out: f.dir.path().join("failed.mp4"),
    };
    let err = render(&plan, &CancellationToken::new(), &|_| {})
        .await
        .expect_err("must fail");
    let MediaError::Failed {
        ref tool,
        ref stderr_tail,
        ..
    } = err
    else {
        panic!("expected Failed, got {err:?}");
    };
    assert_eq!(tool, "ffmpeg");
    assert!(stderr_tail.contains("broken.mp4"), "{stderr_tail}");
    assert!(err.to_string().contains(stderr_tail.as_str()));
    assert!(!plan.out.exists());
    assert!(!part_path(&plan.out).exists());
}
