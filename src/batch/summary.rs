//! The end of a batch run: per entry its state, the stage that failed and why, the videos,
//! the time it took; counts and the wall time. Written as JSON (the CLI prints it as a table).

use super::BatchError;
use super::parse::Entry;
use crate::pipeline::events::now_ms;
use crate::pipeline::{Stage, TaskId};
use crate::store::{StageStatus, TaskRecord, TaskState};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Done,
    Failed,
    Cancelled,
    /// Interrupted before its task was started.
    NotStarted,
}

impl EntryState {
    pub fn word(self) -> &'static str {
        match self {
            EntryState::Done => "done",
            EntryState::Failed => "failed",
            EntryState::Cancelled => "cancelled",
            EntryState::NotStarted => "not started",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryResult {
    /// The entry's number in the batch (`BatchRef::entry`).
    pub entry: usize,
    /// The line it starts on in the batch file, when known.
    #[serde(default)]
    pub line: Option<usize>,
    pub subject: String,
    #[serde(default)]
    pub task: Option<TaskId>,
    pub state: EntryState,
    /// Finished by an earlier run of this batch (`--resume` kept it).
    #[serde(default)]
    pub kept: bool,
    #[serde(default)]
    pub failed_stage: Option<Stage>,
    #[serde(default)]
    pub error: Option<String>,
    /// The finished video (`out` when given).
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// Every video the task rendered, in its task folder.
    #[serde(default)]
    pub videos: Vec<PathBuf>,
    #[serde(default)]
    pub elapsed_ms: Option<u64>,
}

impl EntryResult {
    fn base(entry: &Entry, state: EntryState) -> Self {
        EntryResult {
            entry: entry.number,
            line: entry.line,
            subject: entry.task.spec.subject.clone(),
            task: None,
            state,
            kept: false,
            failed_stage: None,
            error: None,
            output: None,
            videos: Vec::new(),
            elapsed_ms: None,
        }
    }

    pub fn not_started(entry: &Entry) -> Self {
        Self::base(entry, EntryState::NotStarted)
    }

    /// A task that could not be submitted or resumed.
    pub fn start_failed(entry: &Entry, task: Option<TaskId>, error: String) -> Self {
        EntryResult {
            task,
            error: Some(error),
            ..Self::base(entry, EntryState::Failed)
        }
    }

    /// Where `record`'s task ended; `elapsed_ms` is its time in this run (`None`: taken from
    /// the record, for a task an earlier run finished).
    pub fn from_record(
        entry: &Entry,
        record: &TaskRecord,
        task_dir: &Path,
        elapsed_ms: Option<u64>,
        kept: bool,
    ) -> Self {
        let state = match record.state {
            TaskState::Done => EntryState::Done,
            TaskState::Failed => EntryState::Failed,
            // A task still marked running was stopped without settling: it did not finish.
            TaskState::Cancelled | TaskState::Running => EntryState::Cancelled,
        };
        let failed = Stage::ALL
            .into_iter()
            .find(|s| record.stage(*s).status == StageStatus::Failed);
        let error = failed
            .and_then(|s| record.stage(s).error.clone())
            .or_else(|| record.error.clone())
            .filter(|_| state != EntryState::Done);
        let render = record.stage(Stage::Render);
        let videos = if render.status == StageStatus::Done {
            render.outputs.iter().map(|f| task_dir.join(f)).collect()
        } else {
            Vec::new()
        };
        let elapsed_ms = elapsed_ms.or_else(|| {
            let start = record.stages.values().filter_map(|s| s.started_ms).min()?;
            Some(record.finished_ms?.saturating_sub(start))
        });
        EntryResult {
            task: Some(record.id.clone()),
            kept,
            failed_stage: failed,
            error,
            output: record.output.clone(),
            videos,
            elapsed_ms,
            ..Self::base(entry, state)
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: usize,
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub not_started: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub batch: String,
    pub file: PathBuf,
    /// This run's start and end, ms since the epoch.
    pub started_ms: u64,
    pub finished_ms: u64,
    pub wall_ms: u64,
    pub max_concurrent: usize,
    /// Whether this run continued an earlier one (`--resume`).
    pub resumed: bool,
    /// Whether Ctrl-C stopped it (`--resume` continues it).
    pub interrupted: bool,
    pub counts: Counts,
    /// In the file's order.
    pub entries: Vec<EntryResult>,
}

impl Summary {
    pub fn new(
        batch: String,
        file: PathBuf,
        started_ms: u64,
        max_concurrent: usize,
        resumed: bool,
        interrupted: bool,
        mut entries: Vec<EntryResult>,
    ) -> Self {
        entries.sort_by_key(|e| e.entry);
        let count = |state| entries.iter().filter(|e| e.state == state).count();
        let counts = Counts {
            total: entries.len(),
            done: count(EntryState::Done),
            failed: count(EntryState::Failed),
            cancelled: count(EntryState::Cancelled),
            not_started: count(EntryState::NotStarted),
        };
        let finished_ms = now_ms();
        Summary {
            batch,
            file,
            started_ms,
            finished_ms,
            wall_ms: finished_ms.saturating_sub(started_ms),
            max_concurrent,
            resumed,
            interrupted,
            counts,
            entries,
        }
    }

    pub fn all_done(&self) -> bool {
        self.counts.done == self.counts.total
    }

    /// Writes the summary as JSON; a reader never sees half a file.
    pub fn write(&self, path: &Path) -> Result<(), BatchError> {
        crate::fsutil::write_json_atomic(path, self).map_err(|source| BatchError::Summary {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::spec::CheckedTask;
    use crate::config::Config;
    use crate::store::TaskSpec;

    #[test]
    fn a_failed_task_names_its_stage_and_error_and_counts_add_up() {
        let entry = Entry {
            number: 2,
            line: Some(2),
            task: CheckedTask {
                spec: TaskSpec {
                    subject: "cats".into(),
                    ..TaskSpec::default()
                },
                config: Config::default(),
                local_footage: false,
            },
        };
        let mut record = TaskRecord::new("t".into(), entry.task.spec.clone());
        record.state = TaskState::Failed;
        record.stage_mut(Stage::Footage).status = StageStatus::Failed;
        record.stage_mut(Stage::Footage).error = Some("no clips".into());
        let failed = EntryResult::from_record(&entry, &record, Path::new("/t"), Some(5), false);
        assert_eq!(failed.failed_stage, Some(Stage::Footage));
        assert_eq!(failed.error.as_deref(), Some("no clips"));
        let summary = Summary::new(
            "b".into(),
            "f.jsonl".into(),
            now_ms(),
            2,
            false,
            false,
            vec![failed, EntryResult::not_started(&entry)],
        );
        assert_eq!(summary.counts.failed, 1);
        assert_eq!(summary.counts.not_started, 1);
        assert!(!summary.all_done());
    }
}
