//! The dashboard's services that touch the machine: narration playback through rodio.
//!
//! ALSA configuration is read once per process and its failures print to fd 2, so each
//! playback check runs in a child process (this same test binary, re-invoked with an
//! environment variable that selects `child_process_entry`) whose stderr is captured.

use reelforge::tui::audio::{AudioError, Player};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Set in a child: the WAV that `child_process_entry` plays.
const CHILD_WAV: &str = "REELFORGE_TEST_CHILD_WAV";

/// `seconds` of a 440 Hz tone, 16-bit mono at 16 kHz.
fn write_wav(path: &Path, seconds: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("temp dir is writable");
    for i in 0..16_000 * seconds {
        let t = i as f32 / 16_000.0;
        let s = (t * 440.0 * std::f32::consts::TAU).sin() * 0.2;
        writer
            .write_sample((s * i16::MAX as f32) as i16)
            .expect("temp dir is writable");
    }
    writer.finalize().expect("temp dir is writable");
}

/// Runs `child_process_entry` in a child of this test binary, with `home` as HOME (so a
/// personal `~/.asoundrc` does not leak in), playing `wav`.
fn run_child(home: &Path, wav: &Path) -> Output {
    run_child_with(home, wav, None)
}

/// `run_child`, with ALSA reading `alsa_config` instead of the system's configuration.
fn run_child_with(home: &Path, wav: &Path, alsa_config: Option<&Path>) -> Output {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let mut cmd = Command::new(exe);
    if let Some(config) = alsa_config {
        cmd.env("ALSA_CONFIG_PATH", config);
    } else {
        cmd.env_remove("ALSA_CONFIG_PATH");
    }
    cmd.args([
        "child_process_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_WAV, wav)
    .env("HOME", home)
    .env_remove("XDG_CONFIG_HOME")
    .output()
    .expect("the test binary can be started again")
}

/// The child's report: the `OUTCOME` lines it printed.
fn outcome(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        // libtest prints "test child_process_entry ... " on the same line first.
        .filter_map(|l| l.split_once("OUTCOME ").map(|(_, rest)| rest.to_string()))
        .collect()
}

/// Not a check by itself: the body of the child processes started by the tests below.
/// It reports each step as an `OUTCOME` line on stdout.
#[test]
fn child_process_entry() {
    let Some(wav) = std::env::var_os(CHILD_WAV) else {
        return;
    };
    let wav = Path::new(&wav);
    let mut player = Player::new();
    match player.play(wav) {
        Ok(()) => {
            println!("OUTCOME playing {}", player.is_playing());
            player.stop();
            println!("OUTCOME stopped {}", !player.is_playing());
            // Played to the end this time: the status must drop by itself.
            let replay = player.play(wav).map_err(|e| e.to_string());
            let deadline = Instant::now() + Duration::from_secs(20);
            while player.is_playing() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            println!("OUTCOME replayed {replay:?} ended {}", !player.is_playing());
        }
        Err(e @ AudioError::NoDevice { .. }) => println!("OUTCOME no-device {e}"),
        Err(e) => println!("OUTCOME error {e}"),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn without_a_device_play_says_so_and_prints_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("voice.wav");
    write_wav(&wav, 1);
    // An ALSA configuration that defines no device at all: every machine, with a sound
    // card or not, is then the SSH host this check is about.
    let no_devices = dir.path().join("alsa-without-devices.conf");
    std::fs::write(&no_devices, "# no PCM devices\n").expect("temp dir is writable");
    let output = run_child_with(dir.path(), &wav, Some(&no_devices));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed: {stderr}");
    let lines = outcome(&output);
    let expected = format!(
        "no-device no audio device: narration not played (over SSH? play {} on your machine)",
        wav.display()
    );
    assert_eq!(lines, [expected]);
    // ALSA's own complaints ("ALSA lib pcm.c:… Unknown PCM default") must not reach the
    // terminal the dashboard draws on.
    assert!(stderr.trim().is_empty(), "stderr was: {stderr}");
}

#[test]
fn a_missing_file_is_named() {
    let path = PathBuf::from("/nonexistent/reelforge/t1/voice.wav");
    let err = Player::new()
        .play(&path)
        .expect_err("a missing file cannot play");
    assert!(matches!(err, AudioError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

#[test]
fn a_file_that_is_not_audio_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("voice.wav");
    std::fs::write(&path, b"this is not a wav file at all").expect("temp dir is writable");
    let err = Player::new().play(&path).expect_err("text cannot play");
    assert!(matches!(err, AudioError::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

/// ALSA's null PCM accepts samples and discards them (faster than real time), so the whole
/// play → playing → stop → play to the end cycle runs on a machine with no sound card. A
/// personal `~/.asoundrc` in a temporary HOME selects it for the child only.
#[cfg(target_os = "linux")]
#[test]
fn playback_cycle_on_the_null_device() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join(".asoundrc"),
        "pcm.!default {\n    type null\n}\n",
    )
    .expect("temp dir is writable");
    // Long enough that the null device cannot drain it between `play` and the first
    // status check (it drains ~30 s of audio in well under a second).
    let wav = dir.path().join("voice.wav");
    write_wav(&wav, 30);
    let output = run_child(dir.path(), &wav);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed: {stderr}");
    assert_eq!(
        outcome(&output),
        ["playing true", "stopped true", "replayed Ok(()) ended true"]
    );
    assert!(stderr.trim().is_empty(), "stderr was: {stderr}");
}

/// The dashboard's global subscriber: lines at info and above reach the ring, debug lines
/// only the file (when REELFORGE_LOG asks for them), and the file is the daily log.
/// This is the only test here that sets the global subscriber.
#[test]
fn dashboard_logging_feeds_the_ring_and_the_file() {
    use reelforge::pipeline::Stage;
    use reelforge::pipeline::events::LogLevel;
    use reelforge::tui::logring::{channel, init_dashboard_logging};

    let dir = tempfile::tempdir().expect("temp dir");
    let (layer, mut rx) = channel();
    let guard = init_dashboard_logging(dir.path(), layer);
    assert!(guard.is_some(), "the logs folder can be created");
    tracing::debug!(task = "t9", "too fine for the ring");
    tracing::warn!(task = "t9", stage = "render", code = 1, "ffmpeg retried");
    drop(guard);

    let (task, line) = rx.try_recv().expect("the warning reached the ring");
    assert_eq!(task.as_deref(), Some("t9"));
    assert_eq!(line.level, LogLevel::Warn);
    assert_eq!(line.stage, Some(Stage::Render));
    assert_eq!(line.text, "ffmpeg retried code=1");
    assert!(rx.try_recv().is_err(), "debug lines stay out of the ring");

    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
        .expect("the logs folder exists")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("reelforge.log"))
        .collect();
    assert_eq!(logs.len(), 1, "one daily file");
    let text = std::fs::read_to_string(logs[0].path()).expect("the log file is readable");
    assert!(text.contains("ffmpeg retried"), "file has: {text}");
}
