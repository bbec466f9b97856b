//! Everything the dashboard shows, as plain data. `reduce.rs` is the one place it changes;
//! `view/` draws it as a pure function. No terminal or pipeline handle lives here, so a
//! scripted sequence of messages can be replayed in tests.

mod task;

pub use task::*;

use super::form::TaskForm;
use super::theme::Theme;
use crate::pipeline::Stage;
use crate::pipeline::events::TaskId;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Samples kept for each sparkline (one per second).
pub const SPARK_LEN: usize = 120;
/// Log lines kept per task and for the whole process.
pub const LOG_LEN: usize = 500;

/// A bounded history of samples for a sparkline, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ring {
    pub samples: VecDeque<u64>,
}

impl Ring {
    pub fn push(&mut self, value: u64) {
        if self.samples.len() == SPARK_LEN {
            self.samples.pop_front();
        }
        self.samples.push_back(value);
    }

    pub fn last(&self) -> Option<u64> {
        self.samples.back().copied()
    }

    /// The most recent `n` samples, oldest first (what fits a sparkline `n` cells wide).
    pub fn tail(&self, n: usize) -> Vec<u64> {
        let skip = self.samples.len().saturating_sub(n);
        self.samples.iter().skip(skip).copied().collect()
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuSample {
    pub name: String,
    pub utilization_percent: u32,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub encoder_percent: u32,
}

/// One reading of the process and the GPU, taken by the system sampler.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemSample {
    /// Of one core: 200 means two cores busy.
    pub cpu_percent: f32,
    pub rss_bytes: u64,
    pub cores: usize,
    /// `Err` says why there is none ("no GPU", "NVML not found").
    pub gpu: Result<GpuSample, String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemView {
    pub latest: Option<SystemSample>,
    /// CPU percent ×10 (sparklines take integers).
    pub cpu: Ring,
    pub rss: Ring,
    pub gpu_util: Ring,
    pub gpu_mem: Ring,
}

/// The pane that has the keyboard focus (`tab` moves it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Tasks,
    Pipeline,
    Downloads,
    Logs,
}

impl Pane {
    pub const ORDER: [Pane; 4] = [Pane::Tasks, Pane::Pipeline, Pane::Downloads, Pane::Logs];
}

/// What asks a yes/no question.
#[derive(Clone, Debug, PartialEq)]
pub enum Confirm {
    /// Quit while tasks run (they stay resumable).
    Quit {
        running: usize,
    },
    DeleteTask(TaskId),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Form(Box<TaskForm>),
    Confirm(Confirm),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Warn,
    Error,
}

/// The one-line message at the bottom (an output path, "no audio device", a refused command).
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub level: NoticeLevel,
    pub text: String,
    pub at_ms: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UiState {
    /// Oldest first (task ids sort by creation time).
    pub tasks: Vec<TaskView>,
    /// Index into `tasks`.
    pub selected: usize,
    /// The stage the pipeline pane points at (`c`/`r` act on it).
    pub selected_stage: Stage,
    pub focus: Pane,
    pub overlay: Overlay,
    pub notice: Option<Notice>,
    pub system: SystemView,
    /// Lines of the process that belong to no task (start-up, providers).
    pub logs: VecDeque<LogLine>,
    /// Scroll offsets (lines from the newest) of the downloads and logs panes.
    pub downloads_scroll: usize,
    pub logs_scroll: usize,
    /// The task whose narration is playing.
    pub playing: Option<TaskId>,
    pub theme: Theme,
    pub now_ms: u64,
    /// Set when something visible changed since the last frame.
    pub dirty: bool,
    pub quit: bool,
    /// Select the next task that appears (the user just submitted it).
    pub follow_new: bool,
    /// The aspect the new-task form starts with (the config's).
    pub default_aspect: String,
}

impl UiState {
    pub fn new(theme: Theme, now_ms: u64) -> Self {
        UiState {
            tasks: Vec::new(),
            selected: 0,
            selected_stage: Stage::Script,
            focus: Pane::Tasks,
            overlay: Overlay::None,
            notice: None,
            system: SystemView::default(),
            logs: VecDeque::new(),
            downloads_scroll: 0,
            logs_scroll: 0,
            playing: None,
            theme,
            now_ms,
            dirty: true,
            quit: false,
            follow_new: false,
            default_aspect: "9:16".into(),
        }
    }

    pub fn selected_task(&self) -> Option<&TaskView> {
        self.tasks.get(self.selected)
    }

    pub fn task(&self, id: &str) -> Option<&TaskView> {
        self.tasks.iter().find(|t| t.id == id)
    }

    pub fn task_mut(&mut self, id: &str) -> Option<&mut TaskView> {
        self.tasks.iter_mut().find(|t| t.id == id)
    }

    /// Puts the tasks in the order the list shows them: tasks started on their own first,
    /// oldest first (ids sort by creation time), then each batch together, in entry order,
    /// batches in the order they started.
    pub fn sort_tasks(&mut self) {
        let mut batch_start: HashMap<String, TaskId> = HashMap::new();
        for task in &self.tasks {
            if let Some(batch) = &task.batch {
                let first = batch_start
                    .entry(batch.id.clone())
                    .or_insert(task.id.clone());
                if task.id < *first {
                    *first = task.id.clone();
                }
            }
        }
        self.tasks.sort_by_cached_key(|t| match &t.batch {
            None => (false, String::new(), String::new(), 0, t.id.clone()),
            Some(b) => (
                true,
                batch_start.get(&b.id).cloned().unwrap_or_default(),
                b.id.clone(),
                b.entry,
                t.id.clone(),
            ),
        });
    }

    /// Tasks of batch `id` shown: (done, failed, all).
    pub fn batch_counts(&self, id: &str) -> (usize, usize, usize) {
        let tasks = self
            .tasks
            .iter()
            .filter(|t| t.batch.as_ref().is_some_and(|b| b.id == id));
        tasks.fold((0, 0, 0), |(done, failed, all), t| {
            (
                done + usize::from(t.status == TaskStatus::Done),
                failed + usize::from(t.status == TaskStatus::Failed),
                all + 1,
            )
        })
    }

    pub fn running_count(&self) -> usize {
        self.tasks.iter().filter(|t| t.status.is_active()).count()
    }

    /// Hits, misses and time saved per cache kind over every task shown.
    pub fn cache_totals(&self) -> BTreeMap<String, CacheCount> {
        let mut totals: BTreeMap<String, CacheCount> = BTreeMap::new();
        for count in self.tasks.iter().flat_map(|t| t.cache.iter()) {
            let entry = totals.entry(count.0.clone()).or_default();
            entry.hits += count.1.hits;
            entry.misses += count.1.misses;
            entry.saved_ms += count.1.saved_ms;
        }
        totals
    }
}
