//! The one place the dashboard's state changes. Every input is a `Msg`; what must happen
//! outside (a pipeline command, playback) comes back as `Effect`s for `app` to carry out.

use super::state::{LogLine, NoticeLevel, SystemSample, UiState};
use crate::pipeline::Stage;
use crate::pipeline::events::{Event, TaskId};
use crate::store::{TaskRecord, TaskSpec};
use crossterm::event::KeyEvent;
use std::path::PathBuf;

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
    /// Playback of a task's narration ended (or could not start: see the notice).
    PlaybackStopped,
    Resize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Submit(TaskSpec),
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
    Play {
        task: TaskId,
        path: PathBuf,
    },
    StopPlayback,
    Quit,
}

/// Applies `msg` to `state`; sets `state.dirty` when something visible changed.
pub fn update(state: &mut UiState, msg: Msg) -> Vec<Effect> {
    let _ = (state, msg);
    Vec::new()
}
