//! Downloader throughput: 24 clips of 8 MB from a local server that adds 100 ms to every
//! request and caps each connection at 4 MB/s (a distant CDN), fetched through the real
//! downloader at concurrency 1 and 8. Prints the speed-up (target ≥ 5×), the share of the
//! server's allowed aggregate bandwidth reached at concurrency 8 (target ≥ 80 %), and checks
//! that a second identical run downloads nothing.
//!
//! Run with `cargo bench --bench downloader`. Without `--bench` (as `cargo test --all-targets`
//! runs it) it moves 4 clips of 256 KB, enough to check the properties quickly.
//! MB here are 2^20 bytes.

#[path = "../tests/support/files.rs"]
mod files;

use files::{FileServer, ServerOptions};
use futures_util::future::join_all;
use reelforge::providers::download::{DownloadRequest, DownloadSettings, Downloaded, Downloader};
use reelforge::providers::footage::MediaKind;
use reelforge::store::Store;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const MB: f64 = 1024.0 * 1024.0;
/// Per-connection cap of the simulated CDN.
const CONNECTION_RATE: u64 = 4 * 1024 * 1024;
const LATENCY: Duration = Duration::from_millis(100);

struct Run {
    secs: f64,
    network_bytes: u64,
    results: Vec<Downloaded>,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (clips, clip_bytes) = if full {
        (24, 8 * 1024 * 1024)
    } else {
        (4, 256 * 1024)
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async move {
        let server = FileServer::start_with(ServerOptions {
            throttle_bytes_per_sec: Some(CONNECTION_RATE),
            latency: LATENCY,
        })
        .await;
        let sources: Vec<Vec<u8>> = (0..clips)
            .map(|_| std::iter::repeat_with(|| fastrand::u8(..)).take(clip_bytes).collect())
            .collect();
        let urls: Vec<String> = (0..clips)
            .map(|i| {
                let name = format!("clip-{i}.mp4");
                server.add(&name, sources[i].clone());
                server.url(&name)
            })
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("data")).expect("store");

        let serial_dl = downloader(&dir.path().join("clips-1"), 1, &store);
        let serial = run(&serial_dl, &urls).await;
        check_identical(&serial, &sources);
        let parallel_dl = downloader(&dir.path().join("clips-8"), 8, &store);
        let parallel = run(&parallel_dl, &urls).await;
        check_identical(&parallel, &sources);
        let again = run(&parallel_dl, &urls).await;
        assert_eq!(again.network_bytes, 0, "a second run must download nothing");
        assert!(again.results.iter().all(|d| d.from_cache && d.network_bytes == 0));

        let total_mb = (clips * clip_bytes) as f64 / MB;
        println!(
            "downloader: {clips} clips × {:.2} MB, server +{} ms per request, {:.0} MB/s per connection",
            clip_bytes as f64 / MB,
            LATENCY.as_millis(),
            CONNECTION_RATE as f64 / MB
        );
        println!("  {:<22}{:>8}{:>10}{:>10}{:>10}", "", "clips", "MB", "seconds", "MB/s");
        for (name, r) in [("concurrency 1", &serial), ("concurrency 8", &parallel)] {
            println!(
                "  {name:<22}{clips:>8}{total_mb:>10.1}{:>10.2}{:>10.2}",
                r.secs,
                total_mb / r.secs
            );
        }
        let speedup = serial.secs / parallel.secs;
        let allowed = 8.0 * CONNECTION_RATE as f64 / MB;
        let share = total_mb / parallel.secs / allowed * 100.0;
        println!("  speed-up 8 vs 1       {speedup:>9.2}×   (target ≥ 5×)");
        println!(
            "  bandwidth share at 8  {share:>9.1} %  of {allowed:.0} MB/s allowed (target ≥ 80 %)"
        );
        println!(
            "  second run at 8       {:>9} bytes downloaded in {:.3} s (must be 0)",
            again.network_bytes, again.secs
        );
        if !full {
            println!("  (test mode: tiny clips; run `cargo bench --bench downloader` for figures)");
        }
    });
}

fn downloader(clips_dir: &Path, concurrency: usize, store: &Store) -> Downloader {
    let settings = DownloadSettings {
        max_downloads: concurrency,
        per_host: concurrency,
        // Random bytes are not media: this measures the transfer alone.
        validate_media: false,
        ..DownloadSettings::default()
    };
    Downloader::new(clips_dir.to_path_buf(), settings, Some(store.cache.clone()))
        .expect("downloader")
}

/// Fetches every URL at once; the downloader's pool decides how many run together.
async fn run(dl: &Downloader, urls: &[String]) -> Run {
    let before = dl.network_bytes();
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let fetches = urls.iter().enumerate().map(|(i, url)| {
        let request = DownloadRequest {
            url: url.clone(),
            label: format!("clip {i}"),
            source: "bench".into(),
            kind: MediaKind::Video,
            expected_bytes: None,
        };
        dl.fetch(request, &|_| {}, &cancel)
    });
    let results: Vec<Downloaded> = join_all(fetches)
        .await
        .into_iter()
        .map(|r| r.expect("download"))
        .collect();
    Run {
        secs: started.elapsed().as_secs_f64(),
        network_bytes: dl.network_bytes() - before,
        results,
    }
}

fn check_identical(run: &Run, sources: &[Vec<u8>]) {
    let expected: u64 = sources.iter().map(|s| s.len() as u64).sum();
    assert_eq!(
        run.network_bytes, expected,
        "each byte fetched exactly once"
    );
    for (done, source) in run.results.iter().zip(sources) {
        let stored = std::fs::read(&done.path).expect("stored clip");
        assert!(
            stored == *source,
            "{} differs from its source",
            done.path.display()
        );
    }
}
