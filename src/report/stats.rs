//! Figures from the timing history: per stage the spread of wall and CPU time, per cache
//! kind the hit rate and time saved, per task the stage intervals and critical path, and
//! each stage's share of the critical-path time over all tasks.

use super::spans::{self, Span};
use crate::pipeline::Stage;
use crate::store::StageTiming;
use serde::Serialize;
use std::collections::BTreeMap;

/// Nearest-rank percentile of `sorted` (ascending): the smallest value with at least `p` %
/// of the values at or below it, i.e. the value at rank ⌈p/100 · n⌉ (rank 1 for p = 0).
///
/// Nearest rank always answers with a measured value, never an interpolation between two
/// runs, and the median is `percentile(_, 50)` (the lower middle for an even count).
/// Integer arithmetic on purpose: in floating point 0.9 · 10 is 9.000000000000002, whose
/// ceiling would pick rank 10 instead of 9.
pub fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    let p = usize::try_from(p.min(100)).expect("invariant: 100 fits usize");
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The spread of one measure over runs, all by nearest rank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Distribution {
    pub min: u64,
    pub p25: u64,
    pub median: u64,
    pub p75: u64,
    pub p90: u64,
    pub max: u64,
}

impl Distribution {
    /// None when there are no values.
    pub fn of(values: impl IntoIterator<Item = u64>) -> Option<Distribution> {
        let mut sorted: Vec<u64> = values.into_iter().collect();
        sorted.sort_unstable();
        Some(Distribution {
            min: *sorted.first()?,
            p25: percentile(&sorted, 25)?,
            median: percentile(&sorted, 50)?,
            p75: percentile(&sorted, 75)?,
            p90: percentile(&sorted, 90)?,
            max: *sorted.last()?,
        })
    }
}

/// One stage over every run in the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageStats {
    pub stage: Stage,
    pub runs: usize,
    pub wall_ms: Distribution,
    pub cpu_ms: Distribution,
    pub bytes_median: u64,
    pub peak_rss_median: u64,
    /// Runs whose every cache lookup hit.
    pub cache_hit_runs: usize,
    /// Time this stage spent on the tasks' critical paths, and its share of all
    /// critical-path time (0 to 1).
    pub critical_ms: u64,
    pub critical_share: f64,
    /// Tasks whose bottleneck (longest critical stage) this stage was.
    pub bottleneck_tasks: usize,
}

/// Cache lookups of one kind over every run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheStats {
    pub kind: String,
    pub hits: u64,
    pub misses: u64,
    /// hits / (hits + misses); 0 when there were no lookups.
    pub hit_rate: f64,
    pub saved_ms: u64,
}

/// One task's recorded intervals.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSpans {
    pub task: String,
    /// The first start of any of its stage runs (ms since the epoch).
    pub start: u64,
    /// Every recorded run, by start; a stage run again (retry, resume) appears again.
    pub runs: Vec<Span>,
    /// The critical path through the latest run of each stage (the runs whose outputs
    /// the task kept), first to last, and the time spent on it.
    pub critical: Vec<Span>,
    pub critical_ms: u64,
    pub bottleneck: Option<Stage>,
}

/// The stage that was most often a task's bottleneck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BottleneckCount {
    pub stage: Stage,
    pub tasks: usize,
}

/// Everything `reelforge report` shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub tasks: usize,
    pub records: usize,
    /// Stages with at least one run, in graph order.
    pub stages: Vec<StageStats>,
    pub cache: Vec<CacheStats>,
    pub saved_ms: u64,
    pub critical_path_ms: u64,
    pub bottleneck: Option<BottleneckCount>,
    /// Per task, by first start: what the Gantt chart draws.
    #[serde(skip)]
    pub timeline: Vec<TaskSpans>,
}

