//! The timing history turned into figures and a chart, for `reelforge report`: `stats`
//! (percentiles, critical-path shares, cache rates), `spans` (critical path, bottleneck and
//! overlaps over stage intervals, shared with the dashboard) and `svg` (the chart).
//!
//! Nothing here prints or touches a terminal; `cli::report` does that.

pub mod spans;
pub mod stats;
pub mod svg;

pub use stats::{Summary, summarize};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write the chart {path}: {source}")]
    Chart {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
