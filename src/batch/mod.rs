//! Many tasks from one file (`reelforge batch FILE`), with no terminal in sight: reading and
//! checking the entries (`parse`, `fields`), the task checks `make` shares (`spec`), finding
//! an earlier run of the same file to resume (`plan`), running at most N tasks at once
//! (`run`), and the summary (`summary`).
//!
//! Every entry is checked before anything starts, and every problem is reported with the
//! file, the line and the key, so one pass over the errors fixes the whole file.

mod fields;
mod parse;
mod plan;
mod run;
pub mod spec;
mod summary;

pub use parse::{Entry, load_entries};
pub use plan::{Plan, PlannedEntry, Start, batch_prefix, new_batch_id, plan_batch};
pub use run::{BatchEvent, run_batch};
pub use spec::{CheckedTask, Field, Naming, ScriptSource, SpecError, TaskRequest, check_task};
pub use summary::{Counts, EntryResult, EntryState, Summary};

use crate::pipeline::PipelineError;
use crate::store::StoreError;
use std::path::PathBuf;

/// The most entries one batch file may hold.
pub const MAX_ENTRIES: usize = 1000;

/// The most tasks of a batch running at once.
pub const MAX_CONCURRENT: usize = 64;

/// One entry's problem: where it is and what is wrong (the message names the key).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file} {place}: {message}")]
pub struct EntryError {
    /// The batch file as the user named it.
    pub file: String,
    /// "line 3", or "task 2" where no line is known.
    pub place: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot read the batch file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: a batch file is JSON Lines (.jsonl or .ndjson, one task object per line) or TOML (.toml, one [[task]] table per task)"
    )]
    Format { path: PathBuf },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error(
        "{file} has no tasks: write one task per entry, e.g. {{\"subject\": \"Why do cats purr?\"}} (JSON Lines) or [[task]] subject = \"Why do cats purr?\" (TOML)"
    )]
    Empty { file: String },
    #[error("{file} has {count} tasks; a batch takes at most 1 000: split it into several files")]
    TooMany { file: String, count: usize },
    #[error("{}", invalid_text(.file, *.total, .errors))]
    Invalid {
        file: String,
        total: usize,
        errors: Vec<EntryError>,
    },
    #[error(
        "--resume: no earlier batch of {file} in this data folder: run `reelforge batch {file}` without --resume"
    )]
    NothingToResume { file: String },
    #[error("--max-concurrent {0}: use 1 to 64 tasks at once")]
    Concurrency(usize),
    #[error("cannot write the batch summary {path}: {source}")]
    Summary {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid_text(file: &str, total: usize, errors: &[EntryError]) -> String {
    let mut entries: Vec<&str> = errors.iter().map(|e| e.place.as_str()).collect();
    entries.dedup();
    let mut text = format!(
        "{file}: {} of {total} entries {} wrong, nothing was started; fix {}:",
        entries.len(),
        if entries.len() == 1 { "is" } else { "are" },
        if errors.len() == 1 { "this" } else { "these" },
    );
    for error in errors {
        text += &format!("\n  {error}");
    }
    text
}

/// The batch file as the user named it, for messages.
pub(crate) fn file_label(path: &std::path::Path) -> String {
    path.display().to_string()
}
