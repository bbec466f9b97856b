//! Per-task options through `reelforge make`: the flags reach the stored task and every stage
//! that reads the settings they override (voice engine, footage sources, subtitle style,
//! music, video count), bad values are refused naming the flag, and cache misses are events.
//! Needs ffmpeg and espeak-ng (installed by scripts/setup.sh); no network.

#[path = "support/cli.rs"]
mod cli_support;
#[path = "support/render.rs"]
mod render_support;

use cli_support::{ffprobe, only_task_dir, reelforge, text, write_script};
use render_support::{clip, ffmpeg};
use serde_json::Value;
use std::path::Path;

fn parse_events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is one JSON event"))
        .collect()
}

fn task_record(data: &Path) -> Value {
    let task = only_task_dir(data);
    let id = task.file_name().unwrap().to_string_lossy().to_string();
    let show = reelforge(data)
        .args(["tasks", "show", &id, "--json"])
        .output()
        .unwrap();
    assert!(show.status.success(), "{}", text(&show));
    serde_json::from_slice(&show.stdout).unwrap()
}

/// The fields of the `Default` style line of an ASS script, by their `Format:` names.
fn ass_style(ass: &str) -> Vec<(String, String)> {
    let section = ass.split("[V4+ Styles]").nth(1).unwrap();
    let line = |prefix: &str| {
        section
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .split(',')
            .map(|f| f.trim().to_string())
            .collect::<Vec<_>>()
    };
    line("Format:").into_iter().zip(line("Style:")).collect()
}

fn field<'a>(style: &'a [(String, String)], name: &str) -> &'a str {
    &style.iter().find(|(k, _)| k == name).unwrap().1
}

