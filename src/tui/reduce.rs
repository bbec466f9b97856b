//! The one place the dashboard's state changes. Every input is a `Msg`; what must happen
//! outside (a pipeline command, playback) comes back as `Effect`s for `app` to carry out.

mod events;

use super::cuts::CutView;
use super::keys;
use super::state::{LogLine, Notice, NoticeLevel, SystemSample, UiState};
use crate::pipeline::Stage;
use crate::pipeline::events::{Event, TaskId};
use crate::store::{TaskRecord, TaskSpec};
use crossterm::event::KeyEvent;
use events::{apply_event, merge_record};

#[derive(Clone, Debug)]
pub enum Msg {
    /// One event of the pipeline's stream.
    Pipeline(Event),
    /// Task records from the store (at start) or the supervisor (after a change).
    Records(Vec<TaskRecord>),
    Key(KeyEvent),
    /// Once a second (sparklines, countdowns, timers); `now_ms` is the wall clock.
    Tick {
        now_ms: u64,
    },
    System(SystemSample),
    /// A line from the tracing ring; `task` when the line names one.
    Log {
        task: Option<TaskId>,
        line: LogLine,
    },
    /// The outcome of an effect, shown on the notice line.
    Notice {
        level: NoticeLevel,
        text: String,
    },
    /// A task was deleted from the store.
    Removed(TaskId),
    /// The clips the task's select stage chose (read after it finished).
    Cuts {
        task: TaskId,
        cuts: Vec<CutView>,
    },
    /// Playback of a task's narration ended (or could not start: see the notice).
    PlaybackStopped,
    Resize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Submit(Box<TaskSpec>),
    Cancel {
        task: TaskId,
        stage: Option<Stage>,
    },
    Retry {
        task: TaskId,
        stage: Stage,
    },
    Resume(TaskId),
    Delete(TaskId),
    /// Ask the supervisor for the task's record (statuses, skipped stages, output).
    Refresh(TaskId),
    /// Play the task's narration (the app finds the file).
    Play(TaskId),
    StopPlayback,
    /// Printed on stdout once the dashboard has left the terminal (`o`).
    PrintOnExit(String),
    Quit,
}

/// How long a notice stays on the bottom line.
pub const NOTICE_MS: u64 = 8_000;

/// Applies `msg` to `state`; sets `state.dirty` when something visible changed.
pub fn update(state: &mut UiState, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Pipeline(event) => {
            state.dirty = true;
            apply_event(state, event)
        }
        Msg::Records(records) => {
            state.dirty = true;
            for record in records {
                merge_record(state, &record);
            }
            Vec::new()
        }
        Msg::Key(key) => {
            state.dirty = true;
            keys::handle(state, key)
        }
        Msg::Tick { now_ms } => {
            tick(state, now_ms);
            Vec::new()
        }
        Msg::System(sample) => {
            push_system(state, sample);
            state.dirty = true;
            Vec::new()
        }
        Msg::Log { task, line } => {
            // Lines naming a task reach its log through the pipeline's own Log events;
            // the ring adds what belongs to no task.
            if task.is_none() {
                if state.logs.len() == super::state::LOG_LEN {
                    state.logs.pop_front();
                }
                state.logs.push_back(line);
                state.dirty = true;
            }
            Vec::new()
        }
        Msg::Notice { level, text } => {
            notify(state, level, text);
            Vec::new()
        }
        Msg::Cuts { task, cuts } => {
            if let Some(view) = state.task_mut(&task) {
                view.cuts = cuts;
                state.dirty = true;
            }
            Vec::new()
        }
        Msg::Removed(id) => {
            let selected = state.selected_task().map(|t| t.id.clone());
            state.tasks.retain(|t| t.id != id);
            reselect(state, selected.as_deref());
            notify(state, NoticeLevel::Info, format!("task {id} deleted"));
            Vec::new()
        }
        Msg::PlaybackStopped => {
            state.playing = None;
            state.dirty = true;
            Vec::new()
        }
        Msg::Resize => {
            state.dirty = true;
            Vec::new()
        }
    }
}

pub fn notify(state: &mut UiState, level: NoticeLevel, text: String) {
    state.notice = Some(Notice {
        level,
        text,
        at_ms: state.now_ms,
    });
    state.dirty = true;
}

fn reselect(state: &mut UiState, id: Option<&str>) {
    state.selected = id
        .and_then(|id| state.tasks.iter().position(|t| t.id == id))
        .unwrap_or(state.selected)
        .min(state.tasks.len().saturating_sub(1));
}

fn tick(state: &mut UiState, now_ms: u64) {
    state.now_ms = now_ms;
    let mut changed = false;
    for task in &mut state.tasks {
        if task.status.is_active() {
            let rate = task
                .downloads
                .iter()
                .filter(|d| d.is_transferring())
                .map(|d| d.bytes_per_sec)
                .sum();
            task.throughput.push(rate);
            changed = true;
        }
    }
    if state
        .notice
        .as_ref()
        .is_some_and(|n| now_ms.saturating_sub(n.at_ms) > NOTICE_MS)
    {
        state.notice = None;
        changed = true;
    }
    // An idle dashboard draws nothing on ticks: no timer or countdown is moving.
    state.dirty |= changed;
}

fn push_system(state: &mut UiState, sample: SystemSample) {
    let system = &mut state.system;
    system.cpu.push((sample.cpu_percent.max(0.0) * 10.0) as u64);
    system.rss.push(sample.rss_bytes);
    if let Ok(gpu) = &sample.gpu {
        system.gpu_util.push(u64::from(gpu.utilization_percent));
        system.gpu_mem.push(gpu.memory_used_bytes);
    }
    system.latest = Some(sample);
}
