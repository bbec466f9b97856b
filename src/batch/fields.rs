//! One batch entry's keys read into a `TaskRequest`: the keys are `make`'s flags in
//! snake_case, values are type-checked here and checked for meaning by `spec::check_task`.
//! Relative paths are taken from the batch file's folder, so a file and the clips beside it
//! work from any working folder.

use super::spec::{Field, ScriptSource, TaskRequest};
use crate::config::TaskOption;
use crate::pipeline::Stage;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The request an entry asks for, and every problem found in its keys (each message starts
/// with the key).
pub(super) fn request(entry: &Map<String, Value>, base_dir: &Path) -> (TaskRequest, Vec<String>) {
    let mut request = TaskRequest::default();
    let mut errors = Vec::new();
    for (key, value) in entry {
        let Some(field) = Field::ALL.into_iter().find(|f| f.key() == key) else {
            errors.push(format!(
                "unknown key {key:?}: an entry takes {}",
                Field::ALL.map(Field::key).join(", ")
            ));
            continue;
        };
        if let Err(e) = set(&mut request, field, value, base_dir) {
            errors.push(format!("{key:?}: {e}"));
        }
    }
    if entry.contains_key(Field::Script.key()) && entry.contains_key(Field::ScriptFile.key()) {
        errors.push(
            "give \"script\" (the narration itself) or \"script_file\" (a file holding it), not both"
                .into(),
        );
    }
    (request, errors)
}

fn set(request: &mut TaskRequest, field: Field, value: &Value, base: &Path) -> Result<(), String> {
    match field {
        Field::Subject => request.subject = text(value, "the video's subject")?,
        Field::Script => request.script = Some(ScriptSource::Text(text(value, "the narration")?)),
        Field::ScriptFile => {
            request.script = Some(ScriptSource::File(path(value, base, "a script file")?));
        }
        Field::Narration => request.narration = Some(path(value, base, "an audio file")?),
        Field::Aspect => request.aspect = Some(text(value, "9:16, 16:9 or 1:1")?),
        Field::FootageDirs => {
            request.footage_dirs = list(value, "folders of clips")?
                .into_iter()
                .map(|dir| resolve(base, &dir))
                .collect();
        }
        Field::Out => request.out = Some(path(value, base, "a video file to write")?),
        Field::StopAt => request.stop_at = Some(text(value, "a stage name")?.parse::<Stage>()?),
        Field::Option(option) => set_option(request, option, value, base)?,
    }
    Ok(())
}

fn set_option(
    request: &mut TaskRequest,
    option: TaskOption,
    value: &Value,
    base: &Path,
) -> Result<(), String> {
    let options = &mut request.options;
    match option {
        TaskOption::Voice => options.voice = Some(text(value, "piper or espeak")?),
        TaskOption::Sources => options.sources = Some(list(value, "footage sources")?),
        TaskOption::Music => {
            let music = text(value, "\"none\", an audio file or a folder")?;
            options.music = Some(match music.trim() {
                "none" => music,
                path => resolve(base, path).display().to_string(),
            });
        }
        TaskOption::SubtitleStyle => {
            options.subtitle_style = Some(text(value, "a subtitle style")?);
        }
        TaskOption::VideoCount => {
            options.video_count = Some(
                value
                    .as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| format!("{value} is not a number of videos: use 1 to 5"))?,
            );
        }
    }
    Ok(())
}

fn text(value: &Value, what: &str) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("must be text ({what}), not {}", describe(value)))
}

fn path(value: &Value, base: &Path, what: &str) -> Result<PathBuf, String> {
    let raw = text(value, what)?;
    if raw.trim().is_empty() {
        return Err(format!("is empty: give {what}, or leave the key out"));
    }
    Ok(resolve(base, &raw))
}

/// A list of names: an array of strings, or one comma-separated string (as the flag takes).
fn list(value: &Value, what: &str) -> Result<Vec<String>, String> {
    let wrong = || {
        format!(
            "must be a list of {what}, like [\"a\", \"b\"], not {}",
            describe(value)
        )
    };
    match value {
        Value::String(s) => Ok(s.split(',').map(|p| p.trim().to_string()).collect()),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(wrong))
            .collect(),
        _ => Err(wrong()),
    }
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path.trim());
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a table".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> (TaskRequest, Vec<String>) {
        let Value::Object(map) = value else {
            panic!("an object")
        };
        request(&map, Path::new("/batch"))
    }

    #[test]
    fn keys_become_a_request_with_paths_from_the_file_folder() {
        let (request, errors) = read(json!({
            "subject": "cats", "script_file": "cats.txt", "footage_dirs": ["clips", "/abs"],
            "sources": "local, generated", "videos": 2, "stop_at": "voice", "music": "none"
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            request.script,
            Some(ScriptSource::File("/batch/cats.txt".into()))
        );
        assert_eq!(
            request.footage_dirs,
            [PathBuf::from("/batch/clips"), "/abs".into()]
        );
        assert_eq!(
            request.options.sources,
            Some(vec!["local".into(), "generated".into()])
        );
        assert_eq!(request.options.video_count, Some(2));
        assert_eq!(request.options.music.as_deref(), Some("none"));
        assert_eq!(request.stop_at, Some(Stage::Voice));
    }

    #[test]
    fn every_bad_key_is_named() {
        let (_, errors) = read(json!({
            "voise": "espeak", "videos": "two", "footage_dirs": 3, "stop_at": "end",
            "script": "Hi.", "script_file": "a.txt"
        }));
        assert_eq!(errors.len(), 5, "{errors:?}");
        let all = errors.join("\n");
        for expected in [
            "unknown key \"voise\": an entry takes subject, script",
            "\"videos\": \"two\" is not a number",
            "\"footage_dirs\": must be a list",
            "\"stop_at\": unknown stage 'end'",
            "not both",
        ] {
            assert!(all.contains(expected), "{expected}: {all}");
        }
    }
}