#[test]
fn voice_and_subtitle_style_flags_reach_the_stages_and_misses_are_events() {
    let tmp = tempfile::tempdir().unwrap();
    // The config asks for Piper; the flag wins for this task.
    let output = reelforge(tmp.path())
        .env("REELFORGE_VOICE_PROVIDER", "piper")
        .args(["make", "cats", "--stop-at", "subtitles", "--json"])
        .args(["--voice", "espeak", "--subtitle-style", "boxed", "--script"])
        .arg(write_script(tmp.path()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let events = parse_events(&output.stdout);
    let misses: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "cache_miss")
        .map(|e| (e["stage"].as_str().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(misses, [("voice", "voice")], "a first run misses the cache");

    let record = task_record(tmp.path());
    assert_eq!(record["spec"]["options"]["voice"], "espeak");
    assert_eq!(record["spec"]["options"]["subtitle_style"], "boxed");
    let summary = record["stages"]["voice"]["summary"].as_str().unwrap();
    assert!(summary.contains("espeak-ng"), "{summary}");

    let ass = std::fs::read_to_string(only_task_dir(tmp.path()).join("subtitles.ass")).unwrap();
    let style = ass_style(&ass);
    assert_eq!(
        field(&style, "BorderStyle"),
        "3",
        "boxed draws a box: {ass}"
    );
    // 60 % opaque black: ASS alpha 0x66 (00 is opaque).
    assert_eq!(field(&style, "OutlineColour"), "&H66000000", "{ass}");
    assert_eq!(field(&style, "Alignment"), "2", "boxed stays at the bottom");

    // The same task again: the narration comes from the cache.
    let again = reelforge(tmp.path())
        .args(["make", "cats", "--stop-at", "voice", "--json"])
        .args(["--voice", "espeak", "--script"])
        .arg(write_script(tmp.path()))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    let kinds: Vec<Value> = parse_events(&again.stdout)
        .into_iter()
        .filter(|e| e["event"] == "cache_hit" || e["event"] == "cache_miss")
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(kinds, ["cache_hit"]);
}

#[test]
fn piper_chosen_without_its_model_fails_the_voice_stage_naming_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let no_models = tmp.path().join("no-models");
    std::fs::create_dir(&no_models).unwrap();
    let make = |extra: &[&str]| {
        reelforge(tmp.path())
            .env("REELFORGE_MODELS_DIR", &no_models)
            .env("REELFORGE_VOICE_PROVIDER", "piper")
            .args(["make", "cats", "--stop-at", "voice", "--script"])
            .arg(write_script(tmp.path()))
            .args(extra)
            .output()
            .unwrap()
    };
    // Chosen for the task: an error with the fix, not a silent change of voice.
    let output = make(&["--voice", "piper"]);
    let log = text(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("stage voice failed")
            && log.contains("voice = \"piper\"")
            && log.contains("./scripts/fetch-models.sh"),
        "{log}"
    );
    // Only the config's default: espeak-ng reads instead, with a warning.
    let output = make(&[]);
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("using espeak-ng"), "{log}");
}

#[test]
fn sources_flag_replaces_the_configured_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let make = |extra: &[&str]| {
        reelforge(tmp.path())
            .env("REELFORGE_FOOTAGE_SOURCES", "local")
            .args(["make", "cats", "--stop-at", "footage", "--script"])
            .arg(write_script(tmp.path()))
            .args(extra)
            .output()
            .unwrap()
    };
    // The config's only source has no folder: nothing to use.
    let output = make(&[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let output = make(&["--sources", "local,generated"]);
    assert!(output.status.success(), "{}", text(&output));
    let tasks = tmp.path().join("tasks");
    let footage = std::fs::read_dir(&tasks)
        .unwrap()
        .flatten()
        .find_map(|t| std::fs::read(t.path().join("footage.json")).ok())
        .unwrap();
    let footage: Value = serde_json::from_slice(&footage).unwrap();
    let clips = footage["clips"].as_array().unwrap();
    assert!(!clips.is_empty());
    assert!(
        clips.iter().all(|c| c["provider"] == "generated"),
        "{footage}"
    );
}

#[test]
fn two_videos_with_music_from_a_folder_and_local_footage() {
    let tmp = tempfile::tempdir().unwrap();
    let footage = tmp.path().join("footage");
    std::fs::create_dir(&footage).unwrap();
    clip(
        &footage,
        "purring_cat.mp4",
        "testsrc2",
        "320x240",
        25,
        3.0,
        false,
    );
    clip(
        &footage,
        "calm_cat.mp4",
        "smptebars",
        "240x320",
        25,
        3.0,
        false,
    );
    let music = tmp.path().join("music");
    std::fs::create_dir(&music).unwrap();
    for (name, freq) in [("a.wav", 440), ("b.wav", 550)] {
        let source = format!("sine=f={freq}:d=2");
        let out = music.join(name);
        ffmpeg(["-f", "lavfi", "-i", &source, out.to_str().unwrap()]);
    }
    let output = reelforge(tmp.path())
        .args(["make", "cats", "--aspect", "1:1", "--videos", "2"])
        .args(["--sources", "local", "--music"])
        .arg(&music)
        .arg("--footage-dir")
        .arg(&footage)
        .arg("--script")
        .arg(write_script(tmp.path()))
        .output()
        .unwrap();
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    let task = only_task_dir(tmp.path());
    for name in ["final.mp4", "final-2.mp4"] {
        let probe = ffprobe(&task.join(name));
        assert_eq!((probe.width, probe.height), (1080, 1080), "{name}");
        assert_eq!((probe.video_streams, probe.audio_streams), (1, 1), "{name}");
    }
    assert!(!task.join("final-3.mp4").exists());
    let record = task_record(tmp.path());
    let music_option = record["spec"]["options"]["music"].as_str().unwrap();
    assert!(Path::new(music_option).is_absolute(), "{music_option}");
    assert_eq!(record["spec"]["options"]["video_count"], 2);
}

#[test]
fn bad_option_values_exit_2_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["--voice", "festival"], "--voice: \"festival\""),
        (&["--sources", "local,vimeo"], "--sources: \"vimeo\""),
        (&["--sources", "local,local"], "--sources"),
        (
            &["--music", "/no/such/song.mp3"],
            "--music: \"/no/such/song.mp3\"",
        ),
        (
            &["--subtitle-style", "comic"],
            "--subtitle-style: \"comic\"",
        ),
        (&["--videos", "6"], "--videos: 6"),
        (&["--videos", "two"], "--videos"),
    ];
    for (flags, expected) in cases {
        let output = reelforge(tmp.path())
            .args(["make", "cats"])
            .args(flags)
            .output()
            .unwrap();
        let log = text(&output);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {log}");
        assert!(log.contains(expected), "{flags:?}: {log}");
    }
    let tasks = tmp.path().join("tasks");
    assert!(
        !tasks.exists() || std::fs::read_dir(&tasks).unwrap().next().is_none(),
        "no task is made from a bad flag"
    );
}
