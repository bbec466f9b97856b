//! A clip file server on 127.0.0.1 for download tests and the downloader benchmark: named
//! byte blobs served with `Range` support, per-route fault injection (statuses, cut or
//! stalled bodies, HTML pages, redirects), optional throttling and latency, and counters.
//! Also makes real MP4/JPEG fixtures with ffmpeg.
//!
//! Include it with `#[path = "support/files.rs"] mod files;` (from `benches/`:
//! `#[path = "../tests/support/files.rs"]`).

// Shared by several test crates (tests/download.rs, benches/downloader.rs), each using only
// part of it; the rest would warn as dead code in each of them.
#![allow(dead_code)]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one request to a route gets instead of (or on top of) the file; queued per route and
/// consumed one per request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// This status with a short body, and `Retry-After: secs` when given.
    Status(u16, Option<u64>),
    /// Declares the full Content-Length, sends this many body bytes, then drops the connection.
    CutAfter(usize),
    /// Sends this many body bytes, then nothing more (the connection stays open).
    StallAfter(usize),
    /// A 200 HTML error page served as `video/mp4`, as misconfigured CDNs do.
    Html,
    /// A 302 to this URL.
    RedirectTo(String),
}

#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Each response body is paced to at most this many bytes per second. HTTP/1.1 serves one
    /// response at a time per connection, so this is a per-connection cap.
    pub throttle_bytes_per_sec: Option<u64>,
    /// Added before every response, like a distant server's round trip.
    pub latency: Duration,
}

struct Route {
    bytes: Bytes,
    content_type: String,
    faults: VecDeque<Fault>,
    requests: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    range_requests: AtomicU64,
    bytes_served: AtomicU64,
}

struct Shared {
    routes: Mutex<HashMap<String, Route>>,
    counters: Counters,
    options: ServerOptions,
}

/// A running server; stops accepting when dropped.
pub struct FileServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FileServer {
    pub async fn start() -> FileServer {
        Self::start_with(ServerOptions::default()).await
    }

    pub async fn start_with(options: ServerOptions) -> FileServer {
        let shared = Arc::new(Shared {
            routes: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            options,
        });
        let app = Router::new()
            .route("/files/{*name}", get(serve))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("file server");
        });
        FileServer { addr, shared, task }
    }

    /// The URL of `name` (which may carry a query string: it is ignored when serving).
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/files/{name}", self.addr)
    }

    /// Serves `bytes` as `name`, with a content type from the extension.
    pub fn add(&self, name: &str, bytes: impl Into<Bytes>) {
        let content_type = match name.rsplit('.').next() {
            Some("mp4" | "m4v") => "video/mp4",
            Some("webm") => "video/webm",
            Some("jpg" | "jpeg") => "image/jpeg",
            Some("png") => "image/png",
            _ => "application/octet-stream",
        };
        self.add_with_type(name, bytes, content_type);
    }

    pub fn add_with_type(&self, name: &str, bytes: impl Into<Bytes>, content_type: &str) {
        let route = Route {
            bytes: bytes.into(),
            content_type: content_type.to_string(),
            faults: VecDeque::new(),
            requests: 0,
        };
        self.routes().insert(name.to_string(), route);
    }

    /// Queues `fault` for the next request to `name` not already taken by earlier faults.
    pub fn fault(&self, name: &str, fault: Fault) {
        let mut routes = self.routes();
        let route = routes
            .get_mut(name)
            .expect("add the file before its faults");
        route.faults.push_back(fault);
    }

    pub fn requests(&self) -> u64 {
        self.shared.counters.requests.load(Ordering::SeqCst)
    }

    pub fn requests_for(&self, name: &str) -> u64 {
        self.routes().get(name).map_or(0, |r| r.requests)
    }

    /// Requests that carried a `Range` header.
    pub fn range_requests(&self) -> u64 {
        self.shared.counters.range_requests.load(Ordering::SeqCst)
    }

    /// Body bytes handed to the connection (a cut body counts what was sent before the cut).
    pub fn bytes_served(&self) -> u64 {
        self.shared.counters.bytes_served.load(Ordering::SeqCst)
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
        self.shared.routes.lock().expect("routes lock")
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    shared.counters.requests.fetch_add(1, Ordering::SeqCst);
    let range = headers.get(header::RANGE).map(parse_range);
    if range.is_some() {
        shared
            .counters
            .range_requests
            .fetch_add(1, Ordering::SeqCst);
    }
    if !shared.options.latency.is_zero() {
        tokio::time::sleep(shared.options.latency).await;
    }
    let found = {
        let mut routes = shared.routes.lock().expect("routes lock");
        routes.get_mut(&name).map(|route| {
            route.requests += 1;
            let fault = route.faults.pop_front();
            (route.bytes.clone(), route.content_type.clone(), fault)
        })
    };
    let Some((bytes, content_type, fault)) = found else {
        return plain(StatusCode::NOT_FOUND, "no such file");
    };
    let mut stop = None;
    match fault {
        Some(Fault::Status(code, retry_after)) => {
            let status = StatusCode::from_u16(code).expect("a valid status code");
            let mut response = plain(status, "injected failure");
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return response;
        }
        Some(Fault::Html) => {
            let page = "<!DOCTYPE html>\n<html><body>Access denied</body></html>\n";
            return with_body(StatusCode::OK, "video/mp4", Body::from(page), page.len());
        }
        Some(Fault::RedirectTo(url)) => {
            let mut response = plain(StatusCode::FOUND, "moved");
            let location = HeaderValue::from_str(&url).expect("a valid redirect URL");
            response.headers_mut().insert(header::LOCATION, location);
            return response;
        }
        Some(Fault::CutAfter(n)) => stop = Some((n, End::Cut)),
        Some(Fault::StallAfter(n)) => stop = Some((n, End::Stall)),
        None => {}
    }
    let len = bytes.len();
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len),
        Some(Some((from, _))) if from >= len => {
            let mut response = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            let value = HeaderValue::from_str(&format!("bytes */{len}")).expect("header");
            response.headers_mut().insert(header::CONTENT_RANGE, value);
            return response;
        }
        Some(Some((from, to))) => {
            let to = to.map_or(len, |t| (t + 1).min(len));
            (StatusCode::PARTIAL_CONTENT, from, to)
        }
        Some(None) => return plain(StatusCode::BAD_REQUEST, "unsupported Range"),
    };
    let sender = Sender {
        data: bytes.slice(start..end),
        pos: 0,
        stop,
        finished: false,
        rate: shared.options.throttle_bytes_per_sec,
        started: Instant::now(),
        shared: shared.clone(),
    };
    let body = Body::from_stream(futures_util::stream::unfold(sender, Sender::next));
    let mut response = with_body(status, &content_type, body, end - start);
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{len}", end - 1);
        let value = HeaderValue::from_str(&value).expect("header");
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}

