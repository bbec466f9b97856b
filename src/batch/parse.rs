//! A batch file read into checked entries: JSON Lines (`.jsonl`, `.ndjson`; blank lines and
//! `#` comments ignored) or TOML (`[[task]]` tables). Nothing is started here: every entry
//! is checked, and all problems come back together, each with its line and key.

use super::fields::request;
use super::spec::{CheckedTask, EntryKeys, check_task};
use super::{BatchError, EntryError, MAX_ENTRIES, file_label};
use crate::config::Config;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One checked entry of a batch file.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Its number in the batch (`BatchRef::entry`): the line for JSON Lines, the position
    /// for TOML, from 1. The same file gives the same numbers, which `--resume` relies on.
    pub number: usize,
    /// The line it starts on (a TOML entry's `[[task]]` header), when known.
    pub line: Option<usize>,
    /// The checked task; its `spec.batch` is set when the batch is planned.
    pub task: CheckedTask,
}

impl Entry {
    /// "line 3", or "task 2" where the line is not known.
    pub fn place(&self) -> String {
        place(self.number, self.line)
    }
}

fn place(number: usize, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("line {line}"),
        None => format!("task {number}"),
    }
}

/// An entry as read, before its keys are checked.
struct RawEntry {
    number: usize,
    line: Option<usize>,
    object: Result<Map<String, Value>, String>,
}

/// Reads and checks every entry of `path` against `base` (the config in force).
pub fn load_entries(path: &Path, base: &Config) -> Result<Vec<Entry>, BatchError> {
    let file = file_label(path);
    let text = std::fs::read_to_string(path).map_err(|source| BatchError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let raw = match ext.as_deref() {
        Some("jsonl" | "ndjson") => json_lines(&text),
        Some("toml") => toml_tasks(&text, &file)?,
        _ => {
            return Err(BatchError::Format {
                path: path.to_path_buf(),
            });
        }
    };
    if raw.is_empty() {
        return Err(BatchError::Empty { file });
    }
    if raw.len() > MAX_ENTRIES {
        return Err(BatchError::TooMany {
            file,
            count: raw.len(),
        });
    }
    let base_dir = super::spec::absolute(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    check_entries(&file, raw, base, &base_dir)
}

fn check_entries(
    file: &str,
    raw: Vec<RawEntry>,
    base: &Config,
    base_dir: &Path,
) -> Result<Vec<Entry>, BatchError> {
    let total = raw.len();
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    // Two tasks writing one `out` file would overwrite each other's video.
    let mut outs: HashMap<PathBuf, String> = HashMap::new();
    for entry in raw {
        let here = place(entry.number, entry.line);
        let mut problems = Vec::new();
        match entry.object {
            Err(message) => problems.push(message),
            Ok(object) => {
                let (request, mut key_errors) = request(&object, base_dir);
                problems.append(&mut key_errors);
                if let Some(out) = &request.out {
                    let out = super::spec::absolute(out);
                    match outs.get(&out) {
                        Some(first) => problems.push(format!(
                            "\"out\": {} is also the output of {first}: give each task its own file",
                            out.display()
                        )),
                        None => {
                            outs.insert(out, here.clone());
                        }
                    }
                }
                match check_task(base, &request, &EntryKeys, None) {
                    Ok(task) if problems.is_empty() => entries.push(Entry {
                        number: entry.number,
                        line: entry.line,
                        task,
                    }),
                    Ok(_) => {}
                    Err(spec_errors) => {
                        problems.extend(spec_errors.into_iter().map(|e| e.0));
                    }
                }
            }
        }
        errors.extend(problems.into_iter().map(|message| EntryError {
            file: file.to_string(),
            place: here.clone(),
            message,
        }));
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(BatchError::Invalid {
            file: file.to_string(),
            total,
            errors,
        })
    }
}

fn json_lines(text: &str) -> Vec<RawEntry> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(i, line)| RawEntry {
            number: i + 1,
            line: Some(i + 1),
            object: match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(object)) => Ok(object),
                Ok(_) => Err(
                    "an entry is one JSON object on one line, like {\"subject\": \"Why do cats purr?\"}"
                        .into(),
                ),
                Err(e) => Err(json_error(&e)),
            },
        })
        .collect()
}

