//! The shared downloader against a real HTTP server on 127.0.0.1 and real ffmpeg: caching,
//! retries, resumption by Range, stalls, rejections, redirects, the size cap, cancellation,
//! the pool's limits and shared transfers.

#[path = "support/files.rs"]
mod files;

use files::{Fault, FileServer, Fixtures, ServerOptions};
use reelforge::fsutil::part_path;
use reelforge::providers::download::{
    DownloadError, DownloadRequest, DownloadSettings, DownloadState, DownloadUpdate, Downloaded,
    Downloader,
};
use reelforge::providers::footage::MediaKind;
use reelforge::store::{CacheKey, Store};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(Fixtures::make)
}

/// Fast retries so the whole file runs in seconds.
fn settings() -> DownloadSettings {
    DownloadSettings {
        max_downloads: 4,
        per_host: 4,
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_secs(1),
        max_bytes: 50 * 1024 * 1024,
        max_attempts: 4,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        proxy: None,
        validate_media: true,
    }
}

struct Env {
    dir: tempfile::TempDir,
    store: Store,
    dl: Downloader,
}

impl Env {
    fn new(settings: DownloadSettings) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let dl = Downloader::new(self::clips(&dir), settings, Some(store.cache.clone())).unwrap();
        Env { dir, store, dl }
    }

    fn clips(&self) -> PathBuf {
        clips(&self.dir)
    }

    /// Fetches `url`, returning the result and every update sent.
    async fn fetch(
        &self,
        url: &str,
        kind: MediaKind,
    ) -> (Result<Downloaded, DownloadError>, Vec<DownloadUpdate>) {
        let seen = Mutex::new(Vec::new());
        let sink = |u: DownloadUpdate| seen.lock().unwrap().push(u);
        let result = self
            .dl
            .fetch(request(url, kind), &sink, &CancellationToken::new())
            .await;
        (result, seen.into_inner().unwrap())
    }
}

fn clips(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("clips")
}

fn request(url: &str, kind: MediaKind) -> DownloadRequest {
    DownloadRequest {
        url: url.to_string(),
        label: "test 1".into(),
        source: "files".into(),
        kind,
        expected_bytes: None,
    }
}

fn states(updates: &[DownloadUpdate]) -> Vec<DownloadState> {
    updates.iter().map(|u| u.state).collect()
}

