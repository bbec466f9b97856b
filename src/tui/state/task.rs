//! One task as the dashboard sees it: its status, each stage's run, its downloads, cache
//! counts and log lines.

use super::{LOG_LEN, Ring};
use crate::pipeline::Stage;
use crate::pipeline::events::{DownloadState, LogLevel, TaskId};
use crate::store::{BatchRef, StageStatus};
use crate::tui::cuts::CutView;
use std::collections::{BTreeMap, VecDeque};
/// Where a task stands, as the dashboard names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// Submitted, no stage started yet.
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
    /// Left running by a process that is gone; `R` resumes it.
    Interrupted,
}

impl TaskStatus {
    pub fn is_active(self) -> bool {
        matches!(self, TaskStatus::Queued | TaskStatus::Running)
    }

    /// The word shown beside the symbol (status is never colour alone).
    pub fn word(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Interrupted => "interrupted",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            TaskStatus::Queued => "…",
            TaskStatus::Running => "▶",
            TaskStatus::Done => "✔",
            TaskStatus::Failed => "✖",
            TaskStatus::Cancelled => "■",
            TaskStatus::Interrupted => "⏸",
        }
    }
}

/// Symbol and word for a stage status.
pub fn stage_symbol(status: StageStatus) -> &'static str {
    match status {
        StageStatus::Pending => "·",
        StageStatus::Queued => "…",
        StageStatus::Running => "▶",
        StageStatus::Done => "✔",
        StageStatus::Failed => "✖",
        StageStatus::Cancelled => "■",
        StageStatus::Skipped => "-",
    }
}

pub fn stage_word(status: StageStatus) -> &'static str {
    match status {
        StageStatus::Pending => "pending",
        StageStatus::Queued => "queued",
        StageStatus::Running => "running",
        StageStatus::Done => "done",
        StageStatus::Failed => "failed",
        StageStatus::Cancelled => "cancelled",
        StageStatus::Skipped => "skipped",
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct StageView {
    pub status: StageStatus,
    /// The attempt running now or last made (1-based; 0 = never started).
    pub attempt: u32,
    /// Start of the current run (first attempt of it), ms since the epoch.
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub fraction: Option<f32>,
    /// The last progress message, or the summary once done.
    pub message: String,
    pub error: Option<String>,
    /// A failed attempt that will be retried: when the next one starts (ms since epoch).
    pub retry_at_ms: Option<u64>,
}

impl Default for StageView {
    fn default() -> Self {
        StageView {
            status: StageStatus::Pending,
            attempt: 0,
            started_ms: None,
            finished_ms: None,
            fraction: None,
            message: String::new(),
            error: None,
            retry_at_ms: None,
        }
    }
}

impl StageView {
    /// Wall time so far (running) or in all (finished), at `now_ms`.
    pub fn elapsed_ms(&self, now_ms: u64) -> Option<u64> {
        let start = self.started_ms?;
        Some(self.finished_ms.unwrap_or(now_ms).saturating_sub(start))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DownloadView {
    pub clip: String,
    pub source: String,
    pub state: DownloadState,
    pub done_bytes: u64,
    pub total_bytes: Option<u64>,
    pub bytes_per_sec: u64,
    pub detail: Option<String>,
    /// When the next try starts (ms since epoch), while retrying.
    pub retry_at_ms: Option<u64>,
}

impl DownloadView {
    pub fn fraction(&self) -> Option<f64> {
        let total = self.total_bytes.filter(|&t| t > 0)?;
        Some((self.done_bytes as f64 / total as f64).clamp(0.0, 1.0))
    }

    pub fn is_transferring(&self) -> bool {
        matches!(
            self.state,
            DownloadState::Downloading | DownloadState::Retrying
        )
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheCount {
    pub hits: u64,
    pub misses: u64,
    pub saved_ms: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub at_ms: u64,
    pub level: LogLevel,
    pub stage: Option<Stage>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TaskView {
    pub id: TaskId,
    pub subject: String,
    pub status: TaskStatus,
    pub created_ms: u64,
    pub finished_ms: Option<u64>,
    pub output: Option<String>,
    /// Why the task stopped.
    pub error: Option<String>,
    pub stages: BTreeMap<Stage, StageView>,
    /// In the order clips first appeared.
    pub downloads: Vec<DownloadView>,
    /// Aggregate download throughput, bytes/s, one sample per tick.
    pub throughput: Ring,
    pub cache: BTreeMap<String, CacheCount>,
    /// Local models the task used and their load time (0 when already loaded).
    pub models: Vec<(String, u64)>,
    pub logs: VecDeque<LogLine>,
    /// The `reelforge batch` run the task belongs to (from its record); `None` for a task
    /// started on its own.
    pub batch: Option<BatchRef>,
    /// The clips the select stage chose, once it is done.
    pub cuts: Vec<CutView>,
}

impl TaskView {
    pub fn new(id: TaskId, subject: String, created_ms: u64) -> Self {
        TaskView {
            id,
            subject,
            status: TaskStatus::Queued,
            created_ms,
            finished_ms: None,
            output: None,
            error: None,
            stages: Stage::ALL
                .into_iter()
                .map(|s| (s, StageView::default()))
                .collect(),
            downloads: Vec::new(),
            throughput: Ring::default(),
            cache: BTreeMap::new(),
            models: Vec::new(),
            cuts: Vec::new(),
            logs: VecDeque::new(),
            batch: None,
        }
    }

    pub fn stage(&self, stage: Stage) -> &StageView {
        self.stages
            .get(&stage)
            .expect("a task view holds all seven stages")
    }

    pub fn stage_mut(&mut self, stage: Stage) -> &mut StageView {
        self.stages
            .get_mut(&stage)
            .expect("a task view holds all seven stages")
    }

    /// Share of planned stages done, 0–1 (running stages count by their fraction).
    pub fn progress(&self) -> f64 {
        let planned: Vec<&StageView> = self
            .stages
            .values()
            .filter(|s| s.status != StageStatus::Skipped)
            .collect();
        if planned.is_empty() {
            return 1.0;
        }
        let sum: f64 = planned
            .iter()
            .map(|s| match s.status {
                StageStatus::Done => 1.0,
                StageStatus::Running => f64::from(s.fraction.unwrap_or(0.0)),
                _ => 0.0,
            })
            .sum();
        sum / planned.len() as f64
    }

    /// From the first stage start (or creation) to the end (or `now_ms`).
    pub fn elapsed_ms(&self, now_ms: u64) -> u64 {
        let start = self
            .stages
            .values()
            .filter_map(|s| s.started_ms)
            .min()
            .unwrap_or(self.created_ms);
        let end = if self.status.is_active() {
            now_ms
        } else {
            self.finished_ms
                .or_else(|| self.stages.values().filter_map(|s| s.finished_ms).max())
                .unwrap_or(now_ms)
        };
        end.saturating_sub(start)
    }

    pub fn push_log(&mut self, line: LogLine) {
        if self.logs.len() == LOG_LEN {
            self.logs.pop_front();
        }
        self.logs.push_back(line);
    }
}
