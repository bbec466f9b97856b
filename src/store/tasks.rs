//! Task records: each task's spec, and each stage's status, attempts, timings and outputs.
//!
//! The supervisor writes a record before announcing the change, and flushes in groups
//! (`flush`) so a `kill -9` loses at most transitions that were never announced.

use super::StoreError;
use crate::pipeline::Stage;
use crate::pipeline::events::now_ms;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the user asked for. Settings not named here come from the config in force.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub subject: String,
    /// A narration given by the user; the script stage then only splits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    pub aspect: String,
    /// A recorded narration given by the user: no synthesis, Whisper times it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narration: Option<PathBuf>,
    #[serde(default)]
    pub footage_dirs: Vec<PathBuf>,
    /// Where the finished video is copied (besides the task folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
    /// Stop after this stage (it and everything it needs run; the rest is skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_at: Option<Stage>,
    /// Per-task choices that override the config for this task only.
    #[serde(default, skip_serializing_if = "TaskOptions::is_empty")]
    pub options: TaskOptions,
    /// The batch this task belongs to; `None` for an interactive task (`make`, dashboard),
    /// which the scheduler serves before batch work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchRef>,
}

/// A task's place in a `reelforge batch` run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRef {
    /// The batch's id (shared by its tasks, shown as a group by the dashboard).
    pub id: String,
    /// The entry's line (JSON Lines) or position (TOML `[[task]]`), from 1.
    pub entry: usize,
}

/// Settings a user picks per task (dashboard form, `make` flags); `None` keeps the config's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOptions {
    /// `voice.provider` for this task: "piper" or "espeak".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// `footage.sources` for this task, in order (e.g. ["local", "generated"]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
    /// "none", or a music file, or a folder to pick a track from at random.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub music: Option<String>,
    /// A subtitle style preset (see `SUBTITLE_STYLES`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle_style: Option<String>,
    /// Videos made from the same materials, 1–5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_count: Option<u8>,
}

impl TaskOptions {
    pub fn is_empty(&self) -> bool {
        *self == TaskOptions::default()
    }
}

/// Subtitle style presets a task can name: each sets font size, colours, outline,
/// background and position over the config's `[subtitles]`.
pub const SUBTITLE_STYLES: &[&str] = &["classic", "boxed", "karaoke", "top", "minimal"];

impl TaskSpec {
    /// The stages this task runs, in topological order.
    pub fn planned_stages(&self) -> Vec<Stage> {
        match self.stop_at {
            Some(stage) => stage.with_upstream(),
            None => Stage::ALL.to_vec(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Pending,
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
    Skipped,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub status: StageStatus,
    /// Attempts made so far, over every run of this stage.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Output files, relative to the task folder.
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default)]
    pub summary: String,
}

impl StageRecord {
    pub fn new(status: StageStatus) -> Self {
        StageRecord {
            status,
            attempts: 0,
            started_ms: None,
            finished_ms: None,
            elapsed_ms: None,
            error: None,
            outputs: Vec::new(),
            summary: String::new(),
        }
    }

    /// Back to pending, keeping the attempt count (a retry continues the numbering).
    pub fn reset(&mut self) {
        *self = StageRecord {
            attempts: self.attempts,
            ..StageRecord::new(StageStatus::Pending)
        };
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Running,
    Done,
    Failed,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: String,
    pub created_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<u64>,
    pub spec: TaskSpec,
    pub state: TaskState,
    pub stages: BTreeMap<Stage, StageRecord>,
    /// The finished video (absolute path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TaskRecord {
    pub fn new(id: String, spec: TaskSpec) -> Self {
        let planned = spec.planned_stages();
        let stages = Stage::ALL
            .into_iter()
            .map(|stage| {
                let status = if planned.contains(&stage) {
                    StageStatus::Pending
                } else {
                    StageStatus::Skipped
                };
                (stage, StageRecord::new(status))
            })
            .collect();
        TaskRecord {
            id,
            created_ms: now_ms(),
            finished_ms: None,
            spec,
            state: TaskState::Running,
            stages,
            output: None,
            error: None,
        }
    }

    pub fn stage(&self, stage: Stage) -> &StageRecord {
        self.stages
            .get(&stage)
            .expect("every task record holds all seven stages")
    }

    pub fn stage_mut(&mut self, stage: Stage) -> &mut StageRecord {
        self.stages
            .get_mut(&stage)
            .expect("every task record holds all seven stages")
    }

    /// A stage is satisfied when it is done or not part of this task's plan.
    pub fn is_satisfied(&self, stage: Stage) -> bool {
        matches!(
            self.stage(stage).status,
            StageStatus::Done | StageStatus::Skipped
        )
    }

    /// Pending stages whose inputs are all ready.
    pub fn ready_stages(&self) -> Vec<Stage> {
        Stage::ALL
            .into_iter()
            .filter(|s| self.stage(*s).status == StageStatus::Pending)
            .filter(|s| s.deps().iter().all(|d| self.is_satisfied(*d)))
            .collect()
    }

    pub fn is_active(&self) -> bool {
        self.stages
            .values()
            .any(|r| matches!(r.status, StageStatus::Queued | StageStatus::Running))
    }

    pub fn all_done(&self) -> bool {
        Stage::ALL.into_iter().all(|s| self.is_satisfied(s))
    }

    /// A task left running by a process that is gone (crash, `kill -9`).
    pub fn is_interrupted(&self) -> bool {
        self.state == TaskState::Running
    }

    pub fn progress(&self) -> f32 {
        let planned: Vec<_> = self
            .stages
            .values()
            .filter(|r| r.status != StageStatus::Skipped)
            .collect();
        let done = planned
            .iter()
            .filter(|r| r.status == StageStatus::Done)
            .count();
        if planned.is_empty() {
            1.0
        } else {
            done as f32 / planned.len() as f32
        }
    }
}

#[derive(Clone)]
pub struct TaskStore {
    db: sled::Db,
    tree: sled::Tree,
    tasks_dir: PathBuf,
}

impl TaskStore {
    pub(super) fn new(db: sled::Db, tree: sled::Tree, tasks_dir: PathBuf) -> Self {
        TaskStore {
            db,
            tree,
            tasks_dir,
        }
    }