/// serde_json's message without its "at line 1 column 9" (the line is ours to give).
fn json_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let message = message
        .rfind(" at line ")
        .map_or(message.as_str(), |at| &message[..at]);
    format!("not valid JSON at column {}: {message}", e.column())
}

fn toml_tasks(text: &str, file: &str) -> Result<Vec<RawEntry>, BatchError> {
    let syntax = |message: String| BatchError::Syntax {
        file: file.to_string(),
        message,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
    if let Some(key) = table.keys().find(|k| *k != "task") {
        return Err(syntax(format!(
            "unknown top-level key {key:?}: write each task as a [[task]] table"
        )));
    }
    let tasks = match table.get("task") {
        None => return Ok(Vec::new()),
        Some(toml::Value::Array(tasks)) => tasks,
        Some(_) => {
            return Err(syntax(
                "\"task\" must be [[task]] tables, one per task".into(),
            ));
        }
    };
    let headers = task_header_lines(text);
    // Headers found by scanning match the parsed tables unless the file wrote tasks some
    // other way (an inline array); then entries are named by position.
    let lines_known = headers.len() == tasks.len();
    Ok(tasks
        .iter()
        .enumerate()
        .map(|(i, task)| RawEntry {
            number: i + 1,
            line: lines_known.then(|| headers[i]),
            object: match json_of_toml(task) {
                Value::Object(object) => Ok(object),
                _ => Err("each [[task]] must be a table of keys".into()),
            },
        })
        .collect())
}

/// The 1-based lines holding a `[[task]]` header.
fn task_header_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let rest = line.trim_start().strip_prefix("[[")?;
            let name = rest.split("]]").next()?.trim();
            (name == "task").then_some(i + 1)
        })
        .collect()
}

fn json_of_toml(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(n) => Value::from(*n),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(json_of_toml).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), json_of_toml(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, text: &str) -> Result<Vec<Entry>, BatchError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        load_entries(&path, &Config::default())
    }

    #[test]
    fn json_lines_skip_blanks_and_comments_and_number_by_line() {
        let entries = load(
            "b.jsonl",
            "# cats\n{\"subject\": \"a\"}\n\n{\"script\": \"Hi there.\", \"aspect\": \"1:1\"}\n",
        )
        .expect("valid");
        let numbers: Vec<usize> = entries.iter().map(|e| e.number).collect();
        assert_eq!(numbers, [2, 4]);
        assert_eq!(entries[1].task.spec.aspect, "1:1");
    }

    #[test]
    fn toml_errors_name_the_task_header_line() {
        let text =
            "[[task]]\nsubject = \"a\"\n\n# two\n[[task]]\nsubject = \"b\"\nvoice = \"robot\"\n";
        let Err(BatchError::Invalid { errors, total, .. }) = load("b.toml", text) else {
            panic!("invalid")
        };
        assert_eq!(total, 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].place, "line 5");
        assert!(
            errors[0].message.starts_with("\"voice\": \"robot\""),
            "{errors:?}"
        );
    }

    #[test]
    fn empty_unknown_format_and_too_many_are_refused() {
        assert!(matches!(
            load("b.jsonl", "\n# nothing\n"),
            Err(BatchError::Empty { .. })
        ));
        assert!(matches!(
            load("b.csv", "subject\n"),
            Err(BatchError::Format { .. })
        ));
        let many = "{\"subject\": \"a\"}\n".repeat(MAX_ENTRIES + 1);
        assert!(matches!(
            load("b.jsonl", &many),
            Err(BatchError::TooMany { count: 1001, .. })
        ));
    }

    #[test]
    fn duplicate_outputs_and_bad_lines_are_all_reported() {
        let text = "{\"subject\": \"a\", \"out\": \"v.mp4\"}\nnot json\n[1]\n{\"subject\": \"b\", \"out\": \"v.mp4\"}\n";
        let Err(BatchError::Invalid { errors, .. }) = load("b.jsonl", text) else {
            panic!("invalid")
        };
        let places: Vec<&str> = errors.iter().map(|e| e.place.as_str()).collect();
        assert_eq!(places, ["line 2", "line 3", "line 4"], "{errors:?}");
        assert!(errors[0].message.contains("not valid JSON at column"));
        assert!(errors[2].message.contains("also the output of line 1"));
    }
}