fn details(updates: &[DownloadUpdate], state: DownloadState) -> Vec<String> {
    updates
        .iter()
        .filter(|u| u.state == state)
        .filter_map(|u| u.detail.clone())
        .collect()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

fn rejected_reason(result: Result<Downloaded, DownloadError>) -> String {
    match result {
        Err(DownloadError::Rejected {
            reason,
            source_name,
            label,
        }) => {
            assert_eq!((source_name.as_str(), label.as_str()), ("files", "test 1"));
            reason
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn downloads_once_then_serves_from_cache() {
    let clip = &fixtures().faststart;
    let server = FileServer::start().await;
    server.add("clip.mp4", clip.clone());
    // The key in the query string must never show up in updates.
    let url = server.url("clip.mp4?key=SECRET");
    let env = Env::new(settings());

    let (first, updates) = env.fetch(&url, MediaKind::Video).await;
    let first = first.unwrap();
    assert_eq!(first.path, env.dl.stored_path(&url, MediaKind::Video));
    assert!(first.path.starts_with(env.clips()) && first.path.extension().unwrap() == "mp4");
    assert_eq!(std::fs::read(&first.path).unwrap(), *clip);
    assert_eq!(
        (first.network_bytes, first.size),
        (clip.len() as u64, clip.len() as u64)
    );
    assert!(!first.from_cache);
    assert_eq!((first.width, first.height), (320, 240));
    assert!(
        (first.duration.unwrap() - 3.0).abs() < 0.1,
        "{:?}",
        first.duration
    );
    let seen = states(&updates);
    assert!(seen.contains(&DownloadState::Downloading), "{seen:?}");
    let done = updates.last().unwrap();
    assert_eq!(
        (done.state, done.done_bytes),
        (DownloadState::Done, clip.len() as u64)
    );
    assert!(done.bytes_per_sec > 0 && done.label == "test 1" && done.source == "files");
    assert!(!format!("{updates:?}").contains("SECRET"));
    assert_eq!(files_under(&env.clips()), vec![first.path.clone()]);

    // Same downloader, then a fresh one on the same folder and cache: no network at all.
    let fresh = Downloader::new(env.clips(), settings(), Some(env.store.cache.clone())).unwrap();
    for dl in [&env.dl, &fresh] {
        let seen = Mutex::new(Vec::new());
        let sink = |u: DownloadUpdate| seen.lock().unwrap().push(u);
        let hit = dl
            .fetch(
                request(&url, MediaKind::Video),
                &sink,
                &CancellationToken::new(),
            )
            .await;
        let hit = hit.unwrap();
        assert!(hit.from_cache);
        assert_eq!((hit.network_bytes, hit.size), (0, clip.len() as u64));
        assert_eq!(hit.download_ms, first.download_ms);
        assert_eq!(
            (hit.width, hit.height, hit.duration),
            (320, 240, first.duration)
        );
        assert_eq!(
            states(&seen.into_inner().unwrap()),
            vec![DownloadState::Cached]
        );
    }
    assert_eq!(server.requests(), 1);
    assert_eq!(
        (env.dl.network_bytes(), fresh.network_bytes()),
        (clip.len() as u64, 0)
    );
    assert_eq!(env.store.cache.stats().unwrap().kinds["clips"].entries, 1);

    // A lost cache entry costs an ffprobe, not a download, and is written again.
    env.store
        .cache
        .remove(&CacheKey::new("clips", "", "", &url));
    let (again, _) = env.fetch(&url, MediaKind::Video).await;
    let again = again.unwrap();
    assert!(again.from_cache && again.network_bytes == 0 && again.download_ms == 0);
    assert_eq!((again.width, again.height), (320, 240));
    assert_eq!(server.requests(), 1);
    assert_eq!(env.store.cache.stats().unwrap().kinds["clips"].entries, 1);
}

#[tokio::test]
async fn rate_limits_wait_as_asked_or_back_off() {
    let server = FileServer::start().await;
    let env = Env::new(settings());
    server.add("a.mp4", fixtures().faststart.clone());
    server.fault("a.mp4", Fault::Status(429, Some(1)));
    let started = Instant::now();
    let (result, updates) = env.fetch(&server.url("a.mp4"), MediaKind::Video).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    let retry = updates
        .iter()
        .find(|u| u.state == DownloadState::Retrying)
        .unwrap();
    assert_eq!(retry.retry_in, Some(Duration::from_secs(1)));
    assert_eq!(retry.detail.as_deref(), Some("rate limited (HTTP 429)"));

    server.add("b.mp4", fixtures().faststart.clone());
    server.fault("b.mp4", Fault::Status(429, None));
    let (result, updates) = env.fetch(&server.url("b.mp4"), MediaKind::Video).await;
    assert!(result.is_ok(), "{result:?}");
    let retry = updates
        .iter()
        .find(|u| u.state == DownloadState::Retrying)
        .unwrap();
    // No Retry-After: the configured backoff (20 ms ± 25 %).
    assert!(
        retry.retry_in.unwrap() <= Duration::from_millis(100),
        "{retry:?}"
    );
    assert_eq!(
        (server.requests_for("a.mp4"), server.requests_for("b.mp4")),
        (2, 2)
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_given_up() {
    let server = FileServer::start().await;
    let env = Env::new(DownloadSettings {
        max_attempts: 3,
        ..settings()
    });
    server.add("a.mp4", fixtures().faststart.clone());
    server.fault("a.mp4", Fault::Status(500, None));
    let (result, updates) = env.fetch(&server.url("a.mp4"), MediaKind::Video).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        details(&updates, DownloadState::Retrying),
        vec!["server error (HTTP 500)"]
    );

    server.add("b.mp4", fixtures().faststart.clone());
    for _ in 0..3 {
        server.fault("b.mp4", Fault::Status(503, None));
    }
    let (result, updates) = env.fetch(&server.url("b.mp4"), MediaKind::Video).await;
    let reason = rejected_reason(result);
    assert_eq!(reason, "gave up after 3 tries: server error (HTTP 503)");
    assert_eq!(server.requests_for("b.mp4"), 3);
    assert_eq!(details(&updates, DownloadState::Rejected), vec![reason]);
    assert_eq!(
        states(&updates)
            .iter()
            .filter(|s| **s == DownloadState::Retrying)
            .count(),
        2
    );

    // Refusals that will not change are not retried.
    let (result, _) = env
        .fetch(&server.url("missing.mp4"), MediaKind::Video)
        .await;
    assert_eq!(rejected_reason(result), "HTTP 404 Not Found");
    assert_eq!(server.requests(), 2 + 3 + 1);
    let kept = files_under(&env.clips());
    assert_eq!(kept.len(), 1, "only a.mp4 is stored: {kept:?}");
}

#[tokio::test]
async fn a_cut_connection_resumes_with_range() {
    let clip = &fixtures().faststart;
    let server = FileServer::start().await;
    let env = Env::new(settings());
    server.add("a.mp4", clip.clone());
    server.fault("a.mp4", Fault::CutAfter(clip.len() / 2));
    let (result, updates) = env.fetch(&server.url("a.mp4"), MediaKind::Video).await;
    let done = result.unwrap();
    assert_eq!(
        std::fs::read(&done.path).unwrap(),
        *clip,
        "not byte-identical"
    );
    assert_eq!(server.range_requests(), 1);
    // Resumed, not restarted: every byte came over the network exactly once.
    assert_eq!(done.network_bytes, clip.len() as u64);
    let why = details(&updates, DownloadState::Retrying);
    assert!(
        why.len() == 1 && why[0].starts_with("connection dropped after"),
        "{why:?}"
    );
}

#[tokio::test]
async fn a_crashed_part_file_is_resumed_and_a_stale_one_restarted() {
    let clip = &fixtures().faststart;
    let server = FileServer::start().await;
    let env = Env::new(settings());
    server.add("a.mp4", clip.clone());
    let url = server.url("a.mp4");
    let part = part_path(&env.dl.stored_path(&url, MediaKind::Video));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    let half = clip.len() / 2;
    std::fs::write(&part, &clip[..half]).unwrap();
    let done = env.fetch(&url, MediaKind::Video).await.0.unwrap();
    assert_eq!(std::fs::read(&done.path).unwrap(), *clip);
    assert_eq!(done.network_bytes, (clip.len() - half) as u64);
    assert_eq!(server.range_requests(), 1);
    assert!(!part.exists());

    // A part longer than the file (the file changed): 416, then a fresh start.
    server.add("b.mp4", clip.clone());
    let url = server.url("b.mp4");
    let part = part_path(&env.dl.stored_path(&url, MediaKind::Video));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, vec![0u8; clip.len() + 10]).unwrap();
    let done = env.fetch(&url, MediaKind::Video).await.0.unwrap();
    assert_eq!(std::fs::read(&done.path).unwrap(), *clip);
    assert_eq!(server.requests_for("b.mp4"), 2);
}

#[tokio::test]
async fn a_stalled_body_is_dropped_and_resumed() {
    let clip = &fixtures().faststart;
    let server = FileServer::start().await;
    let env = Env::new(settings());
    server.add("a.mp4", clip.clone());
    server.fault("a.mp4", Fault::StallAfter(clip.len() / 3));
    let started = Instant::now();
    let (result, updates) = env.fetch(&server.url("a.mp4"), MediaKind::Video).await;
    let done = result.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(std::fs::read(&done.path).unwrap(), *clip);
    assert_eq!(
        details(&updates, DownloadState::Retrying),
        vec!["no data for 1 s"]
    );
    assert_eq!(server.range_requests(), 1);
}

#[tokio::test]
async fn html_pages_are_rejected_whatever_their_type() {
    let server = FileServer::start().await;
    let env = Env::new(settings());
    server.add("a.mp4", fixtures().faststart.clone());
    server.fault("a.mp4", Fault::Html);
    let page = b"  <!DOCTYPE html><html><body>login</body></html>".repeat(50);
    server.add_with_type("b.mp4", page, "text/html; charset=utf-8");
    for name in ["a.mp4", "b.mp4"] {
        let (result, updates) = env.fetch(&server.url(name), MediaKind::Video).await;
        let reason = rejected_reason(result);
        assert_eq!(reason, "an HTML page, not a video", "{name}");
        assert_eq!(details(&updates, DownloadState::Rejected), vec![reason]);
    }
    assert_eq!(files_under(&env.clips()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn truncated_mp4s_are_rejected_even_with_faststart() {
    let f = fixtures();
    let server = FileServer::start().await;
    let env = Env::new(settings());
    let cases = [
        ("plain.mp4", &f.plain[..f.plain.len() * 6 / 10]),
        ("fast.mp4", &f.faststart[..f.faststart.len() * 6 / 10]),
        ("fast-end.mp4", &f.faststart[..f.faststart.len() - 1000]),
    ];
    for (name, bytes) in cases {
        // Served whole (a consistent Content-Length): only validation can notice.
        server.add(name, bytes.to_vec());
        let (result, _) = env.fetch(&server.url(name), MediaKind::Video).await;
        let reason = rejected_reason(result);
        let expected = if name == "plain.mp4" {
            "not a readable"
        } else {
            "truncated"
        };
        assert!(reason.contains(expected), "{name}: {reason}");
    }
    assert_eq!(files_under(&env.clips()), Vec::<PathBuf>::new());
    // The whole clips pass, and a still passes as an image.
    server.add("whole.mp4", f.plain.clone());
    assert!(
        env.fetch(&server.url("whole.mp4"), MediaKind::Video)
            .await
            .0
            .is_ok()
    );
    server.add("still.jpg", f.jpg.clone());
    let still = env
        .fetch(&server.url("still.jpg"), MediaKind::Image)
        .await
        .0
        .unwrap();
    assert_eq!(still.path.extension().unwrap(), "jpg");
    assert_eq!(
        (still.width, still.height, still.duration),
        (320, 240, None)
    );
    // A still is not a video.
    let (result, _) = env
        .fetch(&server.url("still.jpg?as=video"), MediaKind::Video)
        .await;
    assert!(rejected_reason(result).contains("still image"));
}

#[tokio::test]
async fn redirects_to_a_cdn_are_followed() {
    let clip = &fixtures().faststart;
    let origin = FileServer::start().await;
    let cdn = FileServer::start().await;
    let env = Env::new(settings());
    cdn.add("v/a.mp4", clip.clone());
    origin.add("a.mp4", Vec::new());
    origin.fault("a.mp4", Fault::RedirectTo(cdn.url("v/a.mp4")));
    let done = env
        .fetch(&origin.url("a.mp4"), MediaKind::Video)
        .await
        .0
        .unwrap();
    assert_eq!(std::fs::read(&done.path).unwrap(), *clip);
    assert_eq!((origin.requests(), cdn.requests_for("v/a.mp4")), (1, 1));
}

#[tokio::test]
async fn clips_above_the_size_cap_are_rejected() {
    let clip = &fixtures().faststart;
    let server = FileServer::start().await;
    let cap = clip.len() as u64 / 2;
    let env = Env::new(DownloadSettings {
        max_bytes: cap,
        ..settings()
    });
    server.add("a.mp4", clip.clone());
    let (result, _) = env.fetch(&server.url("a.mp4"), MediaKind::Video).await;
    assert!(rejected_reason(result).starts_with("larger than the"));
    // Said by the vendor: rejected without a request.
    let mut big = request(&server.url("b.mp4"), MediaKind::Video);
    big.expected_bytes = Some(cap + 1);
    let result = env.dl.fetch(big, &|_| {}, &CancellationToken::new()).await;
    assert!(rejected_reason(result).contains("cap"));
    assert_eq!(server.requests(), 1);
    // Refused on its Content-Length: no body byte was read.
    assert_eq!(env.dl.network_bytes(), 0);
    assert_eq!(files_under(&env.clips()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn cancelling_mid_transfer_leaves_no_part_file() {
    let server = FileServer::start_with(ServerOptions {
        throttle_bytes_per_sec: Some(200_000),
        ..ServerOptions::default()
    })
    .await;
    let env = Env::new(settings());
    server.add("big.mp4", vec![7u8; 2_000_000]);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let sink = move |u: DownloadUpdate| {
        if u.state == DownloadState::Downloading && u.done_bytes > 0 {
            trigger.cancel();
        }
    };
    let started = Instant::now();
    let result = env
        .dl
        .fetch(
            request(&server.url("big.mp4"), MediaKind::Video),
            &sink,
            &cancel,
        )
        .await;
    assert!(
        matches!(result, Err(DownloadError::Cancelled)),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(env.dl.network_bytes() > 0, "the transfer had started");
    assert_eq!(
        files_under(&env.clips()),
        Vec::<PathBuf>::new(),
        "no *.part left"
    );
}

#[tokio::test]
async fn concurrent_fetches_of_one_url_share_one_transfer() {
    let clip = &fixtures().faststart;
    let server = FileServer::start_with(ServerOptions {
        throttle_bytes_per_sec: Some(400_000),
        ..ServerOptions::default()
    })
    .await;
    let env = Env::new(settings());
    server.add("a.mp4", clip.clone());
    let url = server.url("a.mp4");
    let (a, b) = tokio::join!(
        env.fetch(&url, MediaKind::Video),
        env.fetch(&url, MediaKind::Video)
    );
    let (a, b) = (a.0.unwrap(), b.0.unwrap());
    assert_eq!(a.path, b.path);
    assert_eq!(server.requests_for("a.mp4"), 1);
    assert_eq!(
        a.from_cache as u8 + b.from_cache as u8,
        1,
        "exactly one transferred"
    );
    assert_eq!(a.network_bytes + b.network_bytes, clip.len() as u64);
    assert_eq!(env.dl.network_bytes(), clip.len() as u64);
}

#[tokio::test]
async fn the_per_host_limit_queues_the_second_transfer() {
    let clip = &fixtures().faststart;
    let server = FileServer::start_with(ServerOptions {
        throttle_bytes_per_sec: Some(1_000_000),
        ..ServerOptions::default()
    })
    .await;
    let env = Env::new(DownloadSettings {
        per_host: 1,
        ..settings()
    });
    server.add("a.mp4", clip.clone());
    server.add("b.mp4", clip.clone());
    let (url_a, url_b) = (server.url("a.mp4"), server.url("b.mp4"));
    let (a, b) = tokio::join!(
        env.fetch(&url_a, MediaKind::Video),
        env.fetch(&url_b, MediaKind::Video)
    );
    assert!(a.0.is_ok() && b.0.is_ok());
    let queued = [&a.1, &b.1]
        .iter()
        .filter(|u| states(u).first() == Some(&DownloadState::Queued))
        .count();
    assert_eq!(queued, 1, "one waited for the host's only slot");
}

#[test]
fn an_unusable_clips_folder_is_a_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let result = Downloader::new(file.join("clips"), settings(), None);
    assert!(matches!(result, Err(DownloadError::Storage { .. })));
}
