//! `reelforge make` with stock footage, end to end against a Pexels-shaped server on
//! 127.0.0.1 (reached through `[footage.pexels] base_url`): the key comes from
//! `PEXELS_API_KEY`, clips are downloaded once and shared, search results are cached, and
//! with no key the generated source is used with the reason said.

#[path = "support/cli.rs"]
mod cli_support;
#[path = "support/files.rs"]
mod files;
#[path = "support/stock.rs"]
mod stock;
#[path = "support/stock_cdn.rs"]
mod stock_cdn;

use cli_support::{ffprobe, only_task_dir, reelforge, text};
use std::path::Path;
use std::process::{Command, Output};
use stock::{Catalogue, LANDSCAPE, PEXELS_KEY, StockItem, StockServer, Vendor, video_path};

/// Two sentences, so the stage wants 2 × 3 candidates.
fn write_forest_script(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("forest.txt");
    std::fs::write(
        &path,
        "Old forests hold more carbon than young ones. Rivers carry their leaves to the sea.",
    )
    .unwrap();
    path
}

/// Six landscape clips whose every rendition is a real 3 s MP4 served by the server itself.
fn start_stock_server(runtime: &tokio::runtime::Runtime) -> StockServer {
    let fixtures = files::Fixtures::make();
    let catalogue = Catalogue {
        items: (0..6)
            .map(|i| {
                let slug = format!("forest-clip-number-{i}");
                StockItem::video(3_000_000 + i, &slug, &["forest", "trees"], 3, LANDSCAPE)
            })
            .collect(),
        match_any_term: true,
        ..Catalogue::sample()
    };
    let items = catalogue.items.clone();
    let server = runtime.block_on(StockServer::start(catalogue));
    for item in &items {
        for size in &item.sizes {
            server.serve_file(&video_path(item.id, *size), fixtures.plain.clone());
        }
    }
    server
}

/// `reelforge make "Old forests"` at 16:9 on the forest script, footage from `sources` with
/// Pexels answering at `pexels_url`; `extra` arguments go before `--script`.
fn forest(data: &Path, sources: &str, pexels_url: &str, extra: &[&str]) -> Command {
    let mut cmd = reelforge(data);
    cmd.args(["make", "Old forests", "--aspect", "16:9"])
        .args(extra)
        .arg("--script")
        .arg(write_forest_script(data))
        .env("REELFORGE_FOOTAGE_PEXELS_BASE_URL", pexels_url)
        .env("REELFORGE_FOOTAGE_SOURCES", sources);
    cmd
}

