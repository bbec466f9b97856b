//! Tests of the history figures: nearest-rank percentiles, critical-path shares over two
//! tasks (one with a retried stage), cache rates.

use super::*;
use crate::store::CacheUse;

#[test]
fn nearest_rank_percentiles() {
    // The textbook example: 15, 20, 35, 40, 50.
    let v = [15, 20, 35, 40, 50];
    let at = |p| percentile(&v, p);
    assert_eq!(
        [at(0), at(5), at(30), at(40), at(50)],
        [15, 15, 20, 20, 35].map(Some)
    );
    assert_eq!([at(90), at(100), at(250)], [50, 50, 50].map(Some));
    // p90 of ten values is the ninth: no floating-point rank drift to the tenth.
    let ten: Vec<u64> = (1..=10).collect();
    assert_eq!(percentile(&ten, 90), Some(9));
    // An even count's median is the lower middle, a measured value.
    assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
    assert_eq!(percentile(&[], 50), None);
    let d = Distribution::of([40, 10, 30, 20]).expect("values");
    assert_eq!(
        (d.min, d.p25, d.median, d.p75, d.p90, d.max),
        (10, 10, 20, 30, 40, 40)
    );
    assert_eq!(Distribution::of([]), None);
}

/// A run of `stage` from `start` to `end`, using half its wall time in CPU (also used by
/// the chart's tests).
pub(crate) fn rec(task: &str, stage: Stage, start: u64, end: u64) -> StageTiming {
    StageTiming {
        task: task.into(),
        stage,
        started_ms: start,
        finished_ms: end,
        wall_ms: end - start,
        cpu_ms: (end - start) / 2,
        bytes: 1_000,
        cache: BTreeMap::new(),
        peak_rss_bytes: 1 << 20,
        attempts: 1,
        batch: None,
    }
}

fn cache(mut r: StageTiming, kind: &str, hits: u32, misses: u32, saved: u64) -> StageTiming {
    let used = CacheUse {
        hits,
        misses,
        saved_ms: saved,
    };
    r.cache.insert(kind.into(), used);
    r
}

/// Task "a": the voice branch is critical (9 s); task "b" (starting at 100 s): the
/// footage branch is (9.5 s), and its footage ran twice (a retry).
fn history() -> Vec<StageTiming> {
    use Stage::*;
    let b = 100_000;
    vec![
        cache(rec("a", Script, 0, 1_000), "llm", 0, 1, 0),
        rec("a", Terms, 1_000, 1_500),
        rec("a", Voice, 1_000, 5_000),
        rec("a", Footage, 1_500, 4_000),
        rec("a", Subtitles, 5_000, 5_500),
        rec("a", Select, 5_500, 6_000),
        rec("a", Render, 6_000, 9_000),
        cache(rec("b", Script, b, b + 1_000), "llm", 1, 0, 1_200),
        rec("b", Terms, b + 1_000, b + 2_000),
        rec("b", Footage, b + 2_000, b + 2_400),
        rec("b", Voice, b + 1_000, b + 3_000),
        rec("b", Subtitles, b + 3_000, b + 3_500),
        cache(rec("b", Footage, b + 2_000, b + 8_000), "search", 3, 1, 600),
        rec("b", Select, b + 8_000, b + 8_500),
        rec("b", Render, b + 8_500, b + 9_500),
    ]
}

fn stage(summary: &Summary, stage: Stage) -> &StageStats {
    summary
        .stages
        .iter()
        .find(|s| s.stage == stage)
        .expect("the stage ran")
}

#[test]
fn stage_figures_and_critical_shares() {
    let s = summarize(&history());
    assert_eq!((s.tasks, s.records, s.stages.len()), (2, 15, 7));
    let footage = stage(&s, Stage::Footage);
    assert_eq!(footage.runs, 3);
    // Wall times 2500, 400, 6000.
    assert_eq!(
        (footage.wall_ms.median, footage.wall_ms.p90),
        (2_500, 6_000)
    );
    assert_eq!((footage.cpu_ms.median, footage.cpu_ms.max), (1_250, 3_000));
    // Critical time: a = 1 + 4 + 0.5 + 0.5 + 3 s, b = 1 + 1 + 6 + 0.5 + 1 s (the
    // footage retry's later run counts).
    assert_eq!(s.critical_path_ms, 18_500);
    assert_eq!(footage.critical_ms, 6_000);
    assert!((footage.critical_share - 6.0 / 18.5).abs() < 1e-12);
    assert_eq!(stage(&s, Stage::Script).critical_ms, 2_000);
    assert_eq!(stage(&s, Stage::Terms).critical_ms, 1_000);
    let shares: f64 = s.stages.iter().map(|x| x.critical_share).sum();
    assert!((shares - 1.0).abs() < 1e-12);
    // One bottleneck each (voice, footage): the tie goes to the earlier stage.
    assert_eq!(footage.bottleneck_tasks, 1);
    assert_eq!(
        s.bottleneck,
        Some(BottleneckCount {
            stage: Stage::Voice,
            tasks: 1
        })
    );
    let b = &s.timeline[1];
    assert_eq!((b.task.as_str(), b.start, b.runs.len()), ("b", 100_000, 8));
    let path: Vec<&str> = b.critical.iter().map(|x| x.stage.name()).collect();
    assert_eq!(path.join(" "), "script terms footage select render");
}

#[test]
fn cache_rates_and_time_saved() {
    let s = summarize(&history());
    let kinds: Vec<(&str, u64, u64, f64, u64)> = s
        .cache
        .iter()
        .map(|c| (c.kind.as_str(), c.hits, c.misses, c.hit_rate, c.saved_ms))
        .collect();
    assert_eq!(
        kinds,
        [("llm", 1, 1, 0.5, 1_200), ("search", 3, 1, 0.75, 600)]
    );
    assert_eq!(s.saved_ms, 1_800);
    assert_eq!(stage(&s, Stage::Script).cache_hit_runs, 1);
    assert_eq!(stage(&s, Stage::Footage).cache_hit_runs, 0);
}

#[test]
fn an_empty_history_has_no_figures() {
    let s = summarize(&[]);
    assert_eq!((s.tasks, s.records, s.critical_path_ms), (0, 0, 0));
    assert!(s.stages.is_empty() && s.cache.is_empty() && s.bottleneck.is_none());
}
