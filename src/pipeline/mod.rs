//! The engine: a supervisor actor, one actor per stage, and the events they emit.
//!
//! Nothing here knows about terminals: the CLI and the dashboard are two views of the same
//! event stream.

pub mod actor;
pub mod error;
pub mod events;
pub mod handle;
pub mod job;
pub mod schedule;
pub mod stage;
pub mod stages;
mod supervisor;
mod task_id;

pub use crate::retry::RetryPolicy;
pub use error::{FailureKind, StageError};
pub use events::{Event, EventKind, LogLevel, TaskId};
pub use handle::{EngineSettings, Pipeline, PipelineError, PipelineHandle, StageSet};
pub use job::{JobCtx, StageOutput, StageWork};
pub use stage::Stage;
