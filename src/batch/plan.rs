//! What each entry of a batch run does: start a new task, resume an unfinished one, or keep
//! one finished by an earlier run of the same file (`--resume`). A batch's id names the file
//! (stem and a hash of its absolute path) and the run's start, so the latest run of a file
//! is found from the task records alone, with no state file to lose.

use super::BatchError;
use super::parse::Entry;
use crate::pipeline::TaskId;
use crate::pipeline::events::now_ms;
use crate::store::{BatchRef, TaskRecord, TaskState};
use std::collections::BTreeMap;
use std::path::Path;

/// How an entry gets its task in this run.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    /// No task yet (or the entry changed since the earlier run): submit its spec.
    Submit,
    /// An unfinished task of the earlier run: resume it (finished stages are kept).
    Resume(TaskId),
    /// Done in the earlier run: nothing to do.
    Keep(Box<TaskRecord>),
}

#[derive(Clone, Debug)]
pub struct PlannedEntry {
    /// Its `task.spec.batch` names this batch and entry.
    pub entry: Entry,
    pub start: Start,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub id: String,
    /// Whether this run continues an earlier one.
    pub resumed: bool,
    pub entries: Vec<PlannedEntry>,
}

/// `<file stem>-<hash of its absolute path>`: the part of a batch id that names the file.
pub fn batch_prefix(file: &Path) -> String {
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| super::spec::absolute(file));
    let hash = blake3::hash(absolute.as_os_str().as_encoded_bytes()).to_hex();
    let stem: String = file
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(24)
        .collect();
    let stem = if stem.is_empty() {
        "batch".into()
    } else {
        stem
    };
    format!("{stem}-{}", &hash.as_str()[..8])
}

/// A new id for a run of `file`, unique per start (milliseconds).
pub fn new_batch_id(file: &Path) -> String {
    format!("{}-{}", batch_prefix(file), now_ms())
}

/// Decides what each entry does. With `resume`, `records` (the task store) must hold an
/// earlier run of `file`; its latest run's id is kept so the batch stays one group.
pub fn plan_batch(
    entries: Vec<Entry>,
    file: &Path,
    resume: bool,
    records: &[TaskRecord],
) -> Result<Plan, BatchError> {
    let (id, earlier) = if resume {
        latest_run(file, records).ok_or_else(|| BatchError::NothingToResume {
            file: super::file_label(file),
        })?
    } else {
        (new_batch_id(file), BTreeMap::new())
    };
    let entries = entries
        .into_iter()
        .map(|mut entry| {
            entry.task.spec.batch = Some(BatchRef {
                id: id.clone(),
                entry: entry.number,
            });
            let start = match earlier.get(&entry.number) {
                // The file was edited since: the old task is not this entry's any more.
                Some(record) if record.spec != entry.task.spec => {
                    tracing::info!(
                        task = %record.id,
                        "batch entry {} changed since the earlier run: starting a new task",
                        entry.number
                    );
                    Start::Submit
                }
                Some(record) if record.state == TaskState::Done => {
                    Start::Keep(Box::new((*record).clone()))
                }
                Some(record) => Start::Resume(record.id.clone()),
                None => Start::Submit,
            };
            PlannedEntry { entry, start }
        })
        .collect();
    Ok(Plan {
        id,
        resumed: resume,
        entries,
    })
}

/// The id of the latest run of `file` and its tasks by entry number (the newest task of an
/// entry wins).
fn latest_run<'a>(
    file: &Path,
    records: &'a [TaskRecord],
) -> Option<(String, BTreeMap<usize, &'a TaskRecord>)> {
    let prefix = format!("{}-", batch_prefix(file));
    let mut runs: BTreeMap<&str, u64> = BTreeMap::new();
    for record in records {
        if let Some(batch) = &record.spec.batch
            && batch.id.starts_with(&prefix)
        {
            let latest = runs.entry(batch.id.as_str()).or_default();
            *latest = (*latest).max(record.created_ms);
        }
    }
    let (id, _) = runs.into_iter().max_by_key(|(_, created)| *created)?;
    let mut tasks: BTreeMap<usize, &TaskRecord> = BTreeMap::new();
    for record in records {
        if let Some(batch) = record.spec.batch.as_ref().filter(|b| b.id == id) {
            let newer = tasks
                .get(&batch.entry)
                .is_none_or(|t| t.created_ms <= record.created_ms);
            if newer {
                tasks.insert(batch.entry, record);
            }
        }
    }
    Some((id.to_string(), tasks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::spec::CheckedTask;
    use crate::config::Config;
    use crate::store::TaskSpec;

    fn entry(number: usize) -> Entry {
        Entry {
            number,
            line: Some(number),
            task: CheckedTask {
                spec: TaskSpec {
                    subject: format!("s{number}"),
                    ..TaskSpec::default()
                },
                config: Config::default(),
                local_footage: false,
            },
        }
    }

    fn record(id: &str, batch: &str, number: usize, state: TaskState, created: u64) -> TaskRecord {
        let spec = TaskSpec {
            subject: format!("s{number}"),
            batch: Some(BatchRef {
                id: batch.into(),
                entry: number,
            }),
            ..TaskSpec::default()
        };
        let mut record = TaskRecord::new(id.into(), spec);
        record.state = state;
        record.created_ms = created;
        record
    }

    #[test]
    fn resume_keeps_done_resumes_unfinished_and_submits_the_rest() {
        let file = Path::new("/tmp/reelforge-plan-test/tasks.jsonl");
        let prefix = batch_prefix(file);
        assert!(prefix.starts_with("tasks-"), "{prefix}");
        let old = format!("{prefix}-1");
        let new = format!("{prefix}-2");
        let records = vec![
            record("a", &old, 1, TaskState::Done, 1),
            record("b", &new, 1, TaskState::Done, 10),
            record("c", &new, 2, TaskState::Running, 11),
            record("d", "other-00000000-3", 3, TaskState::Done, 12),
        ];
        let plan = plan_batch(vec![entry(1), entry(2), entry(3)], file, true, &records)
            .expect("an earlier run");
        assert_eq!(plan.id, new);
        let starts: Vec<&Start> = plan.entries.iter().map(|p| &p.start).collect();
        assert!(matches!(starts[0], Start::Keep(r) if r.id == "b"));
        assert_eq!(starts[1], &Start::Resume("c".into()));
        assert_eq!(starts[2], &Start::Submit);
        assert!(matches!(
            plan_batch(
                vec![entry(1)],
                Path::new("/tmp/other.jsonl"),
                true,
                &records
            ),
            Err(BatchError::NothingToResume { .. })
        ));
    }
}
