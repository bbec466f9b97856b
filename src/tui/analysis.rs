//! Where a task's time went, for the dashboard: the task's stage intervals on one axis,
//! handed to the span algorithms `reelforge report` uses too (`crate::report::spans`), so
//! the overlaps, critical path and bottleneck shown live match the report's.

use super::state::TaskView;
use crate::pipeline::Stage;
use crate::report::spans as algo;
use crate::store::StageStatus;

pub use crate::report::spans::{Bottleneck, Span};

/// Intervals of every stage that has started, in stage order (`end` is now for a running
/// stage).
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
    algo::overlaps(&spans(task, now_ms))
}

/// The chain of stages that decided when the task ended (or will, while it runs).
pub fn critical_path(task: &TaskView, now_ms: u64) -> Vec<Stage> {
    algo::critical_path(&spans(task, now_ms))
}

/// The longest stage on the critical path, with its share of the task's wall time.
pub fn bottleneck(task: &TaskView, now_ms: u64) -> Option<Bottleneck> {
    algo::bottleneck(&spans(task, now_ms))
}
