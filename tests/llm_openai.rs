//! The OpenAI-compatible adapter against a local axum server speaking the real wire format:
//! plain and streamed replies, every error class, cancellation and timeouts.

use axum::Router;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use reelforge::config::Secret;
use reelforge::providers::ProviderError;
use reelforge::providers::llm::openai::OpenAiCompatible;
use reelforge::providers::llm::{ChatRequest, LlmProvider};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-test-secret-4242";
const HINT: &str = "set OPENAI_API_KEY or llm.api_key";

type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// Serves `/v1/chat/completions`, recording each request's Authorization header and body.
async fn serve<F, Fut>(reply: F) -> (String, Seen)
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |headers: HeaderMap, body: String| {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = serde_json::from_str(&body).unwrap_or(Value::Null);
            log.lock().unwrap().push((auth, body));
            reply()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1/"), seen)
}

fn provider(base: &str, stream: bool, timeout_secs: u64) -> OpenAiCompatible {
    OpenAiCompatible::new(
        base,
        Secret::new(KEY),
        "test-model",
        Duration::from_secs(timeout_secs),
        stream,
        HINT.into(),
    )
    .unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        seed: None,
        system: "You write scripts.".into(),
        user: "Subject: cats".into(),
        temperature: 0.4,
        max_tokens: Some(300),
    }
}

async fn ask(p: &OpenAiCompatible) -> Result<String, ProviderError> {
    p.complete(&request(), &CancellationToken::new(), &|_| {})
        .await
}

fn status_reply(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> Response {
    let mut builder = Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

fn sse(pieces: Vec<Vec<u8>>, pause: Duration) -> Response {
    let stream = futures_util::stream::iter(pieces).then(move |piece| async move {
        tokio::time::sleep(pause).await;
        Ok::<_, std::io::Error>(piece)
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn delta(text: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices":[{"index":0,"delta":{"content":text}}]})
    )
}

#[tokio::test]
async fn plain_reply_with_openai_fields() {
    let (base, seen) = serve(|| async {
        axum::Json(json!({
            "id": "chatcmpl-1", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Cats purr."},
                         "finish_reason": "stop"}]
        }))
        .into_response()
    })
    .await;
    assert_eq!(ask(&provider(&base, false, 5)).await.unwrap(), "Cats purr.");
    let (auth, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(body["model"], "test-model");
    assert_eq!(
        body["messages"][0],
        json!({"role":"system","content":"You write scripts."})
    );
    assert_eq!(
        body["messages"][1],
        json!({"role":"user","content":"Subject: cats"})
    );
    assert_eq!(body["temperature"], 0.4);
    assert_eq!(body["max_tokens"], 300);
    assert_eq!(body["stream"], false);

    // Local servers such as Ollama take no key, and get no Authorization header.
    let keyless = OpenAiCompatible::new(
        &base,
        Secret::new(""),
        "m",
        Duration::from_secs(5),
        false,
        HINT.into(),
    )
    .unwrap();
    ask(&keyless).await.unwrap();
    assert_eq!(seen.lock().unwrap()[1].0, None);
}

#[tokio::test]
async fn streamed_reply_split_across_reads() {
    let mut wire = String::from(": keep-alive\n\n");
    wire.push_str(&format!(
        "data: {}\n\n",
        json!({"choices":[{"delta":{"role":"assistant","reasoning_content":"thinking…"}}]})
    ));
    for piece in ["Cats ", "purr ", "when ", "happy — ", "très ", "content."] {
        wire.push_str(&delta(piece));
    }
    wire.push_str("data: [DONE]\n\n");
    // Cut at fixed byte offsets, through JSON and through multi-byte characters alike.
    let bytes = wire.into_bytes();
    let pieces: Vec<Vec<u8>> = bytes.chunks(37).map(<[u8]>::to_vec).collect();
    let (base, seen) = serve(move || {
        let pieces = pieces.clone();
        async move { sse(pieces, Duration::from_millis(15)) }
    })
    .await;
    let tokens = AtomicUsize::new(0);
    let text = provider(&base, true, 5)
        .complete(&request(), &CancellationToken::new(), &|n| {
            tokens.store(n, Ordering::SeqCst)
        })
        .await
        .unwrap();
    assert_eq!(text, "Cats purr when happy — très content.");
    assert_eq!(tokens.load(Ordering::SeqCst), 6);
    assert_eq!(seen.lock().unwrap()[0].1["stream"], true);
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let (base, _) = serve(|| async {
        status_reply(
            429,
            &[("retry-after", "2")],
            r#"{"error":{"message":"slow down"}}"#,
        )
    })
    .await;
    let err = ask(&provider(&base, false, 5)).await.unwrap_err();
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
}

#[tokio::test]
async fn server_error_is_transient() {
    let (base, _) = serve(|| async { status_reply(500, &[], "upstream exploded") }).await;
    let err = ask(&provider(&base, true, 5)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(err.to_string().contains("upstream exploded"));
}

#[tokio::test]
async fn rejected_key_gives_hint_never_key() {
    let (base, _) = serve(|| async {
        let body = format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}"}}}}"#);
        status_reply(401, &[], &body)
    })
    .await;
    let err = ask(&provider(&base, false, 5)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Auth { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.is_transient());
    let shown = format!("{err} {err:?}");
    assert!(shown.contains(HINT), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn garbage_body_is_a_bad_reply() {
    let (base, _) = serve(|| async { status_reply(200, &[], "not json{") }).await;
    let err = ask(&provider(&base, false, 5)).await.unwrap_err();
    assert!(matches!(err, ProviderError::BadReply { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn unknown_model_keeps_vendor_message() {
    let (base, _) = serve(|| async {
        let body = r#"{"error":{"message":"The model `x` does not exist","type":"invalid_request_error"}}"#;
        status_reply(404, &[("content-type", "application/json")], body)
    })
    .await;
    let err = ask(&provider(&base, false, 5)).await.unwrap_err();
    match &err {
        ProviderError::BadRequest {
            status, message, ..
        } => {
            assert_eq!(*status, 404);
            assert_eq!(message, "The model `x` does not exist");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient());
}

#[tokio::test]
async fn cancel_during_slow_stream() {
    let (base, _) = serve(|| async {
        let first = delta("Cats ").into_bytes();
        let stream = futures_util::stream::iter([first]).chain(futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            delta("never").into_bytes()
        }));
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(stream.map(Ok::<_, std::io::Error>)))
            .unwrap()
    })
    .await;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let p = provider(&base, true, 60);
    let started = Instant::now();
    let tokens = AtomicUsize::new(0);
    let req = request();
    let on_token = |n| tokens.store(n, Ordering::SeqCst);
    let (result, _) = tokio::join!(p.complete(&req, &cancel, &on_token), async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    assert!(
        matches!(result, Err(ProviderError::Cancelled)),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(tokens.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn silent_server_times_out() {
    let (base, _) = serve(|| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        status_reply(200, &[], "{}")
    })
    .await;
    let started = Instant::now();
    let err = ask(&provider(&base, false, 1)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Timeout { secs: 1, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unreachable_port_is_a_network_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base = format!("http://127.0.0.1:{port}/v1");
    let err = ask(&provider(&base, false, 5)).await.unwrap_err();
    match &err {
        ProviderError::Network { endpoint, .. } => {
            assert_eq!(endpoint, &format!("{base}/chat/completions"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
    assert!(!format!("{err} {err:?}").contains(KEY));
}
