//! The engine: a supervisor actor, one actor per stage, and the events they emit.

pub mod error;
pub mod events;
pub mod stage;

pub use error::{FailureKind, StageError};
pub use events::{Event, EventKind, LogLevel, TaskId};
pub use stage::Stage;
