//! Atomic file writes: nothing half-written ever carries a final name.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary name used while `path` is being written: `name.ext.part`.
pub fn part_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    path.with_file_name(name)
}

/// Writes `bytes` to `path.part`, fsyncs, then renames over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let part = part_path(path);
    let result = (|| {
        let mut file = std::fs::File::create(&part)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&part, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    write_atomic(path, &bytes)
}

/// Reads and parses a JSON file, naming the file in the error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{} is not valid: {e}", path.display()))
}

/// Renames a finished `*.part` file to its final name after fsyncing it.
pub fn commit_part(part: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::File::open(part)?.sync_all()?;
    std::fs::rename(part, path)
}

/// Deletes a `*.part` file when dropped unless `commit` ran: a cancelled future (dropped at
/// an await point) therefore never leaves a half-written file behind.
pub struct PartGuard {
    part: PathBuf,
    committed: bool,
}

impl PartGuard {
    /// Guards the `*.part` companion of `final_path`.
    pub fn for_final(final_path: &Path) -> Self {
        PartGuard {
            part: part_path(final_path),
            committed: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.part
    }

    /// Fsyncs the part file and renames it to `final_path`.
    pub fn commit(mut self, final_path: &Path) -> std::io::Result<()> {
        commit_part(&self.part, final_path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartGuard {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Removes every `*.part` file directly inside `dir` (left by a cancelled or killed stage).
pub fn remove_part_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "part") && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_part_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.json");
        write_json_atomic(&target, &serde_json::json!({"k": 1})).unwrap();
        assert!(target.exists());
        assert!(!part_path(&target).exists());
        let back: serde_json::Value = read_json(&target).unwrap();
        assert_eq!(back["k"], 1);
    }

    #[test]
    fn part_guard_removes_uncommitted_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("video.mp4");
        {
            let guard = PartGuard::for_final(&target);
            std::fs::write(guard.path(), b"half").unwrap();
        }
        assert!(!part_path(&target).exists() && !target.exists());
        let guard = PartGuard::for_final(&target);
        std::fs::write(guard.path(), b"whole").unwrap();
        guard.commit(&target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    }

    #[test]
    fn remove_part_files_only_touches_part_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.mp4.part"), b"half").unwrap();
        std::fs::write(dir.path().join("keep.mp4"), b"whole").unwrap();
        assert_eq!(remove_part_files(dir.path()), 1);
        assert!(dir.path().join("keep.mp4").exists());
    }
}
