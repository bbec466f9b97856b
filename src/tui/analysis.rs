//! Where a task's time went: stage intervals on one axis, which stages overlapped, the
//! critical path through the stage graph, and its longest stage (the bottleneck).

use super::state::TaskView;
use crate::pipeline::Stage;

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
    let _ = (task, now_ms);
    Vec::new()
}

/// Pairs of stages that ran at the same time, with how long they overlapped (ms).
pub fn overlaps(task: &TaskView, now_ms: u64) -> Vec<(Stage, Stage, u64)> {
    let _ = (task, now_ms);
    Vec::new()
}

/// The chain of stages that decided when the task ended, first to last.
pub fn critical_path(task: &TaskView, now_ms: u64) -> Vec<Stage> {
    let _ = (task, now_ms);
    Vec::new()
}

pub fn bottleneck(task: &TaskView, now_ms: u64) -> Option<Bottleneck> {
    let _ = (task, now_ms);
    None
}
