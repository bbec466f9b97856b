//! Running the `reelforge` binary from tests: a command isolated from the developer's config
//! and keys, output as text, ffprobe of the result, the task folder.
// Shared by several test crates, each using part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn reelforge(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reelforge"));
    cmd.arg("--data-dir").arg(data);
    isolate(&mut cmd, data);
    cmd
}

/// The environment `reelforge` runs in for tests, for any command that starts it.
pub fn isolate(cmd: &mut Command, data: &Path) {
    // Keep the tests independent of the developer's own config and keys.
    cmd.env("XDG_CONFIG_HOME", data.join("no-config"));
    cmd.env_remove("OPENAI_API_KEY")
        .env_remove("PEXELS_API_KEY")
        .env_remove("PIXABAY_API_KEY");
    for (key, _) in std::env::vars() {
        if key.starts_with("REELFORGE_") && key != "REELFORGE_MODELS_DIR" {
            cmd.env_remove(key);
        }
    }
    // The fast engines by default; the local-model test below turns the models on.
    cmd.env("REELFORGE_LLM_PROVIDER", "none")
        .env("REELFORGE_VOICE_PROVIDER", "espeak")
        .env("REELFORGE_STT_PROVIDER", "none");
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub struct Probe {
    pub duration: f64,
    pub width: u64,
    pub height: u64,
    pub video_streams: usize,
    pub audio_streams: usize,
}

pub fn ffprobe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs (apt-get install ffmpeg)");
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = json["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    Probe {
        duration: json["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
        width: video["width"].as_u64().unwrap(),
        height: video["height"].as_u64().unwrap(),
        video_streams: streams
            .iter()
            .filter(|s| s["codec_type"] == "video")
            .count(),
        audio_streams: streams
            .iter()
            .filter(|s| s["codec_type"] == "audio")
            .count(),
    }
}

pub fn write_script(dir: &Path) -> PathBuf {
    let path = dir.join("script.txt");
    std::fs::write(
        &path,
        "Cats purr when they are calm. The sound helps them heal.",
    )
    .unwrap();
    path
}

pub fn only_task_dir(data: &Path) -> PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir(data.join("tasks"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}