/// `bytes=N-` or `bytes=N-M`; `None` for anything else (multiple ranges, suffix ranges).
fn parse_range(value: &HeaderValue) -> Option<(usize, Option<usize>)> {
    let spec = value.to_str().ok()?.trim().strip_prefix("bytes=")?;
    let (from, to) = spec.split_once('-')?;
    let from = from.trim().parse().ok()?;
    let to = match to.trim() {
        "" => None,
        to => Some(to.parse().ok()?),
    };
    Some((from, to))
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    with_body(status, "text/plain", Body::from(text), text.len())
}

fn with_body(status: StatusCode, content_type: &str, body: Body, len: usize) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("content type"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

#[derive(Clone, Copy)]
enum End {
    Cut,
    Stall,
}

/// Streams one response body in chunks, paced when throttled, ending as a fault says.
struct Sender {
    data: Bytes,
    pos: usize,
    stop: Option<(usize, End)>,
    finished: bool,
    rate: Option<u64>,
    started: Instant,
    shared: Arc<Shared>,
}

impl Sender {
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Sender)> {
        if self.finished {
            return None;
        }
        if let Some((at, end)) = self.stop
            && self.pos >= at
        {
            match end {
                End::Cut => {
                    // An error item makes hyper abort the connection mid-body; the pause first
                    // lets the bytes already sent leave, as they would before a real cut.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    self.finished = true;
                    let cut = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut");
                    return Some((Err(cut), self));
                }
                End::Stall => std::future::pending::<()>().await,
            }
        }
        if self.pos >= self.data.len() {
            return None;
        }
        // Small chunks when throttled keep the pace smooth; big ones otherwise.
        let chunk = if self.rate.is_some() { 16 } else { 64 } * 1024;
        let limit = self
            .stop
            .map_or(self.data.len(), |(at, _)| at.min(self.data.len()));
        let end = (self.pos + chunk)
            .min(limit)
            .max(self.pos + 1)
            .min(self.data.len());
        if let Some(rate) = self.rate {
            let due = self.started + Duration::from_secs_f64(self.pos as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let bytes = self.data.slice(self.pos..end);
        self.pos = end;
        let served = &self.shared.counters.bytes_served;
        served.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        Some((Ok(bytes), self))
    }
}

/// Real clips made by ffmpeg, held in memory.
pub struct Fixtures {
    /// 3 s of 320x240 H.264, moov atom at the end (ffmpeg's default).
    pub plain: Vec<u8>,
    /// The same clip with `-movflags +faststart` (moov atom at the front).
    pub faststart: Vec<u8>,
    /// A 320x240 JPEG still.
    pub jpg: Vec<u8>,
}

impl Fixtures {
    pub fn make() -> Fixtures {
        let dir = tempfile::tempdir().expect("temp dir");
        let read = |p: PathBuf| std::fs::read(p).expect("read fixture");
        Fixtures {
            plain: read(make_mp4(dir.path(), "plain.mp4", false)),
            faststart: read(make_mp4(dir.path(), "faststart.mp4", true)),
            jpg: read(make_jpg(dir.path(), "still.jpg")),
        }
    }
}

/// Writes a 3 s 320x240 `testsrc2` H.264 MP4 into `dir`.
pub fn make_mp4(dir: &Path, name: &str, faststart: bool) -> PathBuf {
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=25:d=3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
    ];
    if faststart {
        args.extend(["-movflags", "+faststart"]);
    }
    ffmpeg(&args, &dir.join(name))
}

/// Writes one 320x240 `testsrc2` frame as a JPEG into `dir`.
pub fn make_jpg(dir: &Path, name: &str) -> PathBuf {
    let args = ["-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1"];
    ffmpeg(&args, &dir.join(name))
}

fn ffmpeg(args: &[&str], out: &Path) -> PathBuf {
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg must be installed for download tests");
    assert!(status.success(), "ffmpeg {args:?} failed");
    out.to_path_buf()
}
