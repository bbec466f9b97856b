//! The dashboard driven in tmux (`tests/tui/dashboard.sh`) against an OpenAI-compatible
//! server and a Pexels-shaped server on 127.0.0.1 whose clips download slowly enough to be
//! cancelled: a task made through the form, its footage stage cancelled and retried, and
//! the task finishing with a video. Needs tmux (`./scripts/setup.sh` installs it).

#[path = "support/cli.rs"]
mod cli_support;
#[path = "support/files.rs"]
mod files;
#[path = "support/stock.rs"]
mod stock;
#[path = "support/stock_cdn.rs"]
mod stock_cdn;

use axum::routing::post;
use axum::{Json, Router};
use std::process::Command;

const SCRIPT: &str = "Old forests hold more carbon than young ones. Rivers carry their leaves \
     to the sea. Moss grows where the light is soft.";

/// Answers the script request with three sentences and the terms request with JSON groups.
async fn chat(Json(body): Json<serde_json::Value>) -> Json<serde_json::Value> {
    let prompt = body["messages"].to_string();
    let content = if prompt.contains("JSON") {
        r#"[["old forest", "forest"], ["forest river"], ["forest moss"]]"#
    } else {
        SCRIPT
    };
    Json(serde_json::json!({
        "id": "chatcmpl-tui", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}]
    }))
}

#[test]
fn a_task_made_in_the_dashboard_survives_a_cancelled_and_retried_footage_stage() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let llm_url = format!("http://{}/v1", listener.local_addr().unwrap());
    let app = Router::new().route("/v1/chat/completions", post(chat));
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    // ~10 KB/s per connection: each 3 s clip takes ~10 s, so the cancel lands while clips are
    // still downloading even on a loaded machine.
    let slow = files::ServerOptions {
        throttle_bytes_per_sec: Some(10_000),
        ..files::ServerOptions::default()
    };
    let (pexels, _cdn, _, _) = stock_cdn::start_vendor_and_cdn(&runtime, slow);

    let data = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tui/dashboard.sh"
    ));
    cli_support::isolate(&mut cmd, data.path());
    let output = cmd
        .env("DASHBOARD_BIN", env!("CARGO_BIN_EXE_reelforge"))
        .env("DASHBOARD_DATA", data.path())
        .env("REELFORGE_LLM_PROVIDER", "openai")
        .env("REELFORGE_LLM_BASE_URL", &llm_url)
        .env("REELFORGE_LLM_MODEL", "test-model")
        .env("REELFORGE_LLM_STREAM", "false")
        .env("REELFORGE_SCRIPT_SENTENCES", "3")
        .env("OPENAI_API_KEY", "sk-tui-test")
        .env("REELFORGE_FOOTAGE_PEXELS_BASE_URL", pexels.base_url())
        .env("REELFORGE_FOOTAGE_SOURCES", "pexels,generated")
        .env("PEXELS_API_KEY", stock::PEXELS_KEY)
        .env("REELFORGE_VIDEO_ASPECT", "16:9")
        .output()
        .expect("bash runs the tmux script");
    let log = cli_support::text(&output);
    println!("{log}");
    assert!(
        output.status.success(),
        "the dashboard script failed:\n{log}"
    );
    let video = log
        .lines()
        .find_map(|l| l.strip_prefix("dashboard test: video "))
        .expect("the script names the video");
    let probe = cli_support::ffprobe(std::path::Path::new(video));
    assert!(probe.duration > 2.0, "{video}: {} s", probe.duration);
    assert_eq!((probe.width, probe.height), (1920, 1080), "{video}");
    // The footage stage ran twice: once cancelled, once to the end.
    assert!(
        pexels.requests().len() >= 2,
        "{:?}",
        pexels.requests().len()
    );
}
