//! Persistence: the sled task store, the content-addressed cache and the timing history,
//! sharing one database.
//!
//! sled stays behind this small interface so it can be swapped without touching stages.

pub mod cache;
pub mod tasks;
pub mod timings;

pub use cache::{Cache, CacheKey, CacheStats};
pub use tasks::{
    BatchRef, SUBTITLE_STYLES, StageRecord, StageStatus, TaskOptions, TaskRecord, TaskSpec,
    TaskState, TaskStore,
};
pub use timings::{CacheUse, StageTiming, TimingStore};

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the task store at {path} is in use by another reelforge process; wait for it to finish or stop it"
    )]
    Locked { path: PathBuf },
    #[error("task store at {path}: {message}")]
    Db { path: PathBuf, message: String },
    #[error("task '{0}' not found; `reelforge tasks list` shows the known tasks")]
    NotFound(String),
    #[error("task store record '{key}' is damaged: {message}")]
    Corrupt { key: String, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// The opened data directory: database, blobs and task folders.
#[derive(Clone)]
pub struct Store {
    pub tasks: TaskStore,
    pub cache: Cache,
    pub timings: TimingStore,
    root: PathBuf,
}

impl Store {
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let db_path = data_dir.join("db");
        std::fs::create_dir_all(&db_path).map_err(|source| StoreError::Io {
            context: format!("cannot create {}", db_path.display()),
            source,
        })?;
        let db = sled::Config::new()
            .path(&db_path)
            .flush_every_ms(Some(1000))
            .open()
            .map_err(|e| map_sled_open(&db_path, e))?;
        let db_err = |e: sled::Error| StoreError::Db {
            path: db_path.clone(),
            message: e.to_string(),
        };
        let tasks = TaskStore::new(
            db.clone(),
            db.open_tree("tasks").map_err(db_err)?,
            data_dir.join("tasks"),
        );
        let cache = Cache::new(
            db.clone(),
            db.open_tree("cache").map_err(db_err)?,
            data_dir.join("cas"),
        );
        let timings = TimingStore::new(db.open_tree("timings").map_err(db_err)?, db_path.clone());
        Ok(Store {
            tasks,
            cache,
            timings,
            root: data_dir.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn map_sled_open(path: &Path, err: sled::Error) -> StoreError {
    let message = err.to_string();
    // sled reports a held file lock as an I/O error "could not acquire lock" (WouldBlock).
    if message.contains("lock") || message.contains("WouldBlock") {
        StoreError::Locked {
            path: path.to_path_buf(),
        }
    } else {
        StoreError::Db {
            path: path.to_path_buf(),
            message,
        }
    }
}
