//! `ConfigError`: every way loading or checking settings fails, with the key, the value
//! (the API key redacted) and what is allowed; plus the "did you mean" suggestions.

use std::path::PathBuf;
use toml::Value;

/// Its value must never be shown, not even in an error about it.
pub(super) const SECRET_KEY: &str = "llm.api_key";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {reason}\n  check the path given to --config", .path.display())]
    Unreadable { path: PathBuf, reason: String },

    #[error(
        "{}:{line}:{column}: TOML syntax error: {message}\n  fix line {line} of {}",
        .path.display(),
        .path.display()
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error(
        "unknown key `{key}`{}{}\n  keys allowed in {}: {}",
        from_origin(.origin),
        did_you_mean(.suggestion),
        table_label(.table),
        .allowed.join(", ")
    )]
    UnknownKey {
        key: String,
        /// Where the key was written, e.g. "file /home/me/.config/reelforge/config.toml".
        origin: String,
        suggestion: Option<String>,
        /// The dotted table holding the key; empty for the top level.
        table: String,
        allowed: Vec<String>,
    },

    #[error(
        "`{key}` = {value}{} has the wrong type: expected {expected}\n  write `{key}` as {expected}",
        from_origin(.origin)
    )]
    WrongType {
        key: String,
        /// Already redacted when the key is secret.
        value: String,
        expected: String,
        origin: String,
    },

    #[error("`{key}` = {value}{} is not allowed\n  allowed: {allowed}", from_origin(.origin))]
    InvalidValue {
        key: String,
        /// Already redacted when the key is secret.
        value: String,
        allowed: String,
        /// Empty when the value was set after loading (command-line flags).
        origin: String,
    },

    #[error(
        "unknown environment variable {name}{}\n  settings variables are REELFORGE_ + the dotted key in capitals, e.g. REELFORGE_VIDEO_FPS for video.fps; unset {name} or fix its name",
        did_you_mean(.suggestion)
    )]
    UnknownEnvVar {
        name: String,
        suggestion: Option<String>,
    },
}

fn from_origin(origin: &str) -> String {
    if origin.is_empty() {
        String::new()
    } else {
        format!(" (in {origin})")
    }
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(": did you mean `{s}`?"))
        .unwrap_or_default()
}

fn table_label(table: &str) -> String {
    if table.is_empty() {
        "the top level".into()
    } else {
        format!("[{table}]")
    }
}

/// How a value is shown in an error: quoted strings, short, the secret never.
pub(super) fn show(key: &str, value: &Value) -> String {
    if key == SECRET_KEY {
        return "<redacted>".into();
    }
    let text = match value {
        Value::String(s) => format!("{s:?}"),
        Value::Table(_) => "a table".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

pub(super) fn show_str(key: &str, value: &str) -> String {
    show(key, &Value::String(value.to_string()))
}

pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        // Every list in the schema is a list of strings.
        Value::Array(_) => "a list of strings",
        Value::Table(_) => "a table",
        Value::Datetime(_) => "a date",
    }
}

/// The nearest candidate by edit distance, when near enough to be a typo.
pub(super) fn closest(word: &str, candidates: &[String]) -> Option<String> {
    let word_l = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word_l, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(word.len().min(c.len()) / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