fn make_with_pexels(data: &Path, base_url: &str, key: Option<&str>) -> Output {
    let out = data.join("forest.mp4");
    let out = out.to_str().unwrap();
    let mut cmd = forest(data, "pexels,generated", base_url, &["--out", out]);
    if let Some(key) = key {
        cmd.env("PEXELS_API_KEY", key);
    }
    cmd.output().unwrap()
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn pexels_key_from_the_environment_downloads_once_and_credits_the_authors() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = start_stock_server(&runtime);
    let tmp = tempfile::tempdir().unwrap();
    let output = make_with_pexels(tmp.path(), &server.base_url(), Some(PEXELS_KEY));
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(!log.contains(PEXELS_KEY), "the key leaked: {log}");
    assert!(!log.contains("generated backgrounds"), "{log}");

    let task = only_task_dir(tmp.path());
    let footage: serde_json::Value =
        serde_json::from_slice(&std::fs::read(task.join("footage.json")).unwrap()).unwrap();
    let clips = footage["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 6, "3 candidates for each of 2 sentences");
    for clip in clips {
        assert_eq!(clip["provider"], "pexels");
        assert!(
            clip["attribution"]["page_url"]
                .as_str()
                .unwrap()
                .contains("forest-clip")
        );
    }
    let sentences: Vec<u64> = clips
        .iter()
        .map(|c| c["sentence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sentences.iter().filter(|&&s| s == 0).count(),
        3,
        "{sentences:?}"
    );
    let credits = std::fs::read_to_string(task.join("credits.txt")).unwrap();
    assert!(credits.contains("Coverr-Free-Footage") && credits.contains("pexels.com/license"));

    // Every search carried the key; every stored clip is a validated file, none half-written.
    let searches = server.requests_to(Vendor::Pexels);
    assert!(!searches.is_empty());
    assert!(
        searches
            .iter()
            .all(|s| s.authorization.as_deref() == Some(PEXELS_KEY))
    );
    assert!(
        searches
            .iter()
            .all(|s| s.params.get("orientation").map(String::as_str) == Some("landscape"))
    );
    let mut stored = Vec::new();
    files_under(&tmp.path().join("clips"), &mut stored);
    assert_eq!(stored.len(), 6, "{stored:?}");
    assert!(
        stored.iter().all(|p| p.extension().unwrap() == "mp4"),
        "{stored:?}"
    );
    let probe = ffprobe(&tmp.path().join("forest.mp4"));
    assert_eq!((probe.width, probe.height), (1920, 1080));

    // The same video again: search results from the cache, clips from clips/, 0 bytes.
    let before = server.requests().len();
    let again = make_with_pexels(tmp.path(), &server.base_url(), Some(PEXELS_KEY));
    let log = text(&again);
    assert!(again.status.success(), "{log}");
    assert_eq!(
        server.requests().len(),
        before,
        "nothing asked of the server: {log}"
    );
    assert!(log.contains("cache hit (search)"), "{log}");
    assert!(log.contains("cache hit (clips)"), "{log}");
    assert!(log.contains(", 0 MB at"), "no bytes downloaded: {log}");
    assert!(log.contains("6 already downloaded"), "{log}");
}

#[test]
fn pixabay_fills_in_when_pexels_has_no_key() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = start_stock_server(&runtime);
    let tmp = tempfile::tempdir().unwrap();
    let sources = "pexels,pixabay,generated";
    let output = forest(
        tmp.path(),
        sources,
        &server.base_url(),
        &["--stop-at", "footage"],
    )
    .env("REELFORGE_FOOTAGE_PIXABAY_BASE_URL", server.pixabay_base())
    .env("PIXABAY_API_KEY", stock::PIXABAY_KEY)
    .output()
    .unwrap();
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(!log.contains(stock::PIXABAY_KEY), "the key leaked: {log}");
    assert!(server.requests_to(Vendor::Pexels).is_empty());
    let searches = server.requests_to(Vendor::Pixabay);
    assert!(
        searches
            .iter()
            .all(|s| s.params.get("key").map(String::as_str) == Some(stock::PIXABAY_KEY))
    );
    let footage = std::fs::read_to_string(only_task_dir(tmp.path()).join("footage.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&footage).unwrap();
    let clips = doc["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 6, "{footage}");
    assert!(
        clips.iter().all(|c| c["provider"] == "pixabay"),
        "{footage}"
    );
}

#[test]
fn without_a_key_or_a_library_the_generated_source_is_used_and_the_log_says_why() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = start_stock_server(&runtime);
    let tmp = tempfile::tempdir().unwrap();
    let output = make_with_pexels(tmp.path(), &server.base_url(), None);
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("pexels has no API key (set PEXELS_API_KEY")
            && log.contains("using generated backgrounds"),
        "{log}"
    );
    assert!(server.requests().is_empty(), "no search without a key");
    let footage = std::fs::read_to_string(only_task_dir(tmp.path()).join("footage.json")).unwrap();
    assert!(footage.contains("\"generated\""), "{footage}");
}

#[test]
fn rate_limits_server_errors_and_bad_files_are_retried_or_replaced() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, cdn, names, clip_bytes) =
        stock_cdn::start_vendor_and_cdn(&runtime, files::ServerOptions::default());
    server.push_fault(Vendor::Pexels, stock::Fault::RateLimited(Some("1".into())));
    server.push_fault(Vendor::Pexels, stock::Fault::ServerError);
    // The 1920x1080 rendition is the one chosen for a 16:9 frame.
    let chosen: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with("1920x1080.mp4"))
        .collect();
    cdn.fault(chosen[0], files::Fault::Html);
    cdn.fault(chosen[1], files::Fault::CutAfter(20_000));
    let tmp = tempfile::tempdir().unwrap();
    let output = make_with_pexels(tmp.path(), &server.base_url(), Some(PEXELS_KEY));
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("rate limited (HTTP 429)") && log.contains("retrying in"),
        "{log}"
    );
    assert!(log.contains("server error (HTTP 500)"), "{log}");
    assert!(log.contains("rejected: an HTML page"), "{log}");
    assert!(
        cdn.range_requests() >= 1,
        "the cut clip was resumed with Range"
    );

    let task = only_task_dir(tmp.path());
    let footage: serde_json::Value =
        serde_json::from_slice(&std::fs::read(task.join("footage.json")).unwrap()).unwrap();
    let clips = footage["clips"].as_array().unwrap();
    assert_eq!(
        clips.len(),
        6,
        "the rejected clip was replaced by another candidate"
    );
    let html_id = chosen[0].split('/').nth(1).unwrap();
    assert!(
        clips.iter().all(|c| !c["attribution"]["page_url"]
            .as_str()
            .unwrap()
            .contains(html_id)),
        "the HTML page never became a clip: {footage}"
    );
    let mut stored = Vec::new();
    files_under(&tmp.path().join("clips"), &mut stored);
    assert_eq!(stored.len(), 6, "{stored:?}");
    for path in &stored {
        assert!(
            std::fs::read(path).unwrap() == clip_bytes,
            "{path:?} is not the served clip"
        );
    }
}

