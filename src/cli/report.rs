//! `reelforge report`: the timing history as per-stage figures, cache hit rates and an SVG
//! chart. The figures come from `crate::report`; this file only picks the records, prints
//! them (tables, or one JSON document) and says where the chart went.

use super::{Cli, ReportArgs, session};
use crate::report::{self, Summary};
use crate::tui::view::text::duration;
use anyhow::bail;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// The `--json` document: the figures plus what the command did with them.
#[derive(Serialize)]
struct JsonReport<'a> {
    last: usize,
    /// Where the chart was written; null when there was nothing to draw.
    chart: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(flatten)]
    summary: &'a Summary,
}

pub fn run(cli: &Cli, args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.last == 0 {
        bail!(
            "--last 0 leaves nothing to report: --last counts the recent tasks to include, give 1 or more"
        );
    }
    let store = session::open_store(cli)?;
    let records = store.timings.last_tasks(args.last)?;
    let summary = report::summarize(&records);
    if records.is_empty() {
        let message = no_history(store.root());
        if args.json {
            print_json(&JsonReport {
                last: args.last,
                chart: None,
                message: Some(message),
                summary: &summary,
            })?;
        } else {
            println!("{message}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let chart = args
        .chart
        .clone()
        .unwrap_or_else(|| store.root().join("report.svg"));
    report::svg::write(&chart, &summary)?;
    if args.json {
        print_json(&JsonReport {
            last: args.last,
            chart: Some(&chart),
            message: None,
            summary: &summary,
        })?;
    } else {
        print!("{}", tables(&summary, args.last, &chart));
    }
    Ok(ExitCode::SUCCESS)
}

fn no_history(data: &Path) -> String {
    format!(
        "No timing history yet in {}: every stage a task finishes is recorded there.\n\
         Run a task first, e.g. `reelforge make \"Why do cats purr?\"`, then `reelforge report` again.",
        data.display()
    )
}

fn print_json(doc: &JsonReport<'_>) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(doc)?);
    Ok(())
}

/// The human report: stage table, critical path, cache table, chart path.
fn tables(s: &Summary, last: usize, chart: &Path) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason only.
    let _ = writeln!(
        out,
        "Timing history: {} tasks, {} stage runs (the most recent, --last {last})\n",
        s.tasks, s.records
    );
    let _ = writeln!(
        out,
        "{:<10} {:>5} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8}",
        "stage", "runs", "median", "p90", "cpu med", "bytes med", "peak mem", "critical", "cached"
    );
    for st in &s.stages {
        let _ = writeln!(
            out,
            "{:<10} {:>5} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8.0}% {:>8}",
            st.stage.name(),
            st.runs,
            duration(st.wall_ms.median),
            duration(st.wall_ms.p90),
            duration(st.cpu_ms.median),
            bytes(st.bytes_median),
            bytes(st.peak_rss_median),
            st.critical_share * 100.0,
            st.cache_hit_runs,
        );
    }
    out.push_str(
        "(critical: share of all critical-path time; cached: runs served wholly from the cache)\n",
    );
    let per_task = s.critical_path_ms / u64::try_from(s.tasks.max(1)).unwrap_or(1);
    let _ = write!(
        out,
        "\nCritical path: {} over {} tasks ({} per task)",
        duration(s.critical_path_ms),
        s.tasks,
        duration(per_task)
    );
    match s.bottleneck {
        Some(b) => {
            let _ = writeln!(
                out,
                "; most often the bottleneck: {} ({} of {} tasks)",
                b.stage, b.tasks, s.tasks
            );
        }
        None => out.push('\n'),
    }
    out.push('\n');
    if s.cache.is_empty() {
        out.push_str("Cache: no lookups recorded\n");
    } else {
        let _ = writeln!(
            out,
            "{:<10} {:>7} {:>7} {:>6} {:>10}",
            "cache", "hits", "misses", "rate", "time saved"
        );
        for c in &s.cache {
            let _ = writeln!(
                out,
                "{:<10} {:>7} {:>7} {:>5.0}% {:>10}",
                c.kind,
                c.hits,
                c.misses,
                c.hit_rate * 100.0,
                duration(c.saved_ms)
            );
        }
        let _ = writeln!(out, "Time saved by the cache: {}", duration(s.saved_ms));
    }
    let _ = writeln!(out, "\nChart: {}", chart.display());
    out
}

/// A size for files and memory: "512 B", "12 kB", "3.4 MB", "1.2 GB".
fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{} kB", n / 1_000),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}
