//! Alternative rounds, end to end against a Pexels-shaped server on 127.0.0.1: the second
//! sentence's own search term ("penguins huddle") finds only office huddles; its best clip
//! scores below `[select] min_relevance`, so the select stage searches other words of the
//! sentence ("frozen ice"), downloads the penguin clip that finds, appends it to
//! `footage.json` and puts it under the sentence, and the log says so. With
//! `alternative_rounds = 0` nothing more is searched and the log says the best available
//! was accepted. Needs the MiniLM model (`./scripts/fetch-models.sh`).

#[path = "support/cli.rs"]
mod cli_support;
#[path = "support/files.rs"]
mod files;
#[path = "support/stock.rs"]
mod stock;

use cli_support::{only_task_dir, reelforge, text};
use reelforge::providers::models::{ModelKind, installed};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use stock::{Catalogue, LANDSCAPE, PEXELS_KEY, StockItem, StockServer, Vendor, video_path};

const SCRIPT: &str = "Fire trucks race through the city with their sirens blaring. \
    Penguins huddle together on the frozen ice.";

/// Between what the office huddles score for the penguin sentence (1.0: the term that found
/// them, "penguins huddle", is part of what they are known by) and what the penguin clip
/// scores (1.36).
const MIN_RELEVANCE: &str = "1.2";

/// Fire trucks for the first sentence's term ("sirens blaring"), office huddles for the
/// second's ("penguins huddle"), and a penguin clip only "ice" (of "frozen ice") finds.
fn start_server(runtime: &tokio::runtime::Runtime) -> StockServer {
    let fixtures = files::Fixtures::make();
    let video = |id, slug: &str, tags: &[&str]| StockItem::video(id, slug, tags, 3, LANDSCAPE);
    let items = vec![
        video(
            5_000_001,
            "red-fire-truck-with-sirens-in-city-traffic",
            &["fire", "sirens"],
        ),
        video(
            5_000_002,
            "fire-engine-sirens-flashing-at-night",
            &["fire", "sirens"],
        ),
        video(
            5_000_003,
            "firefighters-drive-with-sirens-blaring",
            &["fire", "sirens"],
        ),
        video(
            5_000_004,
            "business-team-huddle-around-a-laptop",
            &["office", "huddle"],
        ),
        video(
            5_000_005,
            "office-workers-huddle-over-spreadsheets",
            &["office", "huddle"],
        ),
        video(
            5_000_006,
            "emperor-penguin-colony-huddling-on-frozen-ice",
            &["penguin", "ice"],
        ),
    ];
    let catalogue = Catalogue {
        items: items.clone(),
        ..Catalogue::sample()
    };
    let server = runtime.block_on(StockServer::start(catalogue));
    for item in &items {
        for size in &item.sizes {
            server.serve_file(&video_path(item.id, *size), fixtures.plain.clone());
        }
    }
    server
}

