//! `reelforge report` end to end: a data folder whose timing history holds three tasks with
//! known stage intervals, CPU time and cache use; the JSON figures must equal the values
//! worked out by hand below, the text report must count the tasks `--last` asks for, and the
//! SVG chart must be well-formed with one bar per recorded stage run.

use reelforge::pipeline::Stage;
use reelforge::store::{CacheUse, StageTiming, Store};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[path = "support/cli.rs"]
mod cli_support;
use cli_support::{reelforge, text};

const BASE: u64 = 1_700_000_000_000;

/// Per task, each stage's (start, end) in tenths of a second from the task's start, in
/// the order script, terms, voice, subtitles, footage, select, render. Hand-worked
/// critical paths:
/// t1: script 1 + voice 4 + subtitles 0.5 + select 0.5 + render 3 = 9 s (bottleneck voice);
/// t2: script 2 + terms 1 + footage 8 + select 1 + render 4 = 16 s (bottleneck footage);
/// t3: script 1.5 + terms 0.8 + footage 6 + select 0.7 + render 5 = 14 s (footage).
// One line a task reads as a table; rustfmt would put each pair on a line of its own.
#[rustfmt::skip]
const PLANS: [[(u64, u64); 7]; 3] = [
    [(0, 10), (10, 15), (10, 50), (50, 55), (15, 35), (55, 60), (60, 90)],
    [(0, 20), (20, 30), (20, 50), (50, 60), (30, 110), (110, 120), (120, 160)],
    [(0, 15), (15, 23), (15, 65), (65, 72), (23, 83), (83, 90), (90, 140)],
];

/// Cache use: llm 2 hits / 1 miss (3.3 s saved), search 2 / 2 (0.4 s), clips 5 / 0 (9 s).
fn cache_of(task: usize, stage: Stage) -> Vec<(&'static str, u32, u32, u64)> {
    match (task, stage) {
        (1, Stage::Script) => vec![("llm", 0, 1, 0)],
        (2, Stage::Script) => vec![("llm", 1, 0, 1_800)],
        (3, Stage::Script) => vec![("llm", 1, 0, 1_500)],
        (2, Stage::Footage) => vec![("search", 2, 2, 400)],
        (3, Stage::Footage) => vec![("clips", 5, 0, 9_000)],
        _ => Vec::new(),
    }
}

fn fill_history(data: &Path) {
    let store = Store::open(data).expect("store opens");
    for (task, plan) in (1..).zip(PLANS) {
        let start = BASE + task as u64 * 100_000;
        for (stage, (from, to)) in Stage::ALL.into_iter().zip(plan) {
            let (from, to) = (from * 100, to * 100);
            let cache: BTreeMap<String, CacheUse> = cache_of(task, stage)
                .into_iter()
                .map(|(kind, hits, misses, saved_ms)| {
                    let used = CacheUse {
                        hits,
                        misses,
                        saved_ms,
                    };
                    (kind.to_string(), used)
                })
                .collect();
            let timing = StageTiming {
                task: format!("t{task}"),
                stage,
                started_ms: start + from,
                finished_ms: start + to,
                wall_ms: to - from,
                cpu_ms: (to - from) / 2,
                bytes: (to - from) * 10,
                cache,
                peak_rss_bytes: 100_000_000 + task as u64,
                attempts: 1,
                batch: None,
            };
            store.timings.record(&timing).expect("recorded");
        }
    }
    // sled locks the folder: the store must be closed before the binary opens it.
    drop(store);
}

fn bars(svg: &Path) -> usize {
    let body = std::fs::read_to_string(svg).expect("the chart was written");
    let doc = roxmltree::Document::parse(&body).expect("the chart is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("bar"))
        .count()
}

fn stage<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn close(value: &Value, expected: f64) {
    let got = value.as_f64().expect("a number");
    assert!((got - expected).abs() < 1e-9, "{got} != {expected}");
}

#[test]
fn json_figures_match_the_hand_computed_ones() {
    let dir = tempfile::tempdir().unwrap();
    fill_history(dir.path());
    let out = reelforge(dir.path())
        .args(["report", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["tasks"], 3);
    assert_eq!(report["records"], 21);
    assert_eq!(report["last"], 20);

    // Three runs per stage: the median is the middle one, p90 (rank ⌈2.7⌉ = 3) the largest.
    let footage = stage(&report, "footage");
    assert_eq!(footage["runs"], 3);
    assert_eq!(footage["wall_ms"]["median"], 6_000);
    assert_eq!(footage["wall_ms"]["p90"], 8_000);
    assert_eq!(footage["cpu_ms"]["median"], 3_000);
    assert_eq!(footage["bytes_median"], 60_000);
    assert_eq!(stage(&report, "script")["wall_ms"]["median"], 1_500);
    assert_eq!(stage(&report, "script")["wall_ms"]["p90"], 2_000);
    assert_eq!(stage(&report, "render")["wall_ms"]["median"], 4_000);
    assert_eq!(stage(&report, "voice")["peak_rss_median"], 100_000_002);

    // Critical paths: 9 + 16 + 14 = 39 s; footage 8 + 6, render 3 + 4 + 5, voice 4 (t1 only).
    assert_eq!(report["critical_path_ms"], 39_000);
    close(&footage["critical_share"], 14.0 / 39.0);
    close(&stage(&report, "render")["critical_share"], 12.0 / 39.0);
    close(&stage(&report, "voice")["critical_share"], 4.0 / 39.0);
    close(&stage(&report, "terms")["critical_share"], 1.8 / 39.0);
    assert_eq!(report["bottleneck"]["stage"], "footage");
    assert_eq!(report["bottleneck"]["tasks"], 2);

    let cache: BTreeMap<String, &Value> = report["cache"]
        .as_array()
        .expect("cache")
        .iter()
        .map(|c| (c["kind"].as_str().expect("kind").to_string(), c))
        .collect();
    close(&cache["llm"]["hit_rate"], 2.0 / 3.0);
    assert_eq!(cache["llm"]["saved_ms"], 3_300);
    close(&cache["search"]["hit_rate"], 0.5);
    close(&cache["clips"]["hit_rate"], 1.0);
    assert_eq!(report["saved_ms"], 12_700);

    let chart = dir.path().join("report.svg");
    assert_eq!(report["chart"], chart.to_str().expect("utf-8 path"));
    assert_eq!(bars(&chart), 21);
}

#[test]
fn text_report_counts_the_last_tasks_and_charts_them() {
    let dir = tempfile::tempdir().unwrap();
    fill_history(dir.path());
    let chart = dir.path().join("charts/two.svg");
    let out = reelforge(dir.path())
        .args(["report", "--last", "2", "--chart"])
        .arg(&chart)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("2 tasks, 14 stage runs"), "{said}");
    assert!(said.contains("footage"), "{said}");
    assert!(said.contains(&chart.display().to_string()), "{said}");
    assert_eq!(bars(&chart), 14);
    assert!(!dir.path().join("report.svg").exists());
}

#[test]
fn an_empty_history_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = reelforge(dir.path()).arg("report").output().unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("No timing history yet"), "{said}");
    assert!(said.contains("reelforge make"), "{said}");
    assert!(!dir.path().join("report.svg").exists());
}

#[test]
fn last_zero_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = reelforge(dir.path())
        .args(["report", "--last", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--last"), "{}", text(&out));
}