pub fn summarize(records: &[StageTiming]) -> Summary {
    let timeline = task_spans(records);
    let critical_path_ms: u64 = timeline.iter().map(|t| t.critical_ms).sum();
    let stages: Vec<StageStats> = Stage::ALL
        .into_iter()
        .filter_map(|stage| stage_stats(stage, records, &timeline, critical_path_ms))
        .collect();
    let bottleneck = stages
        .iter()
        .filter(|s| s.bottleneck_tasks > 0)
        .max_by_key(|s| (s.bottleneck_tasks, std::cmp::Reverse(s.stage.index())))
        .map(|s| BottleneckCount {
            stage: s.stage,
            tasks: s.bottleneck_tasks,
        });
    let cache = cache_stats(records);
    Summary {
        tasks: timeline.len(),
        records: records.len(),
        stages,
        saved_ms: cache.iter().map(|c| c.saved_ms).sum(),
        cache,
        critical_path_ms,
        bottleneck,
        timeline,
    }
}

fn stage_stats(
    stage: Stage,
    records: &[StageTiming],
    timeline: &[TaskSpans],
    critical_total: u64,
) -> Option<StageStats> {
    let runs: Vec<&StageTiming> = records.iter().filter(|r| r.stage == stage).collect();
    let median = |f: fn(&StageTiming) -> u64| {
        Distribution::of(runs.iter().map(|r| f(r))).map_or(0, |d| d.median)
    };
    let critical_ms: u64 = timeline
        .iter()
        .flat_map(|t| &t.critical)
        .filter(|s| s.stage == stage)
        .map(|s| s.len())
        .sum();
    Some(StageStats {
        stage,
        runs: runs.len(),
        wall_ms: Distribution::of(runs.iter().map(|r| r.wall_ms))?,
        cpu_ms: Distribution::of(runs.iter().map(|r| r.cpu_ms))?,
        bytes_median: median(|r| r.bytes),
        peak_rss_median: median(|r| r.peak_rss_bytes),
        cache_hit_runs: runs.iter().filter(|r| r.cache_hit()).count(),
        critical_ms,
        critical_share: share(critical_ms, critical_total),
        bottleneck_tasks: timeline
            .iter()
            .filter(|t| t.bottleneck == Some(stage))
            .count(),
    })
}

fn share(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

fn cache_stats(records: &[StageTiming]) -> Vec<CacheStats> {
    let mut kinds: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for (kind, used) in records.iter().flat_map(|r| &r.cache) {
        let entry = kinds.entry(kind).or_default();
        entry.0 += u64::from(used.hits);
        entry.1 += u64::from(used.misses);
        entry.2 += used.saved_ms;
    }
    kinds
        .into_iter()
        .map(|(kind, (hits, misses, saved_ms))| CacheStats {
            kind: kind.to_string(),
            hits,
            misses,
            hit_rate: share(hits, hits + misses),
            saved_ms,
        })
        .collect()
}

/// The records grouped by task, each task's runs as spans, ordered by first start.
fn task_spans(records: &[StageTiming]) -> Vec<TaskSpans> {
    let mut order: Vec<&str> = Vec::new();
    let mut runs: BTreeMap<&str, Vec<Span>> = BTreeMap::new();
    for r in records {
        if !runs.contains_key(r.task.as_str()) {
            order.push(&r.task);
        }
        runs.entry(&r.task).or_default().push(Span {
            stage: r.stage,
            start: r.started_ms,
            end: r.finished_ms.max(r.started_ms),
        });
    }
    let mut out: Vec<TaskSpans> = order
        .into_iter()
        .filter_map(|task| {
            let mut runs = runs.remove(task)?;
            runs.sort_by_key(|s| (s.start, s.stage.index()));
            let latest = latest_spans(&runs);
            let critical = spans::critical_spans(&latest);
            Some(TaskSpans {
                task: task.to_string(),
                start: runs.first()?.start,
                critical_ms: critical.iter().map(Span::len).sum(),
                critical,
                bottleneck: spans::bottleneck(&latest).map(|b| b.stage),
                runs,
            })
        })
        .collect();
    out.sort_by_key(|t| t.start);
    out
}

/// One span per stage, the run that ended last, in stage order: the span algorithms want
/// one interval per stage, and the last run is the one whose output the task kept.
fn latest_spans(runs: &[Span]) -> Vec<Span> {
    let mut latest: BTreeMap<Stage, Span> = BTreeMap::new();
    for run in runs {
        let slot = latest.entry(run.stage).or_insert(*run);
        if run.end > slot.end {
            *slot = *run;
        }
    }
    latest.into_values().collect()
}

#[cfg(test)]
#[path = "stats_tests.rs"]
pub(crate) mod tests;