#[test]
fn ctrl_c_during_downloads_leaves_no_part_files_and_the_task_resumes() {
    use std::io::{BufRead, BufReader};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Slow enough that the downloads are still running when the signal lands even if this
    // test reads the child's events seconds late (a loaded machine: CI ran it at 40 KB/s
    // and the task had finished by the time the stale "downloading" line was read).
    let slow = files::ServerOptions {
        throttle_bytes_per_sec: Some(10_000),
        ..files::ServerOptions::default()
    };
    let (server, cdn, names, _) = stock_cdn::start_vendor_and_cdn(&runtime, slow);
    // And every clip's first transfer stalls after 30 KB for a minute (the stall timeout
    // below): the task cannot finish before the signal however late this test reads the
    // child's events (a full CI run had it finish first even at 10 KB/s).
    for name in &names {
        cdn.fault(name, files::Fault::StallAfter(30_000));
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = forest(
        tmp.path(),
        "pexels,generated",
        &server.base_url(),
        &["--json"],
    );
    cmd.env("PEXELS_API_KEY", PEXELS_KEY)
        .env("REELFORGE_NET_STALL_TIMEOUT_SECS", "60")
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut task = String::new();
    for line in lines.by_ref() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        task = event["task"].as_str().unwrap().to_string();
        if event["event"] == "download"
            && event["state"] == "downloading"
            && event["done_bytes"].as_u64() > Some(0)
        {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let mut everything = Vec::new();
    files_under(tmp.path(), &mut everything);
    let parts: Vec<_> = everything
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(parts.is_empty(), "{parts:?}");

    let resumed = reelforge(tmp.path())
        .args(["tasks", "resume", &task])
        .env("REELFORGE_FOOTAGE_PEXELS_BASE_URL", server.base_url())
        .env("REELFORGE_FOOTAGE_SOURCES", "pexels,generated")
        .env("PEXELS_API_KEY", PEXELS_KEY)
        // Clips never asked for before the signal still stall once: drop them fast.
        .env("REELFORGE_NET_STALL_TIMEOUT_SECS", "2")
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(only_task_dir(tmp.path()).join("final.mp4").exists());
}

#[test]
fn every_request_goes_through_the_configured_proxy() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fixtures = files::Fixtures::make();
    // Hosts that do not resolve: only a proxy can reach them. The stock server plays the
    // proxy (it answers absolute-form requests by path) and serves the clips as well.
    let items: Vec<StockItem> = (0..6)
        .map(|i| StockItem::video(5_000_000 + i, "misty-forest", &["forest"], 3, LANDSCAPE))
        .collect();
    let catalogue = Catalogue {
        items: items.clone(),
        match_any_term: true,
        files_base: "http://cdn.reelforge-test.invalid/files".into(),
        ..Catalogue::sample()
    };
    let server = runtime.block_on(StockServer::start(catalogue));
    for item in &items {
        for size in &item.sizes {
            server.serve_file(&video_path(item.id, *size), fixtures.plain.clone());
        }
    }
    let proxy = server.base_url();
    let make = |data: &Path, proxy: Option<&str>| {
        let unresolvable = "http://api.reelforge-test.invalid";
        let mut cmd = forest(data, "pexels", unresolvable, &["--stop-at", "footage"]);
        cmd.env("REELFORGE_NET_MAX_ATTEMPTS", "2")
            .env("PEXELS_API_KEY", PEXELS_KEY);
        if let Some(proxy) = proxy {
            cmd.env("REELFORGE_NET_PROXY", proxy);
        }
        cmd.output().unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    let output = make(tmp.path(), None);
    let log = text(&output);
    assert!(
        !output.status.success(),
        "without the proxy the hosts are unreachable: {log}"
    );
    assert!(
        log.contains("FAILED") && log.contains("cannot reach") && log.contains("[net] proxy"),
        "the failure names the vendor and points at the proxy setting: {log}"
    );
    let retries = log.matches("retrying in").count();
    assert!(
        retries <= 2,
        "an unreachable vendor is given up once, not per term: {log}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let output = make(tmp.path(), Some(&proxy));
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(!log.contains(&proxy), "the proxy URL is not logged: {log}");
    assert!(!server.requests_to(Vendor::Pexels).is_empty());
    let mut stored = Vec::new();
    files_under(&tmp.path().join("clips"), &mut stored);
    assert_eq!(stored.len(), 6, "{stored:?}");
}
