//! What a stage run receives (`JobCtx`) and what every stage implements (`StageWork`).

use super::events::{Event, EventKind, LogLevel, TaskId};
use super::{Stage, StageError};
use crate::store::TaskSpec;
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// The result of one successful stage run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageOutput {
    /// Files written, relative to the task folder.
    pub files: Vec<String>,
    /// One line for humans ("6 sentences", "4 clips, 12 MB").
    pub summary: String,
    /// Bytes the run brought in outside the task folder (downloaded clips live in the
    /// shared cache): counted in the timing history and the footage budget.
    pub external_bytes: u64,
}

/// One stage of one task, as implemented by an engine or a test double.
#[async_trait]
pub trait StageWork: Send + Sync {
    /// Runs the stage. Must return promptly with `StageError::cancelled()` once
    /// `ctx.cancel` fires, and must write outputs atomically (nothing half-written).
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError>;
}

/// Messages from stage runs to the supervisor (unbounded: events only flow up).
#[derive(Debug)]
pub(crate) enum Report {
    Event(Event),
    Ended {
        task: TaskId,
        stage: Stage,
        attempts: u32,
        result: Result<StageOutput, StageError>,
        elapsed_ms: u64,
    },
}

pub struct JobCtx {
    pub task: TaskId,
    pub stage: Stage,
    pub attempt: u32,
    pub spec: Arc<TaskSpec>,
    /// The task's folder; stage outputs live here.
    pub dir: PathBuf,
    pub cancel: CancellationToken,
    pub(crate) reports: UnboundedSender<Report>,
}

impl JobCtx {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A private folder for this stage's temporary files, removed when the run ends.
    pub fn scratch_dir(&self) -> PathBuf {
        self.dir.join(".work").join(self.stage.name())
    }

    pub fn emit(&self, kind: EventKind) {
        // The supervisor outlives every stage run; a closed channel means shutdown.
        let _ = self.reports.send(Report::Event(Event::new(
            &self.task,
            Some(self.stage),
            kind,
        )));
    }

    pub fn progress(&self, fraction: Option<f32>, message: impl Into<String>) {
        self.emit(EventKind::Progress {
            fraction: fraction.map(|f| f.clamp(0.0, 1.0)),
            message: message.into(),
        });
    }

    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        match level {
            LogLevel::Info => tracing::info!(task = %self.task, stage = %self.stage, "{message}"),
            LogLevel::Warn => tracing::warn!(task = %self.task, stage = %self.stage, "{message}"),
            LogLevel::Error => {
                tracing::error!(task = %self.task, stage = %self.stage, "{message}")
            }
        }
        self.emit(EventKind::Log { level, message });
    }

    /// Reports a model a stage is about to use (`None`: not a local model).
    pub fn model_ready(&self, loaded: Option<crate::providers::models::Loaded>) {
        if let Some(loaded) = loaded {
            self.emit(EventKind::ModelReady {
                model: loaded.model,
                load_ms: loaded.load_ms,
            });
        }
    }

    pub fn cache_hit(&self, kind: &str, saved_ms: u64) {
        self.emit(EventKind::CacheHit {
            kind: kind.to_string(),
            saved_ms,
        });
    }

    /// A cache lookup that found nothing: the work is done now (and cached for next time).
    pub fn cache_miss(&self, kind: &str) {
        self.emit(EventKind::CacheMiss {
            kind: kind.to_string(),
        });
    }

    /// Fails with `cancelled` if the run was cancelled; call between units of work.
    pub fn check_cancelled(&self) -> Result<(), StageError> {
        if self.cancel.is_cancelled() {
            Err(StageError::cancelled())
        } else {
            Ok(())
        }
    }
}
