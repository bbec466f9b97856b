//! ffmpeg and friends: running tools with cancellation, probing media, subtitle formats,
//! generated backgrounds and the single-pass render.

pub mod encoder;
pub mod generate;
pub mod keyframes;
pub mod probe;
pub mod render;
pub mod subtitle;
pub mod tool;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{tool} is not installed or not on PATH; {hint}")]
    ToolMissing { tool: String, hint: String },
    #[error("{tool} failed ({status}): {stderr_tail}")]
    Failed {
        tool: String,
        status: String,
        stderr_tail: String,
    },
    #[error("{path}: not a readable video or image: {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

/// Where a clip's pixels come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum ClipSource {
    /// A video file on disk.
    Video(PathBuf),
    /// A still image, shown for the whole cut.
    Image(PathBuf),
    /// An ffmpeg lavfi source description (generated background), rendered in the same pass.
    Lavfi(String),
}
