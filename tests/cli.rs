//! The `reelforge` binary end to end: a real video from a subject, JSON events, kill -9 and
//! resume against an OpenAI-compatible server on 127.0.0.1, and bad input that gets a clear
//! error and loses nothing. Needs ffmpeg and espeak-ng (installed by scripts/setup.sh).

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const SECRET: &str = "sk-test-never-print-me-4242";

#[path = "support/cli.rs"]
mod cli_support;
use cli_support::{ffprobe, only_task_dir, reelforge, text, write_script};

#[test]
fn make_writes_a_playable_video_matching_the_narration() {
    let tmp = tempfile::tempdir().unwrap();
    let out_file = tmp.path().join("out").join("cats.mp4");
    let output = reelforge(tmp.path())
        .args(["make", "Why do cats purr?", "--aspect", "1:1", "--script"])
        .arg(write_script(tmp.path()))
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("using generated backgrounds"),
        "says no stock source is configured: {log}"
    );
    let task_dir = only_task_dir(tmp.path());
    let voice: serde_json::Value =
        serde_json::from_slice(&std::fs::read(task_dir.join("voice.json")).unwrap()).unwrap();
    let narration = voice["duration"].as_f64().unwrap();
    let probe = ffprobe(&out_file);
    assert!(
        (probe.duration - narration).abs() <= 0.2,
        "video {} s vs narration {narration} s",
        probe.duration
    );
    assert_eq!((probe.width, probe.height), (1080, 1080));
    assert_eq!((probe.video_streams, probe.audio_streams), (1, 1));
    let srt = std::fs::read_to_string(out_file.with_extension("srt")).unwrap();
    assert!(
        srt.contains("Cats purr when") && srt.contains("The sound helps them heal."),
        "{srt}"
    );
    assert!(task_dir.join("subtitles.ass").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&task_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty());

    // The store knows the task and its output.
    let list = reelforge(tmp.path())
        .args(["tasks", "list"])
        .output()
        .unwrap();
    assert!(text(&list).contains("done"), "{}", text(&list));
    let id = task_dir.file_name().unwrap().to_string_lossy().to_string();
    let show = reelforge(tmp.path())
        .args(["tasks", "show", &id])
        .output()
        .unwrap();
    assert!(
        text(&show).contains("render") && text(&show).contains(&out_file.display().to_string()),
        "{}",
        text(&show)
    );
}

/// An OpenAI-compatible server: the script request answers at once, the terms request
/// answers slowly the first time (so the test can kill the process while it waits).
#[derive(Default)]
struct Llm {
    script_calls: AtomicU32,
    terms_calls: AtomicU32,
    auth_ok: AtomicU32,
}

async fn chat(
    State(llm): State<Arc<Llm>>,
    headers: axum::http::HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> impl IntoResponse {
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {SECRET}"))
    {
        llm.auth_ok.fetch_add(1, Ordering::SeqCst);
    }
    let user = body["messages"][1]["content"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let is_terms = user.contains("JSON")
        || body["messages"][0]["content"]
            .as_str()
            .unwrap_or("")
            .contains("JSON");
    let content = if is_terms {
        if llm.terms_calls.fetch_add(1, Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        "Sure! ```json\n[[\"cat purring\", \"sleepy cat\",], [\"cat healing\"], [\"kitten\"]]\n```"
            .to_string()
    } else {
        llm.script_calls.fetch_add(1, Ordering::SeqCst);
        "<think>plan it</think>**Cats purr** when they are calm. The sound helps them heal. Kittens purr from the day they are born."
            .to_string()
    };
    Json(serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    }))
}

fn start_llm_server() -> (String, Arc<Llm>, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let llm = Arc::new(Llm::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(llm.clone());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), llm, runtime)
}

