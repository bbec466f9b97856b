//! What a local clip shows, from what people wrote about it: a `<name>.json` sidecar beside
//! the file, a folder-level `clip.json` keyed by file name, or else the file name itself.
//!
//! Metadata is read fresh on every scan, never indexed: it is a few small files, and an edited
//! description must take effect at once without probing the clip again.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The folder-level metadata file: `{"waves.mp4": {"title": ..., "description": ..., "tags": [...]}}`.
pub(super) const FOLDER_FILE: &str = "clip.json";

#[derive(Clone, Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// The words a clip ends up with.
#[derive(Debug, PartialEq)]
pub(super) struct Described {
    pub description: String,
    pub tags: Vec<String>,
}

/// One folder's `clip.json`, and which of its entries matched a file (to point out typos).
#[derive(Default)]
struct Folder {
    entries: BTreeMap<String, Meta>,
    used: BTreeSet<String>,
}

/// Metadata for one scan: each folder's `clip.json` is read once, however many clips it has.
#[derive(Default)]
pub(super) struct Library {
    folders: HashMap<PathBuf, Folder>,
    notes: Vec<String>,
}

impl Library {
    /// Sidecar fields win over the folder's `clip.json`, field by field (a sidecar that only
    /// sets tags keeps the folder's description); with neither, the file name is used.
    pub fn describe(&mut self, path: &Path) -> Described {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let from_folder = path.parent().and_then(|dir| {
            let folder = self.folder(dir);
            let entry = folder.entries.get(&name).cloned();
            if entry.is_some() {
                folder.used.insert(name.clone());
            }
            entry
        });
        let mut meta = from_folder.unwrap_or_default();
        if let Some(own) = self.sidecar(path) {
            if !own.title.trim().is_empty() {
                meta.title = own.title;
            }
            if !own.description.trim().is_empty() {
                meta.description = own.description;
            }
            if own.tags.iter().any(|t| !t.trim().is_empty()) {
                meta.tags = own.tags;
            }
        }
        let tags: Vec<String> = meta
            .tags
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        let description = [meta.title, meta.description, tags.join(", ")]
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(". ");
        Described {
            description: if description.is_empty() {
                words_of_name(path)
            } else {
                description
            },
            tags,
        }
    }

    /// Notes for the user: unusable metadata files, and `clip.json` entries that matched no
    /// clip (usually a misspelt file name, which would otherwise go unnoticed).
    pub fn into_notes(self) -> Vec<String> {
        let mut notes = self.notes;
        let mut folders: Vec<_> = self.folders.into_iter().collect();
        folders.sort_by(|a, b| a.0.cmp(&b.0));
        for (dir, folder) in folders {
            for name in folder.entries.keys().filter(|n| !folder.used.contains(*n)) {
                notes.push(format!(
                    "{} describes {name}, which is not a video or image in that folder",
                    dir.join(FOLDER_FILE).display()
                ));
            }
        }
        notes
    }

    fn folder(&mut self, dir: &Path) -> &mut Folder {
        let notes = &mut self.notes;
        self.folders
            .entry(dir.to_path_buf())
            .or_insert_with(|| read_folder(dir, notes))
    }

    fn sidecar(&mut self, path: &Path) -> Option<Meta> {
        let sidecar = path.with_extension("json");
        // A clip named `clip.*` would claim the folder file as its sidecar; that file has the
        // folder's meaning.
        if sidecar.file_name().is_some_and(|n| n == FOLDER_FILE) {
            return None;
        }
        let bytes = read_if_there(&sidecar, &mut self.notes)?;
        match serde_json::from_slice(&bytes) {
            Ok(meta) => Some(meta),
            Err(e) => {
                self.notes.push(format!(
                    "ignored {}: not a clip description ({e}); expected {{\"title\", \"description\", \"tags\"}}",
                    sidecar.display()
                ));
                None
            }
        }
    }
}

/// A missing `clip.json` is normal; an unreadable or malformed one is a note, and the
/// folder's clips fall back to their sidecars and names rather than failing the scan.
fn read_folder(dir: &Path, notes: &mut Vec<String>) -> Folder {
    let file = dir.join(FOLDER_FILE);
    let Some(bytes) = read_if_there(&file, notes) else {
        return Folder::default();
    };
    match serde_json::from_slice(&bytes) {
        Ok(entries) => Folder {
            entries,
            used: BTreeSet::new(),
        },
        Err(e) => {
            notes.push(format!(
                "ignored {}: {e}; it should be an object keyed by file name, like \
                 {{\"waves.mp4\": {{\"title\": \"...\", \"description\": \"...\", \"tags\": [\"...\"]}}}}",
                file.display()
            ));
            Folder::default()
        }
    }
}

/// The file's bytes; `None` when it does not exist (the usual case) or cannot be read (noted).
fn read_if_there(path: &Path, notes: &mut Vec<String>) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            notes.push(format!("ignored {}: cannot read it: {e}", path.display()));
            None
        }
    }
}

/// "ocean_waves-at_sunset_1234.mp4" → "ocean waves at sunset": separators become spaces and
/// bare numbers (camera counters, ids) are dropped because they say nothing about the content.
fn words_of_name(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem.split(['_', '-', '.', ' '])
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(description: &str, tags: &[&str]) -> Described {
        Described {
            description: description.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn sidecar_beats_folder_file_beats_name() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        std::fs::write(
            at(FOLDER_FILE),
            r#"{"cat.mp4": {"description": "a cat on a sofa", "tags": ["cat", "pet"]},
                "dog.mp4": {"title": "Dog", "description": "a dog running"},
                "gone.mp4": {"description": "deleted long ago"}}"#,
        )
        .unwrap();
        std::fs::write(at("dog.json"), r#"{"description": "a puppy"}"#).unwrap();
        let mut library = Library::default();
        assert_eq!(
            library.describe(&at("cat.mp4")),
            described("a cat on a sofa. cat, pet", &["cat", "pet"])
        );
        // Field by field: the sidecar's description, the folder's title.
        assert_eq!(
            library.describe(&at("dog.mp4")),
            described("Dog. a puppy", &[])
        );
        assert_eq!(
            library.describe(&at("ocean_waves-at_sunset_1234.mp4")),
            described("ocean waves at sunset", &[])
        );
        let notes = library.into_notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("gone.mp4"), "{notes:?}");
    }

    #[test]
    fn broken_metadata_is_a_note_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FOLDER_FILE), "[not, json").unwrap();
        std::fs::write(dir.path().join("sea.json"), r#"{"tags": "not a list"}"#).unwrap();
        let mut library = Library::default();
        assert_eq!(
            library.describe(&dir.path().join("sea_view.mp4")),
            described("sea view", &[])
        );
        assert_eq!(
            library.describe(&dir.path().join("sea.mp4")),
            described("sea", &[])
        );
        // A clip called `clip.mp4` does not read the folder file as its sidecar.
        assert_eq!(
            library.describe(&dir.path().join("clip.mp4")),
            described("clip", &[])
        );
        let notes = library.into_notes();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains(FOLDER_FILE), "{notes:?}");
        assert!(notes[1].contains("sea.json"), "{notes:?}");
    }
}