    /// The folder holding a task's files.
    pub fn task_dir(&self, id: &str) -> PathBuf {
        self.tasks_dir.join(id)
    }

    pub fn tasks_root(&self) -> &Path {
        &self.tasks_dir
    }

    pub fn put(&self, record: &TaskRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(|e| StoreError::Corrupt {
            key: record.id.clone(),
            message: e.to_string(),
        })?;
        self.tree
            .insert(record.id.as_bytes(), bytes)
            .map_err(|e| self.db_error(e))?;
        Ok(())
    }

    /// Makes every `put` so far durable (one fsync for a whole group of transitions).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(|e| self.db_error(e))
    }

    pub fn get(&self, id: &str) -> Result<TaskRecord, StoreError> {
        let bytes = self
            .tree
            .get(id.as_bytes())
            .map_err(|e| self.db_error(e))?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        decode(id, &bytes)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.tree.contains_key(id.as_bytes()).unwrap_or(false)
    }

    /// Every task, oldest first (ids sort by creation time).
    pub fn list(&self) -> Result<Vec<TaskRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.iter() {
            let (key, bytes) = item.map_err(|e| self.db_error(e))?;
            out.push(decode(&String::from_utf8_lossy(&key), &bytes)?);
        }
        Ok(out)
    }

    /// Removes the record and the task's folder.
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        let existed = self
            .tree
            .remove(id.as_bytes())
            .map_err(|e| self.db_error(e))?;
        if existed.is_none() {
            return Err(StoreError::NotFound(id.to_string()));
        }
        self.flush()?;
        let dir = self.task_dir(id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|source| StoreError::Io {
                context: format!("cannot remove {}", dir.display()),
                source,
            })?;
        }
        Ok(())
    }

    fn db_error(&self, e: sled::Error) -> StoreError {
        StoreError::Db {
            path: self.tasks_dir.clone(),
            message: e.to_string(),
        }
    }
}

fn decode(key: &str, bytes: &[u8]) -> Result<TaskRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn stop_at_skips_what_is_not_needed() {
        let spec = TaskSpec {
            subject: "s".into(),
            stop_at: Some(Stage::Subtitles),
            ..TaskSpec::default()
        };
        let record = TaskRecord::new("t".into(), spec);
        assert_eq!(record.stage(Stage::Footage).status, StageStatus::Skipped);
        assert_eq!(record.stage(Stage::Voice).status, StageStatus::Pending);
        assert_eq!(record.ready_stages(), vec![Stage::Script]);
    }

    #[test]
    fn records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let mut record = TaskRecord::new("20260101-000000-abcd".into(), TaskSpec::default());
            record.stage_mut(Stage::Script).status = StageStatus::Done;
            store.tasks.put(&record).unwrap();
            store.tasks.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let back = store.tasks.get("20260101-000000-abcd").unwrap();
        assert_eq!(back.stage(Stage::Script).status, StageStatus::Done);
        assert_eq!(back.ready_stages(), vec![Stage::Terms, Stage::Voice]);
        assert!(matches!(
            store.tasks.get("nope"),
            Err(StoreError::NotFound(_))
        ));
    }
}
