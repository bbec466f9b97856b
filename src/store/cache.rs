//! Content-addressed cache: key = blake3 of (kind, provider, model, version, canonical inputs).
//!
//! Small values live in sled; large ones as blobs under `cas/` named by their key. Each entry
//! remembers how long it took to compute, so a hit can report the time it saved.

use super::StoreError;
use crate::fsutil::write_atomic;
use crate::pipeline::events::now_ms;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Bumped when the meaning of cached values changes, so old entries stop matching.
const CACHE_FORMAT: u32 = 1;
/// Values above this size go to a blob file instead of the database.
const INLINE_LIMIT: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub kind: String,
    hash: String,
}

impl CacheKey {
    /// `inputs` is serialized as JSON; serde_json keeps struct field order, and maps should be
    /// `BTreeMap`s, so the same inputs always give the same bytes.
    pub fn new(kind: &str, provider: &str, model: &str, inputs: &impl Serialize) -> CacheKey {
        let mut hasher = blake3::Hasher::new();
        for part in [kind, provider, model, &CACHE_FORMAT.to_string()] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        let canonical = serde_json::to_vec(inputs).unwrap_or_default();
        hasher.update(&canonical);
        CacheKey {
            kind: kind.to_string(),
            hash: hasher.finalize().to_hex().to_string(),
        }
    }

    pub fn hex(&self) -> &str {
        &self.hash
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    kind: String,
    created_ms: u64,
    cost_ms: u64,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inline: Option<Vec<u8>>,
}

pub struct CachedValue {
    pub bytes: Vec<u8>,
    /// How long computing it took when it was stored: the time this hit saves.
    pub cost_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KindStats {
    pub entries: u64,
    pub bytes: u64,
    pub saved_ms_per_hit: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheStats {
    pub kinds: BTreeMap<String, KindStats>,
}

#[derive(Clone)]
pub struct Cache {
    db: sled::Db,
    tree: sled::Tree,
    blobs: PathBuf,
}

impl Cache {
    pub(super) fn new(db: sled::Db, tree: sled::Tree, blobs: PathBuf) -> Self {
        Cache { db, tree, blobs }
    }

    pub fn get(&self, key: &CacheKey) -> Option<CachedValue> {
        self.get_within(key, None)
    }

    /// Like [`Cache::get`], but an entry older than `max_age` is a miss (search results).
    pub fn get_fresh(&self, key: &CacheKey, max_age: Duration) -> Option<CachedValue> {
        self.get_within(key, Some(max_age))
    }

    fn get_within(&self, key: &CacheKey, max_age: Option<Duration>) -> Option<CachedValue> {
        let raw = self.tree.get(key.hex().as_bytes()).ok()??;
        let entry: Entry = serde_json::from_slice(&raw).ok()?;
        if let Some(max_age) = max_age
            && now_ms().saturating_sub(entry.created_ms) > max_age.as_millis() as u64
        {
            return None;
        }
        let bytes = match entry.inline {
            Some(bytes) => bytes,
            // A blob removed by hand is a miss, not an error.
            None => std::fs::read(self.blob_path(key)).ok()?,
        };
        Some(CachedValue {
            bytes,
            cost_ms: entry.cost_ms,
        })
    }

    pub fn put(&self, key: &CacheKey, bytes: &[u8], cost_ms: u64) -> Result<(), StoreError> {
        let inline = if bytes.len() <= INLINE_LIMIT {
            Some(bytes.to_vec())
        } else {
            let path = self.blob_path(key);
            write_atomic(&path, bytes).map_err(|source| StoreError::Io {
                context: format!("cannot write cache blob {}", path.display()),
                source,
            })?;
            None
        };
        let entry = Entry {
            kind: key.kind.clone(),
            created_ms: now_ms(),
            cost_ms,
            size: bytes.len() as u64,
            inline,
        };
        let raw = serde_json::to_vec(&entry).map_err(|e| StoreError::Corrupt {
            key: key.hex().to_string(),
            message: e.to_string(),
        })?;
        self.tree
            .insert(key.hex().as_bytes(), raw)
            .map_err(|e| self.db_error(e))?;
        Ok(())
    }

    pub fn remove(&self, key: &CacheKey) {
        let _ = self.tree.remove(key.hex().as_bytes());
        let _ = std::fs::remove_file(self.blob_path(key));
    }

    pub fn stats(&self) -> Result<CacheStats, StoreError> {
        let mut stats = CacheStats::default();
        for item in self.tree.iter() {
            let (_, raw) = item.map_err(|e| self.db_error(e))?;
            let Ok(entry) = serde_json::from_slice::<Entry>(&raw) else {
                continue;
            };
            let kind = stats.kinds.entry(entry.kind).or_default();
            kind.entries += 1;
            kind.bytes += entry.size;
            kind.saved_ms_per_hit += entry.cost_ms;
        }
        for kind in stats.kinds.values_mut() {
            kind.saved_ms_per_hit /= kind.entries.max(1);
        }
        Ok(stats)
    }

    /// Removes every entry and blob; returns how many entries there were.
    pub fn clear(&self) -> Result<usize, StoreError> {
        let count = self.tree.len();
        self.tree.clear().map_err(|e| self.db_error(e))?;
        self.db.flush().map_err(|e| self.db_error(e))?;
        if self.blobs.exists() {
            std::fs::remove_dir_all(&self.blobs).map_err(|source| StoreError::Io {
                context: format!("cannot remove {}", self.blobs.display()),
                source,
            })?;
        }
        Ok(count)
    }

    fn blob_path(&self, key: &CacheKey) -> PathBuf {
        self.blobs.join(&key.hex()[..2]).join(key.hex())
    }

    fn db_error(&self, e: sled::Error) -> StoreError {
        StoreError::Db {
            path: self.blobs.clone(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn key_depends_on_every_part() {
        let a = CacheKey::new("llm", "openai", "m1", &("hello",));
        assert_eq!(a, CacheKey::new("llm", "openai", "m1", &("hello",)));
        assert_ne!(a, CacheKey::new("llm", "openai", "m2", &("hello",)));
        assert_ne!(a, CacheKey::new("terms", "openai", "m1", &("hello",)));
        assert_ne!(a, CacheKey::new("llm", "openai", "m1", &("hello!",)));
        // Length-prefixing keeps ("ab","c") apart from ("a","bc").
        assert_ne!(
            CacheKey::new("ab", "c", "", &()),
            CacheKey::new("a", "bc", "", &())
        );
    }

    #[test]
    fn inline_and_blob_round_trip_with_stats() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let small = CacheKey::new("llm", "p", "m", &"small");
        let large = CacheKey::new("voice", "p", "m", &"large");
        store.cache.put(&small, b"reply", 1200).unwrap();
        store.cache.put(&large, &vec![7u8; 100_000], 300).unwrap();
        let hit = store.cache.get(&small).unwrap();
        assert_eq!((hit.bytes.as_slice(), hit.cost_ms), (&b"reply"[..], 1200));
        assert_eq!(store.cache.get(&large).unwrap().bytes.len(), 100_000);
        let stats = store.cache.stats().unwrap();
        assert_eq!(stats.kinds["llm"].entries, 1);
        assert_eq!(stats.kinds["voice"].bytes, 100_000);
        assert!(
            store
                .cache
                .get_fresh(&small, Duration::from_secs(60))
                .is_some()
        );
        std::thread::sleep(Duration::from_millis(5));
        assert!(store.cache.get_fresh(&small, Duration::ZERO).is_none());
        assert_eq!(store.cache.clear().unwrap(), 2);
        assert!(store.cache.get(&small).is_none());
    }
}
