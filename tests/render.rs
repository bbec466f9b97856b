//! Real ffmpeg renders of generated clips: sizes, streams, durations, burned-in subtitles,
//! cancellation and failure. These need ffmpeg and ffprobe and fail without them.

#[path = "support/render.rs"]
mod render_support;

use reelforge::config::SubtitleConfig;
use reelforge::fsutil::part_path;
use reelforge::media::render::{RenderPlan, RenderProgress, Segment, render};
use reelforge::media::subtitle::{AssStyle, Cue, cues_from_sentences, to_ass};
use reelforge::media::{ClipSource, MediaError, generate};
use reelforge::providers::tts::SpokenSentence;
use render_support::{
    check_streams, clip, cut, format_duration, gray_frame, narration, plan_over, still, streams_of,
    x264,
};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const NARRATION_SECS: f64 = 4.3;
/// The quality every render here is encoded at.
const CRF: u32 = 28;

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
    let d = dir.path();
    let wide = clip(d, "wide.mp4", "testsrc2", "640x360", 30, 3.0, false);
    let tall = clip(d, "tall.mp4", "testsrc2", "360x640", 30, 2.0, false);
    let square = clip(d, "square.mp4", "testsrc2", "400x400", 30, 4.0, false);
    let image = still(d, "still.png", "500x300");
    let narration = narration(d, NARRATION_SECS);
    Fixture {
        dir,
        wide,
        tall,
        square,
        image,
        narration,
    }
}

impl Fixture {
    /// A plan of `segments` over the narration, written to `name`.mp4 in the fixture's
    /// folder, libx264 at `preset`, no subtitles.
    fn plan(
        &self,
        size_fps: (u32, u32, u32),
        segments: Vec<Segment>,
        name: &str,
        preset: &str,
    ) -> RenderPlan {
        let out = self.dir.path().join(format!("{name}.mp4"));
        RenderPlan {
            encoder: x264(preset, CRF),
            ..plan_over(self.narration.clone(), size_fps, segments, out)
        }
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
    let segments = vec![
        cut(ClipSource::Video(f.wide.clone()), 0.5, 1.0),
        cut(ClipSource::Image(f.image.clone()), 0.0, 0.8),
        cut(ClipSource::Video(f.tall.clone()), 0.0, 0.9),
        cut(
            ClipSource::Lavfi(generate::background(1, width, height, 30)),
            0.0,
            0.6,
        ),
        // Asks for more than the clip has left: the clip starts over (it is read looped)
        // and the cut keeps its length.
        cut(ClipSource::Video(f.square.clone()), 3.4, 1.0),
    ];
    RenderPlan {
        subtitles: Some(ass),
        ..f.plan((width, height, 30), segments, name, preset)
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

    let info = check_streams(plan, false);
    assert_eq!(streams_of(&info, "video")[0]["pix_fmt"], "yuv420p");
    let duration = format_duration(&info);
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
fn bright_pixels_low(video: &Path, at: f64, width: u32, height: u32) -> usize {
    let frame = gray_frame(video, at, width, height);
    frame[frame.len() * 2 / 3..]
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
    let segments = vec![cut(black.clone(), 0.0, 2.0), cut(black, 0.0, 2.3)];
    let plan = RenderPlan {
        subtitles: Some(ass),
        ..f.plan((w, h, 25), segments, "subs", "ultrafast")
    };
    render(&plan, &CancellationToken::new(), &|_| {})
        .await
        .expect("render with subtitles");
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
        cut(
            ClipSource::Lavfi(generate::background(i, 1080, 1920, 30)),
            0.0,
            120.0,
        )
    };
    let segments = vec![
        long(0),
        long(5),
        cut(ClipSource::Video(f.wide.clone()), 0.0, 3.0),
    ];
    let plan = f.plan((1080, 1920, 30), segments, "cancelled", "medium");
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
    let segments = vec![
        cut(ClipSource::Video(f.wide.clone()), 0.0, 2.0),
        cut(ClipSource::Video(broken.clone()), 0.0, 2.3),
    ];
    let plan = f.plan((270, 480, 30), segments, "failed", "ultrafast");
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
