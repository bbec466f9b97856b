//! Real ffmpeg renders of the sound: music looped under the narration, ducked while it speaks,
//! the final loudness, and the soft subtitle track. They need ffmpeg and ffprobe.
//!
//! The narration is a 330 Hz tone in bursts (`BURST_ON` s of every `BURST_PERIOD` s) and the
//! music pink noise, so a 2 kHz high-pass of the output hears the music alone.

#[path = "support/render.rs"]
mod render_support;

use reelforge::media::ClipSource;
use reelforge::media::render::{MusicPlan, RenderPlan};
use render_support::{
    BURST_ON, BURST_PERIOD, check_output, cut, integrated_lufs, music, plan, render_ok, window_db,
};
use std::path::Path;

/// Keeps the music and drops the narration's tone (two 12 dB/octave high-passes).
const MUSIC_ONLY: &str = "highpass=f=2000,highpass=f=2000";

/// 4.3 s of generated picture, narration and music, rendered as `name`.
fn music_plan(dir: &Path, name: &str, duck: bool) -> RenderPlan {
    let picture = |source: &str| ClipSource::Lavfi(format!("{source}=s=320x180:r=25"));
    let mut p = plan(
        dir,
        (320, 180, 25),
        vec![
            cut(picture("testsrc2"), 0.0, 2.2),
            cut(picture("smptebars"), 0.0, 2.1),
        ],
        name,
    );
    p.music = Some(MusicPlan {
        path: music(dir),
        volume: 0.5,
        fade_in: 0.2,
        fade_out: 0.3,
        duck,
    });
    p
}

/// Music level (dB, high-passed) in the first gap of the narration and under its second
/// burst, each window clear of the edges where the compressor attacks and releases.
fn gap_and_speech(video: &Path) -> (f64, f64) {
    let gap = window_db(
        video,
        BURST_ON + 0.35,
        BURST_PERIOD - BURST_ON - 0.4,
        MUSIC_ONLY,
    );
    let speech = window_db(video, BURST_PERIOD + 0.3, BURST_ON - 0.5, MUSIC_ONLY);
    (gap, speech)
}

#[tokio::test]
async fn ducked_music_drops_under_speech_and_the_mix_meets_the_loudness_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut p = music_plan(dir.path(), "ducked", true);
    p.loudness_lufs = Some(-14.0);
    render_ok(&p).await;
    check_output(&p, false);
    let lufs = integrated_lufs(&p.out);
    assert!(
        (lufs + 14.0).abs() <= 1.5,
        "integrated loudness {lufs} LUFS"
    );
    let (gap, speech) = gap_and_speech(&p.out);
    assert!(
        gap - speech > 6.0,
        "music {gap} dB in the gap, {speech} dB under speech"
    );
}

/// The control: without ducking the music is as loud under speech as in the gaps.
#[tokio::test]
async fn music_without_ducking_stays_level() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = music_plan(dir.path(), "level", false);
    render_ok(&p).await;
    check_output(&p, false);
    let (gap, speech) = gap_and_speech(&p.out);
    assert!(
        (gap - speech).abs() < 2.0,
        "music {gap} dB in the gap, {speech} dB under speech"
    );
}

#[tokio::test]
async fn soft_subtitles_are_a_mov_text_track() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let picture = ClipSource::Lavfi("color=c=navy:s=320x180:r=30".into());
    let mut p = plan(d, (320, 180, 30), vec![cut(picture, 0.0, 2.0)], "soft");
    let srt = d.join("subs.srt");
    let cues = "1\n00:00:00,100 --> 00:00:00,900\nFirst line\n\n\
                2\n00:00:01,000 --> 00:00:01,900\nSecond line\n";
    std::fs::write(&srt, cues).expect("write SRT");
    p.soft_subtitles = Some(srt);
    p.loudness_lufs = Some(-16.0);
    render_ok(&p).await;
    let info = check_output(&p, true);
    let subs = info["streams"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["codec_type"] == "subtitle"))
        .expect("subtitle stream");
    assert_eq!(subs["tags"]["language"], "und", "{subs}");
}