/// `reelforge make` up to the select stage, one search term per sentence, semantic mode.
fn make(data: &Path, server: &StockServer, rounds: &str) -> Output {
    let models = installed(ModelKind::MiniLm).unwrap_or_else(|why| panic!("{why}"));
    let models = models.parent().expect("the models folder").to_path_buf();
    let script = data.join("script.txt");
    std::fs::write(&script, SCRIPT).unwrap();
    reelforge(data)
        .args([
            "make",
            "Fire and ice",
            "--aspect",
            "16:9",
            "--stop-at",
            "select",
        ])
        .arg("--script")
        .arg(&script)
        .env("REELFORGE_MODELS_DIR", models)
        .env("PEXELS_API_KEY", PEXELS_KEY)
        .env("REELFORGE_FOOTAGE_PEXELS_BASE_URL", server.base_url())
        .env("REELFORGE_FOOTAGE_SOURCES", "pexels")
        .env("REELFORGE_TERMS_PER_SENTENCE", "1")
        .env("REELFORGE_VIDEO_CONCAT_MODE", "semantic")
        .env("REELFORGE_SUBTITLES_ENABLED", "false")
        .env("REELFORGE_SELECT_MIN_RELEVANCE", MIN_RELEVANCE)
        .env("REELFORGE_SELECT_ALTERNATIVE_ROUNDS", rounds)
        .output()
        .unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The queries the server was asked, in order.
fn queries(server: &StockServer) -> Vec<String> {
    let seen = server.requests_to(Vendor::Pexels);
    seen.iter()
        .filter_map(|s| s.params.get("query").cloned())
        .collect()
}

/// The descriptions shown during `sentence` (0-based), in order.
fn shown(timeline: &Value, sentence: u64) -> Vec<String> {
    let segments = timeline["segments"].as_array().unwrap();
    segments
        .iter()
        .filter(|s| s["sentence"].as_u64() == Some(sentence))
        .map(|s| s["description"].as_str().unwrap().to_string())
        .collect()
}

/// One task's run against its own server: what it said, its folder, the queries asked.
struct Run {
    log: String,
    task: PathBuf,
    asked: Vec<String>,
    /// Holds the task folder until the test is done with it.
    _data: tempfile::TempDir,
}

fn run(rounds: &str) -> Run {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = start_server(&runtime);
    let data = tempfile::tempdir().unwrap();
    let output = make(data.path(), &server, rounds);
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    Run {
        log,
        task: only_task_dir(data.path()),
        asked: queries(&server),
        _data: data,
    }
}

#[test]
fn a_poorly_fitting_sentence_gets_a_clip_found_with_other_words() {
    let Run {
        log,
        task,
        asked,
        _data,
    } = run("1");
    let terms = json(&task.join("terms.json"));
    assert_eq!(terms["terms"][1][0], "penguins huddle", "{terms}");

    // The sentence's own term first, then the alternative one, which found the penguins.
    assert!(asked.contains(&"penguins huddle".to_string()), "{asked:?}");
    assert!(asked.contains(&"frozen ice".to_string()), "{asked:?}");
    let line = log
        .lines()
        .find(|l| l.contains("sentence 2 best clip scored"))
        .unwrap_or_else(|| panic!("no round line: {log}"));
    assert!(
        line.contains(&format!("< {MIN_RELEVANCE}0: searched \"frozen ice"))
            && line.contains("(round 1/1), 1 new clip, best now"),
        "{line}"
    );
    assert!(!log.contains("sentence 1 best clip"), "{log}");

    // The new clip is in footage.json (with its credit) and on the timeline under sentence 2.
    let footage = json(&task.join("footage.json"));
    let clips = footage["clips"].as_array().unwrap();
    let penguin = clips
        .iter()
        .find(|c| c["description"].as_str().unwrap().contains("penguin"))
        .unwrap_or_else(|| panic!("no penguin clip: {footage}"));
    assert_eq!(penguin["sentence"], 1);
    assert_eq!(penguin["search_term"], "frozen ice");
    let credits = std::fs::read_to_string(task.join("credits.txt")).unwrap();
    assert!(credits.contains("emperor-penguin-colony"), "{credits}");
    let timeline = json(&task.join("timeline.json"));
    let second = shown(&timeline, 1);
    assert!(second[0].contains("penguin"), "{second:?}");
    assert!(shown(&timeline, 0).iter().all(|d| d.contains("fire")));
}

#[test]
fn with_no_rounds_nothing_more_is_searched_and_the_best_available_is_accepted() {
    let Run {
        log,
        task,
        asked,
        _data,
    } = run("0");
    assert!(!asked.contains(&"frozen ice".to_string()), "{asked:?}");
    assert!(
        log.contains("sentence 2 best clip scores")
            && log.contains("[select] alternative_rounds = 0")
            && log.contains("accepting the best available"),
        "{log}"
    );
    let footage = json(&task.join("footage.json"));
    assert!(!footage.to_string().contains("penguin-colony"), "{footage}");
    let timeline = json(&task.join("timeline.json"));
    assert!(
        shown(&timeline, 1).iter().all(|d| d.contains("huddle")),
        "{timeline}"
    );
}
