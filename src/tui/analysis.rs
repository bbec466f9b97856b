//! Where a task's time went: stage intervals on one axis, which stages overlapped, the
//! critical path through the stage graph, and its longest stage (the bottleneck).

use super::state::TaskView;
use crate::pipeline::Stage;
use crate::store::StageStatus;

/// One stage's interval, ms since the epoch (`end` is now for a running stage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub stage: Stage,
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The bottleneck: the longest stage on the critical path and its share of the task's
/// wall time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bottleneck {
    pub stage: Stage,
    pub ms: u64,
    pub share: f64,
}

/// Intervals of every stage that has started, in stage order.
pub fn spans(task: &TaskView, now_ms: u64) -> Vec<Span> {
    task.stages
        .iter()
        .filter_map(|(&stage, view)| {
            let start = view.started_ms?;
            let end = match (view.finished_ms, view.status) {
                (Some(end), _) => end,
                (None, StageStatus::Running | StageStatus::Queued) => now_ms,
                (None, _) => start,
            };
            Some(Span {
                stage,
                start,
                end: end.max(start),
            })
        })
        .collect()
}

/// Pairs of stages that ran at the same time, with how long they overlapped (ms).
pub fn overlaps(task: &TaskView, now_ms: u64) -> Vec<(Stage, Stage, u64)> {
    let spans = spans(task, now_ms);
    let mut out = Vec::new();
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            let shared = a.end.min(b.end).saturating_sub(a.start.max(b.start));
            if shared > 0 {
                out.push((a.stage, b.stage, shared));
            }
        }
    }
    out
}

/// The chain of stages that decided when the task ended, first to last: from the stage
/// that ended last, back through the input that became ready last.
pub fn critical_path(task: &TaskView, now_ms: u64) -> Vec<Stage> {
    let spans = spans(task, now_ms);
    let by_stage = |stage: Stage| spans.iter().find(|s| s.stage == stage);
    let Some(mut at) = spans.iter().max_by_key(|s| (s.end, s.stage.index())) else {
        return Vec::new();
    };
    let mut path = vec![at.stage];
    while let Some(gate) = at
        .stage
        .deps()
        .iter()
        .filter_map(|&d| by_stage(d))
        .max_by_key(|s| (s.end, s.stage.index()))
    {
        path.push(gate.stage);
        at = gate;
    }
    path.reverse();
    path
}

/// The longest stage on the critical path, with its share of the task's wall time (first
/// start to last end).
pub fn bottleneck(task: &TaskView, now_ms: u64) -> Option<Bottleneck> {
    let spans = spans(task, now_ms);
    let first = spans.iter().map(|s| s.start).min()?;
    let last = spans.iter().map(|s| s.end).max()?;
    let total = last.saturating_sub(first);
    let path = critical_path(task, now_ms);
    let longest = spans
        .iter()
        .filter(|s| path.contains(&s.stage))
        .max_by_key(|s| (s.len(), std::cmp::Reverse(s.stage.index())))?;
    (total > 0).then(|| Bottleneck {
        stage: longest.stage,
        ms: longest.len(),
        share: longest.len() as f64 / total as f64,
    })
}
