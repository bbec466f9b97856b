//! Twelve tasks against an OpenAI-compatible server and a Pexels-shaped server whose clips
//! live on a CDN, all on 127.0.0.1 with a distant server's latency and occasional 429 / 500:
//! the harness of the load test and of the makespan benchmark. Each task has its own topic,
//! so its script, terms, searches and clips are its own (no task rides on another's cache).
//! Needs `support/files.rs` and `support/stock.rs` as `files` and `stock` in the including
//! crate.
#![allow(dead_code)]

use crate::files::{FileServer, ServerOptions};
use crate::stock::{Catalogue, LANDSCAPE, PEXELS_KEY, StockItem, StockServer, Vendor, video_path};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use reelforge::config::{Config, Secret};
use reelforge::pipeline::stages::{Providers, engine_settings, stage_set};
use reelforge::pipeline::{Event, EventKind, Pipeline, PipelineHandle};
use reelforge::store::{Store, TaskSpec};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const TASKS: usize = 12;
/// Clips per task, each its own file on the CDN.
const CLIPS_PER_TASK: u64 = 3;

/// How the servers misbehave.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// Before every LLM answer.
    pub llm_latency: Duration,
    /// Every `llm_fault_every`-th LLM request fails (alternately 500 and 429 with
    /// `Retry-After: 1`); 0: never.
    pub llm_fault_every: u64,
    /// Before every stock search answer.
    pub search_latency: Duration,
    /// 429s and 500s served by the stock API, spread over the first searches.
    pub search_faults: usize,
    /// Before every clip download.
    pub cdn_latency: Duration,
    /// Clip files answering 500 once, and clip files cut halfway once.
    pub cdn_faults: usize,
}

impl Faults {
    /// Latencies like real vendors' and a fault every few requests.
    pub fn realistic() -> Faults {
        Faults {
            llm_latency: Duration::from_millis(1200),
            llm_fault_every: 5,
            search_latency: Duration::from_millis(300),
            search_faults: 4,
            cdn_latency: Duration::from_millis(150),
            cdn_faults: 4,
        }
    }
}

/// The OpenAI-compatible server: answers by topic, counts requests and faults served.
pub struct LlmServer {
    pub url: String,
    pub requests: Arc<AtomicU64>,
    pub faults_served: Arc<AtomicU64>,
}

#[derive(Clone)]
struct LlmState {
    faults: Faults,
    requests: Arc<AtomicU64>,
    faults_served: Arc<AtomicU64>,
}

pub struct Servers {
    pub llm: LlmServer,
    pub pexels: StockServer,
    pub cdn: FileServer,
    /// Clip files given a fault, by name.
    pub faulted_clips: Vec<String>,
    pub search_faults: usize,
}

/// The topic word of task `i`: in its subject, script, terms and its clips' tags only.
pub fn topic(i: usize) -> String {
    format!("tk{i}")
}

pub fn spec(i: usize) -> TaskSpec {
    TaskSpec {
        subject: format!("The {} valley and its rivers", topic(i)),
        aspect: "16:9".into(),
        ..TaskSpec::default()
    }
}

pub async fn start_servers(faults: Faults) -> Servers {
    let llm = start_llm(faults).await;
    let fixtures = crate::files::Fixtures::make();
    let cdn = FileServer::start_with(ServerOptions {
        latency: faults.cdn_latency,
        ..ServerOptions::default()
    })
    .await;
    let mut items = Vec::new();
    let mut faulted_clips = Vec::new();
    for task in 0..TASKS {
        for n in 0..CLIPS_PER_TASK {
            let id = 7_000_000 + task as u64 * 10 + n;
            let slug = format!("{}-river-scene-{n}", topic(task));
            let item = StockItem::video(id, &slug, &[&topic(task)], 3, LANDSCAPE);
            for size in &item.sizes {
                let name = video_path(id, *size).trim_start_matches('/').to_string();
                cdn.add(&name, fixtures.plain.clone());
                if *size == (1920, 1080) && faulted_clips.len() < 2 * faults.cdn_faults {
                    let fault = if faulted_clips.len() % 2 == 0 {
                        crate::files::Fault::Status(500, None)
                    } else {
                        crate::files::Fault::CutAfter(fixtures.plain.len() / 2)
                    };
                    cdn.fault(&name, fault);
                    faulted_clips.push(name);
                }
            }
            items.push(item);
        }
    }
    let pexels = StockServer::start(Catalogue {
        items,
        match_any_term: false,
        files_base: format!("http://{}/files", cdn.addr),
        ..Catalogue::sample()
    })
    .await;
    // Every search waits like a distant API; a 429 or 500 now and then among them.
    for n in 0..TASKS * 8 {
        if n % 3 == 1 && n / 3 < faults.search_faults {
            let fault = if n % 2 == 0 {
                crate::stock::Fault::ServerError
            } else {
                crate::stock::Fault::RateLimited(Some("1".into()))
            };
            pexels.push_fault(Vendor::Pexels, fault);
        }
        pexels.push_fault(
            Vendor::Pexels,
            crate::stock::Fault::Delay(faults.search_latency),
        );
    }
    Servers {
        llm,
        pexels,
        cdn,
        faulted_clips,
        search_faults: faults.search_faults,
    }
}

