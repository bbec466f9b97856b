//! Timing history: one record per finished stage run (wall time, CPU time, bytes written,
//! cache use, memory), kept in sled in the order the runs finished, for `reelforge report`.

use super::StoreError;
use crate::pipeline::Stage;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// Cache lookups of one kind during one stage run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheUse {
    pub hits: u32,
    pub misses: u32,
    /// Time the hits saved (what computing them cost when they were stored).
    pub saved_ms: u64,
}

/// One successful stage run of one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageTiming {
    pub task: String,
    pub stage: Stage,
    /// Milliseconds since the Unix epoch: the first start of the run (queueing excluded)
    /// and its end.
    pub started_ms: u64,
    pub finished_ms: u64,
    /// Wall time of the run, retries and their back-off included.
    pub wall_ms: u64,
    /// CPU time of the process and its child processes (ffmpeg, espeak-ng) while the stage
    /// ran, shared equally among the stages running at the same moment: an estimate when
    /// stages overlap, exact when the stage ran alone.
    pub cpu_ms: u64,
    /// Size of the files the stage wrote.
    pub bytes: u64,
    /// Cache lookups by kind ("llm", "tts", "search", "clips", "embedding", …).
    #[serde(default)]
    pub cache: BTreeMap<String, CacheUse>,
    /// The process's largest resident memory seen while the stage ran, bytes.
    pub peak_rss_bytes: u64,
    pub attempts: u32,
    /// The batch the task belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

impl StageTiming {
    /// True when every cache lookup of the run hit (and there was at least one).
    pub fn cache_hit(&self) -> bool {
        let (hits, misses) = self
            .cache
            .values()
            .fold((0, 0), |(h, m), c| (h + c.hits, m + c.misses));
        hits > 0 && misses == 0
    }
}

#[derive(Clone)]
pub struct TimingStore {
    tree: sled::Tree,
    path: PathBuf,
}

impl TimingStore {
    pub(super) fn new(tree: sled::Tree, path: PathBuf) -> Self {
        TimingStore { tree, path }
    }

    /// Appends a record; it becomes durable with the next flush of the database (the
    /// supervisor flushes after each batch of transitions).
    pub fn record(&self, timing: &StageTiming) -> Result<(), StoreError> {
        let value = serde_json::to_vec(timing).map_err(|e| StoreError::Corrupt {
            key: format!("timing {}/{}", timing.task, timing.stage),
            message: e.to_string(),
        })?;
        self.tree
            .insert(key(timing), value)
            .map_err(|e| self.db_error(e))?;
        Ok(())
    }

    /// Every record, in the order the runs finished.
    pub fn all(&self) -> Result<Vec<StageTiming>, StoreError> {
        self.tree
            .iter()
            .map(|item| {
                let (key, bytes) = item.map_err(|e| self.db_error(e))?;
                decode(&key, &bytes)
            })
            .collect()
    }

    /// The records of the `tasks` tasks that finished a stage most recently, in finishing
    /// order. A task run twice (resume, retry) contributes every run's records.
    pub fn last_tasks(&self, tasks: usize) -> Result<Vec<StageTiming>, StoreError> {
        let mut wanted: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        for item in self.tree.iter().rev() {
            let (key, bytes) = item.map_err(|e| self.db_error(e))?;
            let timing = decode(&key, &bytes)?;
            if !wanted.contains(&timing.task) {
                if wanted.len() == tasks {
                    continue;
                }
                wanted.insert(timing.task.clone());
            }
            out.push(timing);
        }
        out.reverse();
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    fn db_error(&self, e: sled::Error) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }
}

/// Finish time first (big-endian, so sled's order is time order), then task and stage so
/// two runs finishing in the same millisecond never collide.
fn key(timing: &StageTiming) -> Vec<u8> {
    let mut key = timing.finished_ms.to_be_bytes().to_vec();
    key.extend_from_slice(timing.task.as_bytes());
    key.push(b'/');
    key.extend_from_slice(timing.stage.name().as_bytes());
    key
}

fn decode(key: &[u8], bytes: &[u8]) -> Result<StageTiming, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: format!(
            "timing {}",
            String::from_utf8_lossy(key.get(8..).unwrap_or(key))
        ),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(task: &str, stage: Stage, finished_ms: u64) -> StageTiming {
        StageTiming {
            task: task.into(),
            stage,
            started_ms: finished_ms - 10,
            finished_ms,
            wall_ms: 10,
            cpu_ms: 5,
            bytes: 100,
            cache: BTreeMap::new(),
            peak_rss_bytes: 1 << 20,
            attempts: 1,
            batch: None,
        }
    }

    #[test]
    fn last_tasks_keeps_finishing_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(dir.path()).unwrap();
        let t = &store.timings;
        t.record(&timing("a", Stage::Script, 100)).unwrap();
        t.record(&timing("b", Stage::Script, 150)).unwrap();
        t.record(&timing("a", Stage::Voice, 200)).unwrap();
        t.record(&timing("c", Stage::Script, 300)).unwrap();
        assert_eq!(t.all().unwrap().len(), 4);
        let last: Vec<(String, Stage)> = t
            .last_tasks(2)
            .unwrap()
            .into_iter()
            .map(|x| (x.task, x.stage))
            .collect();
        assert_eq!(
            last,
            vec![
                ("a".into(), Stage::Script),
                ("a".into(), Stage::Voice),
                ("c".into(), Stage::Script)
            ]
        );
    }

    #[test]
    fn cache_hit_means_every_lookup_hit() {
        let mut t = timing("a", Stage::Terms, 10);
        assert!(!t.cache_hit());
        t.cache.insert(
            "llm".into(),
            CacheUse {
                hits: 1,
                misses: 0,
                saved_ms: 40,
            },
        );
        assert!(t.cache_hit());
        t.cache.entry("search".into()).or_default().misses = 1;
        assert!(!t.cache_hit());
    }
}