#[test]
fn killed_mid_task_then_resumed_without_redoing_finished_stages() {
    let tmp = tempfile::tempdir().unwrap();
    let (base_url, llm, _server) = start_llm_server();
    let with_llm = |cmd: &mut Command| {
        cmd.env("REELFORGE_LLM_PROVIDER", "openai")
            .env("REELFORGE_LLM_BASE_URL", &base_url)
            .env("REELFORGE_LLM_MODEL", "test-model")
            .env("REELFORGE_LLM_STREAM", "false")
            .env("REELFORGE_SCRIPT_SENTENCES", "3")
            .env("OPENAI_API_KEY", SECRET);
    };
    let mut cmd = reelforge(tmp.path());
    with_llm(&mut cmd);
    let mut child = cmd
        .args(["make", "Why do cats purr?", "--aspect", "16:9", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut task = String::new();
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        let event: serde_json::Value =
            serde_json::from_str(&line).expect("every line is one JSON event");
        seen.push(line.clone());
        task = event["task"].as_str().unwrap().to_string();
        // Script done and voice done: the terms request is hanging now.
        let voice_done = seen
            .iter()
            .any(|l| l.contains("\"stage\":\"voice\"") && l.contains("\"event\":\"finished\""));
        if voice_done && llm.terms_calls.load(Ordering::SeqCst) == 1 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        seen.iter().all(|l| !l.contains(SECRET)),
        "the API key leaked into --json output"
    );
    assert_eq!(llm.script_calls.load(Ordering::SeqCst), 1);

    let list = reelforge(tmp.path())
        .args(["tasks", "list"])
        .output()
        .unwrap();
    assert!(
        text(&list).contains(&task) && text(&list).contains("interrupted"),
        "{}",
        text(&list)
    );

    let mut resume = reelforge(tmp.path());
    with_llm(&mut resume);
    let output = resume.args(["tasks", "resume", &task]).output().unwrap();
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert_eq!(
        llm.script_calls.load(Ordering::SeqCst),
        1,
        "the finished script stage was not redone"
    );
    assert_eq!(
        llm.terms_calls.load(Ordering::SeqCst),
        2,
        "terms ran again after the kill"
    );
    assert!(
        !log.contains("  script     started"),
        "script must not run again: {log}"
    );
    assert!(
        !log.contains("  voice      started"),
        "voice must not run again: {log}"
    );
    assert!(
        llm.auth_ok.load(Ordering::SeqCst) >= 2,
        "the key was sent as a bearer token"
    );
    let video = only_task_dir(tmp.path()).join("final.mp4");
    let probe = ffprobe(&video);
    assert_eq!((probe.width, probe.height), (1920, 1080));
    // Secrets never reach the log file either.
    for entry in std::fs::read_dir(tmp.path().join("logs"))
        .unwrap()
        .flatten()
    {
        let content = std::fs::read_to_string(entry.path()).unwrap_or_default();
        assert!(
            !content.contains(SECRET),
            "API key in {}",
            entry.path().display()
        );
    }
}

#[test]
fn missing_ffmpeg_is_named_with_its_fix_before_any_task_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(which("espeak-ng"), bin.join("espeak-ng")).unwrap();
    let output = reelforge(tmp.path())
        .env("PATH", &bin)
        .args(["make", "cats"])
        .output()
        .unwrap();
    let log = text(&output);
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(
        log.contains("ffmpeg") && log.contains("apt-get install ffmpeg"),
        "{log}"
    );
    assert!(
        !tmp.path().join("tasks").exists()
            || std::fs::read_dir(tmp.path().join("tasks"))
                .unwrap()
                .next()
                .is_none()
    );
}

fn which(tool: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(tool))
                .find(|p| p.exists())
        })
        .unwrap_or_else(|| panic!("{tool} must be installed (./scripts/setup.sh)"))
}

