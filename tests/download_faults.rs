//! The shared downloader against a real HTTP server on 127.0.0.1 and real ffmpeg, when the
//! transfer goes wrong: rate limits, server errors, cut connections and crashed part files
//! (resumed by Range), stalls, redirects and cancellation.

#[path = "support/download_env.rs"]
mod download_env;
#[path = "support/files.rs"]
mod files;

use reelforge::fsutil::part_path;
use reelforge::providers::download::{
    DownloadError, DownloadSettings, DownloadState, DownloadUpdate,
};
use reelforge::providers::footage::MediaKind;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use download_env::{
    Env, details, files_under, fixtures, rejected_reason, request, settings, states,
};
use files::{Fault, FileServer, ServerOptions};

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