async fn start_llm(faults: Faults) -> LlmServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the LLM server");
    let url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let state = LlmState {
        faults,
        requests: Arc::default(),
        faults_served: Arc::default(),
    };
    let server = LlmServer {
        url,
        requests: state.requests.clone(),
        faults_served: state.faults_served.clone(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("LLM server") });
    server
}

/// A three-sentence script about the task's topic, or its terms (the prompt asks for JSON).
async fn chat(State(state): State<LlmState>, Json(body): Json<serde_json::Value>) -> Response {
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(state.faults.llm_latency).await;
    let every = state.faults.llm_fault_every;
    if every > 0 && n % every == 0 {
        state.faults_served.fetch_add(1, Ordering::SeqCst);
        let error = |message: &str, kind: &str| serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
        return if (n / every) % 2 == 0 {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(error("The server had an error", "server_error")),
            )
                .into_response()
        } else {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                Json(error("Rate limit reached", "requests")),
            )
                .into_response()
        };
    }
    let prompt = body["messages"].to_string();
    let topic = prompt
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| w.starts_with("tk") && w[2..].chars().all(|c| c.is_ascii_digit()) && w.len() > 2)
        .unwrap_or("tk0")
        .to_string();
    let content = if prompt.contains("JSON") {
        format!(r#"[["{topic} river"], ["{topic} valley"], ["{topic} sea"]]"#)
    } else {
        format!("The {topic} valley is green. Its rivers run fast. They reach the sea.")
    };
    Json(serde_json::json!({
        "id": format!("chatcmpl-{n}"), "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}]
    }))
    .into_response()
}

/// reelforge's config for these servers: OpenAI-compatible LLM, espeak voice, Pexels footage.
pub fn config(servers: &Servers, data: &Path) -> Config {
    let mut config = Config::default();
    config.paths.data_dir = Some(data.to_path_buf());
    config.llm.provider = "openai".into();
    config.llm.base_url = servers.llm.url.clone();
    config.llm.api_key = Secret::new("sk-load-test");
    config.llm.model = "test-model".into();
    config.llm.stream = false;
    config.script.sentences = 3;
    config.voice.provider = "espeak".into();
    config.stt.provider = "none".into();
    config.footage.sources = vec!["pexels".into()];
    config.footage.pexels.base_url = servers.pexels.base_url();
    config.footage.pexels.api_keys = vec![Secret::new(PEXELS_KEY)];
    config.video.aspect = "16:9".into();
    reelforge::config::load::validate(&config).expect("the load test's config is valid");
    config
}

pub fn start_pipeline(config: Config, store: &Store) -> PipelineHandle {
    let providers = Providers::from_config(&config, store).expect("providers");
    let settings = engine_settings(&config);
    let stages = stage_set(Arc::new(config), store, &providers);
    Pipeline::start(store.clone(), stages, settings)
}

/// One task's end.
#[derive(Debug)]
pub struct Outcome {
    pub task: String,
    pub last: EventKind,
    pub retries: usize,
}

/// Runs `specs` all at once (`concurrent`) or one after another; returns each task's end
/// and the makespan.
pub async fn run(
    pipeline: &PipelineHandle,
    specs: Vec<TaskSpec>,
    concurrent: bool,
    deadline: Duration,
) -> (Vec<Outcome>, Duration) {
    let mut events = pipeline.subscribe().await.expect("subscribe");
    let started = Instant::now();
    let limit = tokio::time::Instant::now() + deadline;
    let mut outcomes = Vec::new();
    let mut retries: std::collections::HashMap<String, usize> = Default::default();
    let mut pending = specs.into_iter();
    let mut running = 0;
    loop {
        while running == 0 || (concurrent && pending.len() > 0) {
            let Some(spec) = pending.next() else { break };
            pipeline.submit(spec).await.expect("submit");
            running += 1;
        }
        if running == 0 {
            break;
        }
        let event: Event = tokio::time::timeout_at(limit, events.recv())
            .await
            .expect("the tasks finish before the deadline")
            .expect("event stream open");
        if let EventKind::Failed {
            will_retry: true, ..
        } = event.kind
        {
            *retries.entry(event.task.clone()).or_default() += 1;
        }
        if event.ends_task() {
            running -= 1;
            outcomes.push(Outcome {
                retries: retries.get(&event.task).copied().unwrap_or(0),
                task: event.task,
                last: event.kind,
            });
        }
    }
    (outcomes, started.elapsed())
}
