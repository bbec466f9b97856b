//! The one event stream: stage actors → supervisor → every view (CLI lines, JSON, dashboard).

use super::stage::Stage;
pub use crate::providers::download::DownloadState;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

pub type TaskId = String;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub task: TaskId,
    /// `None` for task-level events.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<Stage>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A task was accepted (or resumed) by the supervisor.
    Submitted {
        subject: String,
    },
    Queued,
    Started {
        attempt: u32,
    },
    Progress {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        fraction: Option<f32>,
        message: String,
    },
    CacheHit {
        kind: String,
        saved_ms: u64,
    },
    /// A cache lookup found nothing, so the work is done (and cached); with `CacheHit`, the
    /// hit rate per kind.
    CacheMiss {
        kind: String,
    },
    /// A stage is using a local model: `load_ms` is the load time the first time, 0 after.
    ModelReady {
        model: String,
        load_ms: u64,
    },
    /// One clip of the footage stage: queued, downloading (bytes), retrying, done, cached,
    /// rejected (with why).
    Download {
        clip: String,
        source: String,
        state: DownloadState,
        done_bytes: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        total_bytes: Option<u64>,
        bytes_per_sec: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        detail: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        retry_in_ms: Option<u64>,
    },
    Log {
        level: LogLevel,
        message: String,
    },
    Finished {
        elapsed_ms: u64,
    },
    Failed {
        error: String,
        will_retry: bool,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        retry_in_ms: Option<u64>,
    },
    Cancelled,
    /// Task level: every stage finished; `output` is the video (or the last stage's output).
    TaskDone {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        output: Option<String>,
        elapsed_ms: u64,
    },
    /// Task level: the task stopped with a failed or cancelled stage.
    TaskStopped {
        reason: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Event {
    pub fn new(task: &str, stage: Option<Stage>, kind: EventKind) -> Self {
        Event {
            task: task.to_string(),
            stage,
            at_ms: now_ms(),
            kind,
        }
    }

    /// True for events after which the task will not change by itself.
    pub fn ends_task(&self) -> bool {
        matches!(
            self.kind,
            EventKind::TaskDone { .. } | EventKind::TaskStopped { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_flat_and_tagged() {
        let event = Event {
            task: "t1".into(),
            stage: Some(Stage::Voice),
            at_ms: 5,
            kind: EventKind::Failed {
                error: "boom".into(),
                will_retry: true,
                retry_in_ms: Some(500),
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event"], "failed");
        assert_eq!(json["stage"], "voice");
        assert_eq!(json["will_retry"], true);
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
