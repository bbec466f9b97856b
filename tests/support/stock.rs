//! A fake Pexels and Pixabay on 127.0.0.1, speaking their real field names and nesting.
//!
//! Include with `#[path = "support/stock.rs"] mod stock;`, then
//! `let server = StockServer::start(Catalogue::sample()).await;`. Pexels answers at
//! [`StockServer::base_url`] (`/videos/search`, `/v1/search`), Pixabay at
//! [`StockServer::pixabay_base`] (`/api/videos/`, `/api/`). Download links start with
//! `Catalogue::files_base` ([`video_path`], [`photo_path`] give the rest); left empty, they
//! point at this server's `/files`, which serves what [`StockServer::serve_file`] registered.
//! Each request takes the next queued [`Fault`] of its vendor, if any; keys outside the
//! catalogue's lists are refused the way each vendor does (Pexels 401, Pixabay 400 text).
//! The replies themselves (search, paging, each vendor's JSON) are built in `stock_json.rs`.
//! Every request is logged ([`Seen`]) for assertions. The server stops when the handle drops;
//! it runs on the test's runtime, so a test driving the CLI as a subprocess should wait for it
//! with `tokio::process` or run on `#[tokio::test(flavor = "multi_thread")]`.
// Shared by several test crates; each uses only part of it.
#![allow(dead_code)]

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// What the vendors answer: the catalogue search and their JSON.
#[path = "stock_json.rs"]
mod json;

use json::answer;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vendor {
    Pexels,
    Pixabay,
}

/// A clip or a photo of the catalogue.
#[derive(Clone, Debug)]
pub struct StockItem {
    pub video: bool,
    pub id: u64,
    /// The page slug without the id: "video-of-forest".
    pub slug: String,
    pub tags: Vec<String>,
    /// Photos only (Pexels' `alt`).
    pub alt: String,
    /// Whole seconds, as both vendors give them; 0 for photos.
    pub duration: u32,
    pub user: String,
    pub user_id: u64,
    /// Videos: width x height of each file, any order. Photos: the one original size.
    pub sizes: Vec<(u32, u32)>,
    /// Pexels also lists an HLS playlist whose sizes are null.
    pub hls: bool,
}

impl StockItem {
    /// By "Coverr-Free-Footage" (user 1281706).
    pub fn video(id: u64, slug: &str, tags: &[&str], secs: u32, sizes: &[(u32, u32)]) -> Self {
        StockItem {
            video: true,
            id,
            slug: slug.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            alt: String::new(),
            duration: secs,
            user: "Coverr-Free-Footage".into(),
            user_id: 1281706,
            sizes: sizes.to_vec(),
            hls: true,
        }
    }

    /// By "Joey Farina" (user 680589).
    pub fn photo(id: u64, slug: &str, tags: &[&str], alt: &str, size: (u32, u32)) -> Self {
        StockItem {
            video: false,
            alt: alt.into(),
            user: "Joey Farina".into(),
            user_id: 680589,
            ..StockItem::video(id, slug, tags, 0, &[size])
        }
    }

    /// The largest file's size: the clip's own.
    pub fn size(&self) -> (u32, u32) {
        let largest = self.sizes.iter().max_by_key(|(w, h)| w * h);
        largest.copied().unwrap_or((0, 0))
    }
}

#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    pub items: Vec<StockItem>,
    /// Where download links point; empty: this server's `/files`.
    pub files_base: String,
    pub pexels_keys: Vec<String>,
    pub pixabay_keys: Vec<String>,
    /// Every item answers every term (for end-to-end runs whose terms are not known).
    pub match_any_term: bool,
}

pub const LANDSCAPE: &[(u32, u32)] = &[(640, 360), (1280, 720), (1920, 1080), (3840, 2160)];
pub const PORTRAIT: &[(u32, u32)] = &[(360, 640), (720, 1280), (1080, 1920), (2160, 3840)];
pub const PEXELS_KEY: &str = "pexels-key";
pub const PIXABAY_KEY: &str = "pixabay-key";

impl Catalogue {
    /// Landscape and portrait forest clips, a 0 s clip, two photos; keys [`PEXELS_KEY`] and
    /// [`PIXABAY_KEY`].
    pub fn sample() -> Catalogue {
        let (video, photo) = (StockItem::video, StockItem::photo);
        let rocks = "brown-rocks-during-golden-hour";
        Catalogue {
            items: vec![
                video(
                    1448735,
                    "video-of-forest",
                    &["forest", "trees"],
                    32,
                    LANDSCAPE,
                ),
                video(2000001, "forest-river-at-dawn", &["river"], 14, PORTRAIT),
                video(2000002, "forest-blink", &[], 0, LANDSCAPE),
                photo(
                    2014422,
                    rocks,
                    &["rocks"],
                    "Brown Rocks During Golden Hour",
                    (3024, 3024),
                ),
                photo(
                    2014423,
                    "forest-path",
                    &["forest", "path"],
                    "",
                    (6000, 4000),
                ),
            ],
            files_base: String::new(),
            pexels_keys: vec![PEXELS_KEY.into()],
            pixabay_keys: vec![PIXABAY_KEY.into()],
            match_any_term: false,
        }
    }
}

