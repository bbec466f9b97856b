//! The shared downloader against a real HTTP server on 127.0.0.1 and real ffmpeg: plain
//! downloads and caching, validation rejections (HTML pages, truncated files, the size cap),
//! the pool's limits and shared transfers. Faults in transit are in `download_faults.rs`.

#[path = "support/download_env.rs"]
mod download_env;
#[path = "support/files.rs"]
mod files;

use download_env::{
    Env, details, files_under, fixtures, rejected_reason, request, settings, states,
};
use files::{Fault, FileServer, ServerOptions};
use reelforge::providers::download::{
    DownloadError, DownloadSettings, DownloadState, DownloadUpdate, Downloader,
};
use reelforge::providers::footage::MediaKind;
use reelforge::store::CacheKey;
use std::path::PathBuf;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

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
