//! `reelforge make` with the render options end to end: three videos from the same materials
//! (each its own order of clips), shuffled transitions, music ducked under the voice, local
//! footage of other sizes and a still; every output probed and its loudness measured.

#[path = "support/cli.rs"]
mod cli_support;
#[path = "support/render.rs"]
mod render_support;

use cli_support::{ffprobe, only_task_dir, reelforge, text, write_script};
use render_support::{encode_footage, ffmpeg, integrated_lufs, still};
use std::path::Path;

/// Clips of several sizes, frame rates and with or without audio, and a still.
fn footage_folder(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let clip = |name: &str, source: &str, audio: bool| {
        let mut args = vec!["-f", "lavfi", "-t", "4", "-i", source];
        if audio {
            args.extend(["-f", "lavfi", "-i", "sine=f=330:d=4", "-shortest"]);
        }
        encode_footage(&args, &dir.join(name));
    };
    clip("wide_city.mp4", "testsrc2=s=640x360:r=25", true);
    clip("tall_forest.mp4", "smptebars=s=360x640:r=30", false);
    clip("square_sea.mp4", "mandelbrot=s=400x400:r=24", false);
    still(dir, "mountain_still.png", "800x600");
}

#[test]
fn three_videos_with_transitions_and_ducked_music_share_the_upstream_work() {
    let tmp = tempfile::tempdir().unwrap();
    let footage = tmp.path().join("footage");
    footage_folder(&footage);
    let music = tmp.path().join("music.wav");
    ffmpeg([
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=c=pink:d=3:a=0.3",
        music.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out").join("cats.mp4");
    let output = reelforge(tmp.path())
        .args(["make", "Why do cats purr?", "--aspect", "9:16", "--script"])
        .arg(write_script(tmp.path()))
        .arg("--footage-dir")
        .arg(&footage)
        .arg("--out")
        .arg(&out)
        .env("REELFORGE_VIDEO_VIDEO_COUNT", "3")
        .env("REELFORGE_VIDEO_TRANSITION", "shuffle")
        .env("REELFORGE_VIDEO_FILL", "blur")
        .env("REELFORGE_VIDEO_MAX_CLIP_SECS", "2")
        .env("REELFORGE_MUSIC_MODE", "file")
        .env("REELFORGE_MUSIC_PATH", &music)
        .output()
        .unwrap();
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    let task = only_task_dir(tmp.path());
    let voice: serde_json::Value =
        serde_json::from_slice(&std::fs::read(task.join("voice.json")).unwrap()).unwrap();
    let narration = voice["duration"].as_f64().unwrap();

    let mut orders = Vec::new();
    for (n, name) in ["cats.mp4", "cats-2.mp4", "cats-3.mp4"].iter().enumerate() {
        let video = out.with_file_name(name);
        let probe = ffprobe(&video);
        assert!(
            (probe.duration - narration).abs() <= 0.2,
            "{name}: {} vs {narration}",
            probe.duration
        );
        assert_eq!((probe.width, probe.height), (1080, 1920), "{name}");
        assert_eq!((probe.video_streams, probe.audio_streams), (1, 1), "{name}");
        let lufs = integrated_lufs(&video);
        assert!((lufs + 14.0).abs() <= 1.5, "{name}: {lufs} LUFS");
        let timeline = match n {
            0 => "timeline.json".to_string(),
            n => format!("timeline-{}.json", n + 1),
        };
        let timeline: serde_json::Value =
            serde_json::from_slice(&std::fs::read(task.join(timeline)).unwrap()).unwrap();
        let order: Vec<String> = timeline["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["description"].as_str().unwrap().to_string())
            .collect();
        assert!(
            timeline["segments"].as_array().unwrap()[1..]
                .iter()
                .all(|s| s["transition"] != "none"),
            "shuffle gives every cut a transition"
        );
        orders.push(order);
    }
    assert!(
        orders[0] != orders[1] && orders[1] != orders[2],
        "{orders:?}"
    );
    // One voice, one set of subtitles for all three videos.
    assert_eq!(log.matches("voice      done").count(), 1, "{log}");
}
