//! Real ffmpeg renders of the picture features: every transition, speed, blur fill, Ken Burns
//! stills, short sources and file names full of filter-graph syntax. Small frames and clips
//! of a few seconds keep them fast; they need ffmpeg and ffprobe.

#[path = "support/render.rs"]
mod render_support;

use reelforge::media::ClipSource;
use reelforge::media::render::{Fill, Transition};
use render_support::{
    black_spans, check_output, clip, cut, gray_frame, mean_difference, plan, render_ok, still,
};

/// Each transition between a 30 fps 16:9 clip with sound, a 60 fps square clip and a still,
/// then a chain of plain cuts over 24/25/60 fps sources: every render is as long as its cuts
/// and never shows black longer than a transition.
#[tokio::test]
async fn every_transition_renders_without_black_gaps() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let wide = clip(d, "wide.mp4", "testsrc2", "640x360", 30, 2.0, true);
    let square = clip(d, "square.mp4", "smptebars", "400x400", 60, 2.0, false);
    let picture = still(d, "still.png", "500x300");
    for transition in Transition::ALL {
        let with = |source, start_in| {
            let mut c = cut(source, start_in, 1.0);
            c.transition = transition;
            c
        };
        let segments = vec![
            cut(ClipSource::Video(wide.clone()), 0.3, 1.0),
            with(ClipSource::Video(square.clone()), 0.6),
            with(ClipSource::Image(picture.clone()), 0.0),
        ];
        let p = plan(d, (320, 180, 30), segments, transition.name());
        render_ok(&p).await;
        check_output(&p, false);
        let spans = black_spans(&p.out);
        assert!(
            spans
                .iter()
                .all(|(_, len)| *len <= p.transition_secs + 0.05),
            "{}: black {spans:?}",
            transition.name()
        );
    }

    let film = clip(d, "film.mp4", "testsrc2", "320x240", 24, 2.0, true);
    let pal = clip(d, "pal.mp4", "color=c=teal", "720x576", 25, 2.0, false);
    let segments = vec![
        cut(ClipSource::Video(film), 0.5, 0.9),
        cut(ClipSource::Video(pal), 0.0, 0.7),
        cut(ClipSource::Video(square), 1.0, 0.8),
        cut(ClipSource::Image(picture), 0.0, 0.6),
    ];
    let p = plan(d, (320, 180, 25), segments, "plain");
    render_ok(&p).await;
    check_output(&p, false);
    assert_eq!(black_spans(&p.out), []);
}

/// Half and double speed read half and twice the footage, and the cuts keep their length.
#[tokio::test]
async fn speed_half_and_double_keep_the_length() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let long = clip(d, "long.mp4", "testsrc2", "480x270", 30, 4.0, true);
    let short = clip(d, "short.mp4", "testsrc2", "270x480", 24, 1.5, false);
    let mut fast = cut(ClipSource::Video(long), 0.2, 1.6);
    fast.speed = 2.0;
    let mut slow = cut(ClipSource::Video(short), 0.1, 2.0);
    slow.speed = 0.5;
    slow.transition = Transition::Dissolve;
    let p = plan(d, (270, 480, 30), vec![fast, slow], "speed");
    render_ok(&p).await;
    check_output(&p, false);
}

/// A 16:9 clip in a 9:16 frame with the blur fill: the bands above and below the picture are
/// a blurred copy of it, not black.
#[tokio::test]
async fn blur_fill_puts_picture_in_the_bands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let wide = clip(d, "wide.mp4", "testsrc2", "640x360", 30, 2.0, false);
    let mut p = plan(
        d,
        (270, 480, 30),
        vec![cut(ClipSource::Video(wide), 0.0, 1.5)],
        "blur",
    );
    p.fill = Fill::Blur;
    render_ok(&p).await;
    check_output(&p, false);
    let frame = gray_frame(&p.out, 0.7, 270, 480);
    // The fitted clip is 270×152 in the middle (rows 164–315); sample well outside it.
    let band_mean = |rows: std::ops::Range<usize>| {
        let pixels = &frame[rows.start * 270..rows.end * 270];
        pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / pixels.len() as f64
    };
    let (top, bottom) = (band_mean(10..150), band_mean(330..470));
    assert!(
        top > 40.0 && bottom > 40.0,
        "bands: top {top}, bottom {bottom}"
    );
}