pub fn video_path(id: u64, (w, h): (u32, u32)) -> String {
    format!("/video/{id}/{w}x{h}.mp4")
}

/// `size`: "original", "large2x", ... (Pexels) or "large", "webformat", "preview" (Pixabay).
pub fn photo_path(id: u64, size: &str) -> String {
    format!("/photo/{id}/{size}.jpg")
}

/// What the next request of a vendor gets instead of its answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// HTTP 429, with this `Retry-After` header if any.
    RateLimited(Option<String>),
    /// HTTP 500.
    ServerError,
    /// Cloudflare's HTML "Error 1015" rate-limit page with this status (429, 403, 503).
    Cloudflare(u16),
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// Waits this long, then answers normally (for cancellation and timeouts).
    Delay(Duration),
    /// Any status with a plain-text body.
    Status(u16, String),
}

pub const CLOUDFLARE_1015: &str = "<!DOCTYPE html>\n<html><head><title>Access denied | \
    pixabay.com used Cloudflare to restrict access</title></head>\n<body><div \
    class=\"cf-error-details\"><h1>Error 1015</h1><h2>You are being rate limited</h2><p>The \
    owner of this website (pixabay.com) has banned you temporarily from accessing this \
    website.</p></div></body></html>";

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub vendor: Vendor,
    pub path: String,
    pub params: HashMap<String, String>,
    pub authorization: Option<String>,
    pub status: u16,
}

struct Shared {
    catalogue: Catalogue,
    base: String,
    faults: Mutex<HashMap<Vendor, VecDeque<Fault>>>,
    seen: Mutex<Vec<Seen>>,
    files: Mutex<HashMap<String, Vec<u8>>>,
}

pub struct StockServer {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl StockServer {
    pub async fn start(mut catalogue: Catalogue) -> StockServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
        let listener = listener.expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        if catalogue.files_base.is_empty() {
            catalogue.files_base = format!("{base}/files");
        }
        let (faults, seen, files) = Default::default();
        let shared = Arc::new(Shared {
            catalogue,
            base,
            faults,
            seen,
            files,
        });
        let app = axum::Router::new().fallback(handle);
        let app = app.with_state(shared.clone());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        StockServer { shared, task }
    }

    /// Pexels' API root.
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    /// Pixabay's API root (like `https://pixabay.com/api`).
    pub fn pixabay_base(&self) -> String {
        format!("{}/api", self.shared.base)
    }

    pub fn files_base(&self) -> String {
        self.shared.catalogue.files_base.clone()
    }

    pub fn push_fault(&self, vendor: Vendor, fault: Fault) {
        let mut faults = self.shared.faults.lock().unwrap();
        faults.entry(vendor).or_default().push_back(fault);
    }

    /// Serves `bytes` at `{files_base}{path}` (when `files_base` was left empty).
    pub fn serve_file(&self, path: &str, bytes: Vec<u8>) {
        self.shared.files.lock().unwrap().insert(path.into(), bytes);
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub fn requests_to(&self, vendor: Vendor) -> Vec<Seen> {
        let mut all = self.requests();
        all.retain(|s| s.vendor == vendor);
        all
    }
}

impl Drop for StockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Params = HashMap<String, String>;

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let path = uri.path().to_string();
    if let Some(file) = path.strip_prefix("/files") {
        return match shared.files.lock().unwrap().get(file) {
            Some(bytes) => bytes.clone().into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let (vendor, videos) = match path.trim_end_matches('/') {
        "/videos/search" => (Vendor::Pexels, true),
        "/v1/search" => (Vendor::Pexels, false),
        "/api/videos" => (Vendor::Pixabay, true),
        "/api" => (Vendor::Pixabay, false),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let auth = auth.map(str::to_string);
    let fault = shared
        .faults
        .lock()
        .unwrap()
        .get_mut(&vendor)
        .and_then(|q| q.pop_front());
    let (status, ctype, body, retry_after) = match fault {
        None => answer(&shared, vendor, videos, &params, auth.as_deref()),
        Some(Fault::Delay(wait)) => {
            tokio::time::sleep(wait).await;
            answer(&shared, vendor, videos, &params, auth.as_deref())
        }
        Some(Fault::RateLimited(after)) => {
            (429, JSON, r#"{"error":"Too many requests"}"#.into(), after)
        }
        Some(Fault::ServerError) => (500, JSON, r#"{"error":"internal error"}"#.into(), None),
        Some(Fault::Cloudflare(status)) => (status, "text/html", CLOUDFLARE_1015.into(), None),
        Some(Fault::Garbage) => (200, JSON, r#"{"videos": [tru"#.into(), None),
        Some(Fault::Status(status, body)) => (status, TEXT, body, None),
    };
    let seen = Seen {
        vendor,
        path,
        params,
        authorization: auth,
        status,
    };
    shared.seen.lock().unwrap().push(seen);
    let mut response = Response::builder()
        .status(status)
        .header("content-type", ctype);
    if let Some(after) = retry_after {
        response = response.header("retry-after", after);
    }
    response.body(body.into()).expect("response")
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain";

/// Made-up file sizes, so that tests can check `bytes`.
pub fn file_bytes((w, h): (u32, u32)) -> u64 {
    u64::from(w) * u64::from(h) / 4
}
