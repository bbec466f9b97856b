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

use cli_support::{ffprobe, only_task_dir, reelforge, text};
use std::path::Path;
use std::process::Output;
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

fn make_with_pexels(data: &Path, base_url: &str, key: Option<&str>) -> Output {
    let mut cmd = reelforge(data);
    cmd.args(["make", "Old forests", "--aspect", "16:9", "--script"])
        .arg(write_forest_script(data))
        .arg("--out")
        .arg(data.join("forest.mp4"))
        .env("REELFORGE_FOOTAGE_PEXELS_BASE_URL", base_url)
        .env("REELFORGE_FOOTAGE_SOURCES", "pexels,generated");
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
    assert!(log.contains("0.0 MB"), "no bytes downloaded: {log}");
    assert!(log.contains("6 already downloaded"), "{log}");
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
