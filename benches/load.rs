//! Makespan of twelve tasks run concurrently vs one after another in the same process,
//! against the load test's servers on 127.0.0.1 (latency like real vendors', occasional 429 /
//! 500): what overlapping tasks buys on this machine, and where each stage's time goes.
//! Each round has its own data folder, so neither rides on the other's cache.
//!
//! Run `cargo bench --bench load` (release). `LOAD_TASKS=N` runs fewer tasks. Without
//! `--bench` (as `cargo test --all-targets` runs it) two tasks per round check it works.

#[path = "../tests/support/files.rs"]
mod files;
#[path = "../tests/support/load.rs"]
mod load;
#[path = "../tests/support/stock.rs"]
mod stock;

use reelforge::pipeline::EventKind;
use reelforge::procstat::peak_rss_bytes;
use reelforge::report::stats::{Summary, summarize};
use reelforge::store::Store;
use std::time::Duration;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let tasks: usize = std::env::var("LOAD_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full { load::TASKS } else { 2 })
        .clamp(1, load::TASKS);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    println!(
        "{tasks} tasks, {} cores, faults: {:?}",
        reelforge::procstat::available_cores(),
        load::Faults::realistic()
    );
    let concurrent = round(&runtime, tasks, true);
    let sequential = round(&runtime, tasks, false);
    let ratio = concurrent.0.as_secs_f64() / sequential.0.as_secs_f64();
    println!();
    println!(
        "makespan concurrent   {:>7.1} s",
        concurrent.0.as_secs_f64()
    );
    println!(
        "makespan one by one   {:>7.1} s",
        sequential.0.as_secs_f64()
    );
    println!("ratio                 {ratio:>7.2}   (target ≤ 0.7)");
    println!(
        "peak RSS              {:>7.0} MiB",
        peak_rss_bytes() as f64 / 1048576.0
    );
    println!();
    println!(
        "{:<10} {:>14} {:>14} {:>14} {:>14}",
        "stage", "median conc.", "p90 conc.", "median seq.", "p90 seq."
    );
    for (c, s) in concurrent.1.stages.iter().zip(&sequential.1.stages) {
        println!(
            "{:<10} {:>11} ms {:>11} ms {:>11} ms {:>11} ms",
            c.stage.name(),
            c.wall_ms.median,
            c.wall_ms.p90,
            s.wall_ms.median,
            s.wall_ms.p90
        );
    }
    if ratio > 0.7 {
        println!("the ratio misses its target on this machine");
    }
}

/// One round in a fresh data folder with fresh servers: makespan and the stage figures.
fn round(runtime: &tokio::runtime::Runtime, tasks: usize, concurrent: bool) -> (Duration, Summary) {
    let servers = runtime.block_on(load::start_servers(load::Faults::realistic()));
    let data = tempfile::tempdir().expect("temp dir");
    let store = Store::open(data.path()).expect("store");
    let pipeline = runtime
        .block_on(async { load::start_pipeline(load::config(&servers, data.path()), &store) });
    let specs = (0..tasks).map(load::spec).collect();
    let (outcomes, makespan) = runtime.block_on(load::run(
        &pipeline,
        specs,
        concurrent,
        Duration::from_secs(1800),
    ));
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|o| !matches!(o.last, EventKind::TaskDone { .. }))
        .collect();
    assert!(failed.is_empty(), "tasks failed: {failed:?}");
    let mode = if concurrent {
        "concurrent"
    } else {
        "one by one"
    };
    println!("{mode}: {tasks} tasks in {:.1} s", makespan.as_secs_f64());
    let timings = store.timings.all().expect("timings");
    (makespan, summarize(&timings))
}
