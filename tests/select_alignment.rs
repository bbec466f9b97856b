//! Semantic selection, end to end: a local folder of single-colour clips described in
//! `clip.json`, a four-sentence script, and the rendered video. Each sentence must get the
//! clip whose description matches it, and every cut ffmpeg's scene detection finds in the
//! video must sit within one frame of a span boundary in `timeline.json` (and every change
//! of clip in the timeline must show as a cut).

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{only_task_dir, reelforge, text};
use std::path::Path;
use std::process::Command;

/// (file stem, colour, description) — the descriptions match the script's sentences in a
/// different order, so file order and sentence order disagree.
const CLIPS: &[(&str, &str, &str)] = &[
    (
        "a",
        "0x1060d0",
        "deep blue ocean waves rolling onto a beach",
    ),
    (
        "b",
        "0xd02020",
        "red fire truck racing through city traffic with sirens",
    ),
    (
        "c",
        "0x20a040",
        "green forest of tall pine trees in the mountains",
    ),
    (
        "d",
        "0xe0c020",
        "yellow sunflowers in a field on a summer day",
    ),
    ("e", "0x808080", "grey office printer jammed with paper"),
];

const SCRIPT: &str = "Fire trucks race through the city with their sirens blaring. \
    Tall pine trees cover the mountain slopes. \
    Sunflowers turn their faces to the summer sun. \
    The ocean waves roll gently onto the sand.";

fn make_colour_clip(dir: &Path, stem: &str, colour: &str) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c={colour}:s=640x360:r=30:d=12"))
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(dir.join(format!("{stem}.mp4")))
        .status()
        .expect("ffmpeg runs (./scripts/setup.sh installs it)");
    assert!(status.success());
}

/// Times (s) of the frames ffmpeg's scene detection marks as a new shot. The clips are
/// still single colours, so any frame-to-frame change is a cut: the threshold is low because
/// the scene score weighs luma, and red to green scores only 0.22.
fn scene_cuts(video: &Path) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("movie={},select=gt(scene\\,0.05)", video.display()))
        .args(["-show_entries", "frame=pts_time", "-of", "csv=p=0"])
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

#[test]
fn each_sentence_shows_its_clip_and_every_cut_is_on_a_span_boundary() {
    let tmp = tempfile::tempdir().unwrap();
    let footage = tmp.path().join("footage");
    std::fs::create_dir_all(&footage).unwrap();
    let mut meta = serde_json::Map::new();
    for (stem, colour, description) in CLIPS {
        make_colour_clip(&footage, stem, colour);
        meta.insert(
            format!("{stem}.mp4"),
            serde_json::json!({ "description": description }),
        );
    }
    std::fs::write(
        footage.join("clip.json"),
        serde_json::to_string_pretty(&meta).unwrap(),
    )
    .unwrap();
    let script = tmp.path().join("script.txt");
    std::fs::write(&script, SCRIPT).unwrap();

    let output = reelforge(tmp.path())
        .args([
            "make",
            "Things in motion",
            "--aspect",
            "16:9",
            "--sources",
            "local",
        ])
        .arg("--footage-dir")
        .arg(&footage)
        .arg("--script")
        .arg(&script)
        .env("REELFORGE_VIDEO_CONCAT_MODE", "semantic")
        .env("REELFORGE_VIDEO_MAX_CLIP_SECS", "10")
        .env("REELFORGE_SUBTITLES_ENABLED", "false")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let task = only_task_dir(tmp.path());
    let timeline: serde_json::Value =
        serde_json::from_slice(&std::fs::read(task.join("timeline.json")).unwrap()).unwrap();
    let fps = timeline["fps"].as_f64().unwrap();
    let segments = timeline["segments"].as_array().unwrap();

    // Each sentence shows the clip described like it.
    let expected = ["b", "c", "d", "a"];
    for segment in segments {
        let sentence = segment["sentence"].as_u64().unwrap() as usize;
        let source = segment["source"].to_string();
        assert!(
            source.contains(&format!("{}.mp4", expected[sentence])),
            "sentence {sentence} got {source}"
        );
        // What was said, how well the clip fits it, and why it was chosen.
        assert!(
            SCRIPT.contains(segment["text"].as_str().unwrap()),
            "{segment}"
        );
        assert!(segment["score"].as_f64().unwrap() > 0.3, "{segment}");
        assert!(
            segment["why"].as_str().unwrap().starts_with("semantic"),
            "{segment}"
        );
    }
    // Where the clip changes in the timeline, and where ffmpeg sees a new shot.
    let boundaries: Vec<f64> = segments
        .windows(2)
        .filter(|w| w[0]["source"] != w[1]["source"])
        .map(|w| w[1]["start"].as_f64().unwrap())
        .collect();
    let cuts = scene_cuts(&task.join("final.mp4"));
    println!("timeline boundaries {boundaries:?}\nscene cuts {cuts:?}");
    let frame = 1.0 / fps + 1e-3;
    for cut in &cuts {
        assert!(
            boundaries.iter().any(|b| (b - cut).abs() <= frame),
            "a cut at {cut:.3} s is not on a span boundary {boundaries:?}"
        );
    }
    for boundary in &boundaries {
        assert!(
            cuts.iter().any(|c| (c - boundary).abs() <= frame),
            "no cut at the span boundary {boundary:.3} s: {cuts:?}"
        );
    }
    assert_eq!(boundaries.len(), 3, "four sentences, four clips");
}
