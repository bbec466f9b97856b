//! How a stage run fails: transient (retried with backoff), permanent, or cancelled.

use crate::media::MediaError;
use crate::providers::ProviderError;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub enum FailureKind {
    Transient { retry_after: Option<Duration> },
    Permanent,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    pub kind: FailureKind,
    pub message: String,
}

impl StageError {
    pub fn permanent(message: impl Into<String>) -> Self {
        StageError {
            kind: FailureKind::Permanent,
            message: message.into(),
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        StageError {
            kind: FailureKind::Transient { retry_after: None },
            message: message.into(),
        }
    }

    pub fn cancelled() -> Self {
        StageError {
            kind: FailureKind::Cancelled,
            message: "cancelled".into(),
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.kind == FailureKind::Cancelled
    }

    pub fn is_transient(&self) -> bool {
        matches!(self.kind, FailureKind::Transient { .. })
    }
}

impl From<ProviderError> for StageError {
    fn from(err: ProviderError) -> Self {
        let kind = if matches!(err, ProviderError::Cancelled) {
            FailureKind::Cancelled
        } else if err.is_transient() {
            FailureKind::Transient {
                retry_after: err.retry_after(),
            }
        } else {
            FailureKind::Permanent
        };
        StageError {
            kind,
            message: err.to_string(),
        }
    }
}

impl From<MediaError> for StageError {
    fn from(err: MediaError) -> Self {
        let kind = match &err {
            MediaError::Cancelled => FailureKind::Cancelled,
            _ => FailureKind::Permanent,
        };
        StageError {
            kind,
            message: err.to_string(),
        }
    }
}