#[test]
fn empty_subject_bad_aspect_and_config_typos_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let output = reelforge(tmp.path()).args(["make", "  "]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("subject is empty"),
        "{}",
        text(&output)
    );

    let output = reelforge(tmp.path())
        .args(["make", "cats", "--aspect", "4:3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("4:3") && text(&output).contains("9:16"),
        "{}",
        text(&output)
    );

    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "[video]\naspekt = \"9:16\"\n").unwrap();
    let output = reelforge(tmp.path())
        .arg("--config")
        .arg(&config)
        .args(["make", "cats"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let log = text(&output);
    assert!(
        log.contains("video.aspekt") && log.contains("video.aspect") && log.contains("config.toml"),
        "{log}"
    );

    let output = reelforge(tmp.path())
        .env("REELFORGE_VIDEO_FPSS", "30")
        .args(["make", "cats"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("REELFORGE_VIDEO_FPSS"),
        "{}",
        text(&output)
    );

    let missing = tmp.path().join("nope.txt");
    let output = reelforge(tmp.path())
        .args(["make", "cats", "--script"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("nope.txt"), "{}", text(&output));
}

#[test]
fn footage_folder_problems_name_the_folder_or_file() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = reelforge(tmp.path())
        .args(["make", "cats", "--stop-at", "footage", "--footage-dir"])
        .arg(&empty)
        .output()
        .unwrap();
    let log = text(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("stage footage failed")
            && log.contains("has no videos")
            && log.contains("empty"),
        "{log}"
    );

    // One unreadable clip beside a good one: skipped with a warning naming it.
    let mixed = tmp.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    std::fs::write(mixed.join("broken.mp4"), b"<html>not a video</html>").unwrap();
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x240:d=2",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(mixed.join("purring_cat.mp4"))
        .status()
        .unwrap();
    assert!(status.success());
    let output = reelforge(tmp.path())
        .args(["make", "cats", "--stop-at", "select", "--footage-dir"])
        .arg(&mixed)
        .output()
        .unwrap();
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("skipped") && log.contains("broken.mp4"),
        "{log}"
    );

    // Only unreadable clips: the stage fails and names the file.
    std::fs::remove_file(mixed.join("purring_cat.mp4")).unwrap();
    let output = reelforge(tmp.path())
        .args(["make", "cats", "--stop-at", "footage", "--footage-dir"])
        .arg(&mixed)
        .output()
        .unwrap();
    let log = text(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("no usable clip") && log.contains("broken.mp4"),
        "{log}"
    );
}

#[test]
fn llm_replies_are_cached_and_a_hit_is_an_event() {
    let tmp = tempfile::tempdir().unwrap();
    let (base_url, llm, _server) = start_llm_server();
    // The first terms request hangs by design of the shared server; use it up front.
    llm.terms_calls.store(1, Ordering::SeqCst);
    let run = || {
        let output = reelforge(tmp.path())
            .env("REELFORGE_LLM_PROVIDER", "openai")
            .env("REELFORGE_LLM_BASE_URL", &base_url)
            .env("REELFORGE_LLM_MODEL", "test-model")
            .env("REELFORGE_LLM_STREAM", "false")
            .env("REELFORGE_SCRIPT_SENTENCES", "3")
            .args(["make", "Why do cats purr?", "--stop-at", "terms", "--json"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run();
    assert!(!first.contains("cache_hit"), "{first}");
    let second = run();
    let hits: Vec<serde_json::Value> = second
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "cache_hit")
        .collect();
    let kinds: Vec<&str> = hits.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["llm", "terms"], "{second}");
    assert_eq!(
        llm.script_calls.load(Ordering::SeqCst),
        1,
        "the second script came from the cache"
    );
    assert_eq!(llm.terms_calls.load(Ordering::SeqCst), 2);
    let stats = reelforge(tmp.path())
        .args(["cache", "stats"])
        .output()
        .unwrap();
    assert!(
        text(&stats).contains("llm") && text(&stats).contains("terms"),
        "{}",
        text(&stats)
    );
}

/// The default engines with no key and no network: the embedded LLM writes the script,
/// Piper reads it, Whisper times every word for the highlighted subtitles.
#[test]
fn make_with_the_local_models_needs_no_key_and_no_network() {
    let tmp = tempfile::tempdir().unwrap();
    let output = reelforge(tmp.path())
        .env("REELFORGE_LLM_PROVIDER", "auto")
        .env("REELFORGE_VOICE_PROVIDER", "piper")
        .env("REELFORGE_STT_PROVIDER", "whisper")
        .env("REELFORGE_SCRIPT_SENTENCES", "3")
        .args(["make", "Why do cats purr?", "--aspect", "1:1", "--json"])
        .output()
        .unwrap();
    let log = text(&output);
    assert!(
        output.status.success(),
        "{log}\n(models missing? run {})",
        "./scripts/fetch-models.sh"
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let loaded: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "model_ready")
        .map(|e| e["model"].as_str().unwrap())
        .collect();
    for model in ["SmolLM2", "Piper", "whisper"] {
        assert!(
            loaded
                .iter()
                .any(|m| m.to_lowercase().contains(&model.to_lowercase())),
            "{model} was not used: {loaded:?}"
        );
    }
    let task_dir = only_task_dir(tmp.path());
    let script: serde_json::Value =
        serde_json::from_slice(&std::fs::read(task_dir.join("script.json")).unwrap()).unwrap();
    assert_eq!(script["origin"], "llm");
    let words: serde_json::Value =
        serde_json::from_slice(&std::fs::read(task_dir.join("words.json")).unwrap()).unwrap();
    assert!(words["sentences"].as_array().unwrap().len() >= 2);
    let ass = std::fs::read_to_string(task_dir.join("subtitles.ass")).unwrap();
    assert!(
        ass.contains("\\c&H"),
        "the spoken word is highlighted: {ass}"
    );
    let probe = ffprobe(&task_dir.join("final.mp4"));
    assert_eq!((probe.width, probe.height), (1080, 1080));
    assert_eq!((probe.video_streams, probe.audio_streams), (1, 1));
}