/// A still-only render moves: frames one second apart differ, in both stills.
#[tokio::test]
async fn stills_move_with_ken_burns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let first = still(d, "first.png", "800x600");
    let second = still(d, "second.png", "300x500");
    let mut zoom_out = cut(ClipSource::Image(second), 0.0, 1.6);
    zoom_out.transition = Transition::Fade;
    let segments = vec![cut(ClipSource::Image(first), 0.0, 1.6), zoom_out];
    let p = plan(d, (320, 180, 30), segments, "kenburns");
    render_ok(&p).await;
    check_output(&p, false);
    for (a, b) in [(0.1, 1.1), (1.75, 2.75)] {
        let diff = mean_difference(
            &gray_frame(&p.out, a, 320, 180),
            &gray_frame(&p.out, b, 320, 180),
        );
        assert!(diff > 3.0, "frames at {a} and {b} s differ by only {diff}");
    }
}

/// A source shorter than its cut starts over instead of freezing on its last frame, and the
/// cut keeps its length.
#[tokio::test]
async fn a_short_source_does_not_freeze() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let short = clip(d, "short.mp4", "testsrc2", "320x180", 30, 1.0, false);
    let p = plan(
        d,
        (320, 180, 30),
        vec![cut(ClipSource::Video(short), 0.5, 2.0)],
        "short",
    );
    render_ok(&p).await;
    check_output(&p, false);
    let diff = mean_difference(
        &gray_frame(&p.out, 1.2, 320, 180),
        &gray_frame(&p.out, 1.8, 320, 180),
    );
    assert!(diff > 1.0, "the picture froze (difference {diff})");
}

/// Clips, stills, burned-in and soft subtitles whose names hold quotes, colons, brackets,
/// commas, semicolons and percent signs.
#[tokio::test]
async fn odd_file_names_render() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().join("odd [1], it's; 50%: x");
    std::fs::create_dir(&d).expect("odd dir");
    let video = clip(
        &d,
        "clip [2]: it's 100%.mp4",
        "testsrc2",
        "320x180",
        25,
        2.0,
        true,
    );
    // `%03d` would make ffmpeg's image reader look for a numbered sequence.
    let picture = still(&d, "still%03d 50% [x]: it's.png", "320x240");
    let mut second = cut(ClipSource::Image(picture), 0.0, 1.0);
    second.transition = Transition::Wipe;
    let mut p = plan(
        &d,
        (320, 180, 25),
        vec![cut(ClipSource::Video(video), 0.5, 1.2), second],
        "odd: it's [final] 5%",
    );
    let ass = d.join("subs [1]: it's 5%.ass");
    std::fs::write(&ass, ASS).expect("write ASS");
    let srt = d.join("soft [1]: it's 5%.srt");
    std::fs::write(&srt, "1\n00:00:00,200 --> 00:00:01,800\nHello, world\n").expect("SRT");
    p.subtitles = Some(ass);
    p.soft_subtitles = Some(srt);
    render_ok(&p).await;
    check_output(&p, true);
}

/// A minimal ASS script for a 320×180 frame.
const ASS: &str = "[Script Info]\nScriptType: v4.00+\nPlayResX: 320\nPlayResY: 180\n\n\
[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, OutlineColour, BackColour, \
Bold, Italic, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV\n\
Style: Default,Sans,18,&H00FFFFFF,&H00000000,&H00000000,0,0,1,1,0,2,10,10,10\n\n\
[Events]\nFormat: Layer, Start, End, Style, Text\n\
Dialogue: 0,0:00:00.20,0:00:01.80,Default,Hello, world\n";
