//! The new-task form (`n`): fields, in-place validation, and the `TaskSpec` it yields.
//! Validation names the field and says what to type; nothing is submitted while a field
//! is wrong.

use crate::store::{SUBTITLE_STYLES, TaskOptions, TaskSpec};
use std::path::{Path, PathBuf};

const ASPECTS: &[&str] = &["9:16", "16:9", "1:1"];
const VOICES: &[&str] = &["config", "piper", "espeak"];
/// "config" keeps `[footage] sources`; "folder" takes clips from the folder typed in
/// `Footage folder`; a vendor name uses only that vendor (plus generated backgrounds).
const FOOTAGE: &[&str] = &["config", "folder", "pexels", "pixabay", "generated"];
const STYLES_WITH_CONFIG: &[&str] = &["config", "classic", "boxed", "karaoke", "top", "minimal"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// One of these; ←/→ cycle.
    Choice(&'static [&'static str]),
    /// A whole number in this range; ←/→ step.
    Number {
        min: u32,
        max: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormField {
    pub label: &'static str,
    pub kind: FieldKind,
    pub value: String,
    /// Shown greyed when the value is empty.
    pub hint: &'static str,
    /// What is wrong with the value, set by `validate`.
    pub error: Option<String>,
}

/// Field order; the indices below name them.
pub const SUBJECT: usize = 0;
pub const SCRIPT: usize = 1;
pub const ASPECT: usize = 2;
pub const VOICE: usize = 3;
pub const FOOTAGE_SOURCE: usize = 4;
pub const FOOTAGE_DIR: usize = 5;
pub const MUSIC: usize = 6;
pub const SUBTITLE_STYLE: usize = 7;
pub const VIDEO_COUNT: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskForm {
    pub fields: Vec<FormField>,
    pub focus: usize,
}

fn field(label: &'static str, kind: FieldKind, value: &str, hint: &'static str) -> FormField {
    FormField {
        label,
        kind,
        value: value.to_string(),
        hint,
        error: None,
    }
}

impl TaskForm {
    /// A blank form; `aspect` is the config's default.
    pub fn new(aspect: &str) -> TaskForm {
        let aspect = if ASPECTS.contains(&aspect) {
            aspect
        } else {
            "9:16"
        };
        TaskForm {
            fields: vec![
                field("Subject", FieldKind::Text, "", "what the video is about"),
                field(
                    "Script",
                    FieldKind::Text,
                    "",
                    "optional: your narration, or @file.txt",
                ),
                field("Aspect", FieldKind::Choice(ASPECTS), aspect, ""),
                field("Voice", FieldKind::Choice(VOICES), "config", ""),
                field("Footage", FieldKind::Choice(FOOTAGE), "config", ""),
                field(
                    "Footage folder",
                    FieldKind::Text,
                    "",
                    "folder of clips (Footage = folder)",
                ),
                field(
                    "Music",
                    FieldKind::Text,
                    "",
                    "config; none; or a music file or folder",
                ),
                field(
                    "Subtitles",
                    FieldKind::Choice(STYLES_WITH_CONFIG),
                    "config",
                    "",
                ),
                field("Videos", FieldKind::Number { min: 1, max: 5 }, "1", "1–5"),
            ],
            focus: SUBJECT,
        }
    }

    pub fn focused(&self) -> &FormField {
        &self.fields[self.focus]
    }

    pub fn next_field(&mut self) {
        self.focus = (self.focus + 1) % self.fields.len();
    }

    pub fn previous_field(&mut self) {
        self.focus = (self.focus + self.fields.len() - 1) % self.fields.len();
    }

    /// Typing: text fields take any character, number fields digits.
    pub fn type_char(&mut self, c: char) {
        let f = &mut self.fields[self.focus];
        match f.kind {
            FieldKind::Text => f.value.push(c),
            FieldKind::Number { .. } if c.is_ascii_digit() => f.value.push(c),
            _ => {}
        }
        f.error = None;
    }

    pub fn backspace(&mut self) {
        let f = &mut self.fields[self.focus];
        if matches!(f.kind, FieldKind::Text | FieldKind::Number { .. }) {
            f.value.pop();
        }
        f.error = None;
    }

    /// ←/→ on a choice or number field (`forward` = →).
    pub fn cycle(&mut self, forward: bool) {
        let f = &mut self.fields[self.focus];
        match f.kind {
            FieldKind::Choice(options) => {
                let at = options.iter().position(|o| *o == f.value).unwrap_or(0);
                let next = if forward {
                    (at + 1) % options.len()
                } else {
                    (at + options.len() - 1) % options.len()
                };
                f.value = options[next].to_string();
            }
            FieldKind::Number { min, max } => {
                let n: u32 = f.value.parse().unwrap_or(min);
                let n = if forward { n + 1 } else { n.saturating_sub(1) };
                f.value = n.clamp(min, max).to_string();
            }
            FieldKind::Text => {}
        }
        f.error = None;
    }

    fn value(&self, index: usize) -> &str {
        self.fields[index].value.trim()
    }

    /// Checks every field and marks the wrong ones; `Ok` holds the task to submit.
    pub fn validate(&mut self) -> Result<TaskSpec, String> {
        for f in &mut self.fields {
            f.error = None;
        }
        let script = match self.script() {
            Ok(script) => script,
            Err(e) => {
                self.fields[SCRIPT].error = Some(e);
                None
            }
        };
        let subject = self.value(SUBJECT).to_string();
        if subject.is_empty() && script.is_none() && self.fields[SCRIPT].error.is_none() {
            self.fields[SUBJECT].error =
                Some("say what the video is about (or give a script)".into());
        }
        let footage = self.value(FOOTAGE_SOURCE).to_string();
        let folder = self.value(FOOTAGE_DIR).to_string();
        let mut footage_dirs = Vec::new();
        if footage == "folder" || !folder.is_empty() {
            match existing_dir(&folder) {
                Ok(dir) => footage_dirs.push(dir),
                Err(e) => self.fields[FOOTAGE_DIR].error = Some(e),
            }
        }
        let music = match self.value(MUSIC) {
            "" | "config" => None,
            "none" => Some("none".to_string()),
            path => match std::path::absolute(Path::new(path)) {
                Ok(p) if p.exists() => Some(p.to_string_lossy().into_owned()),
                _ => {
                    self.fields[MUSIC].error = Some(format!(
                        "{path} does not exist: give a music file or folder, \"none\" or \"config\""
                    ));
                    None
                }
            },
        };
        let count: Option<u8> = self
            .value(VIDEO_COUNT)
            .parse()
            .ok()
            .filter(|n| (1..=5).contains(n));
        if count.is_none() {
            self.fields[VIDEO_COUNT].error = Some("a number from 1 to 5".into());
        }
        if let Some(bad) = self.fields.iter().position(|f| f.error.is_some()) {
            self.focus = bad;
            let f = &self.fields[bad];
            return Err(format!(
                "{}: {}",
                f.label,
                f.error.as_deref().unwrap_or_default()
            ));
        }
        let choice = |v: &str| (v != "config").then(|| v.to_string());
        let sources = match footage.as_str() {
            "config" => None,
            "folder" => Some(vec!["local".to_string(), "generated".to_string()]),
            vendor => Some(vec![vendor.to_string(), "generated".to_string()]).map(|mut v| {
                v.dedup();
                v
            }),
        };
        let style = choice(self.value(SUBTITLE_STYLE));
        debug_assert!(
            style
                .as_deref()
                .is_none_or(|s| SUBTITLE_STYLES.contains(&s))
        );
        Ok(TaskSpec {
            subject,
            script,
            aspect: self.value(ASPECT).to_string(),
            footage_dirs,
            options: TaskOptions {
                voice: choice(self.value(VOICE)),
                sources,
                music,
                subtitle_style: style,
                video_count: count.filter(|&n| n != 1),
            },
            ..TaskSpec::default()
        })
    }

    /// The script field: text, or `@path` to read a file.
    fn script(&self) -> Result<Option<String>, String> {
        let raw = self.value(SCRIPT);
        if raw.is_empty() {
            return Ok(None);
        }
        let Some(path) = raw.strip_prefix('@') else {
            return Ok(Some(raw.to_string()));
        };
        let text = std::fs::read_to_string(path.trim())
            .map_err(|e| format!("cannot read {}: {e}", path.trim()))?;
        if text.trim().is_empty() {
            return Err(format!(
                "{} is empty: write the narration in it",
                path.trim()
            ));
        }
        Ok(Some(text))
    }
}

fn existing_dir(raw: &str) -> Result<PathBuf, String> {
    if raw.is_empty() {
        return Err("type the folder that holds your clips".into());
    }
    let dir = std::path::absolute(Path::new(raw)).map_err(|e| format!("{raw}: {e}"))?;
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "{raw} is not a folder: give a folder of videos or images"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_subject_is_refused_with_the_field_named() {
        let mut form = TaskForm::new("9:16");
        form.focus = VIDEO_COUNT;
        let err = form.validate().unwrap_err();
        assert!(err.starts_with("Subject:"), "{err}");
        assert_eq!(form.focus, SUBJECT, "focus moves to the wrong field");
        assert!(form.fields[SUBJECT].error.is_some());
    }

    #[test]
    fn choices_cycle_and_a_valid_form_gives_the_task() {
        let dir = tempfile::tempdir().unwrap();
        let mut form = TaskForm::new("16:9");
        for c in "Why do cats purr?".chars() {
            form.type_char(c);
        }
        form.focus = VOICE;
        form.cycle(true);
        assert_eq!(form.focused().value, "piper");
        form.focus = FOOTAGE_SOURCE;
        form.cycle(true);
        assert_eq!(form.focused().value, "folder");
        form.focus = FOOTAGE_DIR;
        for c in dir.path().to_string_lossy().chars() {
            form.type_char(c);
        }
        form.focus = VIDEO_COUNT;
        form.cycle(true);
        form.cycle(true);
        let spec = form.validate().unwrap();
        assert_eq!(spec.subject, "Why do cats purr?");
        assert_eq!(spec.aspect, "16:9");
        assert_eq!(spec.footage_dirs, vec![dir.path().to_path_buf()]);
        assert_eq!(spec.options.voice.as_deref(), Some("piper"));
        assert_eq!(
            spec.options.sources,
            Some(vec!["local".to_string(), "generated".to_string()])
        );
        assert_eq!(spec.options.video_count, Some(3));
    }

    #[test]
    fn missing_folder_music_and_bad_count_are_each_named() {
        let mut form = TaskForm::new("9:16");
        form.fields[SUBJECT].value = "Volcanoes".into();
        form.fields[FOOTAGE_SOURCE].value = "folder".into();
        form.fields[FOOTAGE_DIR].value = "/nonexistent/clips".into();
        form.fields[MUSIC].value = "/nonexistent/song.mp3".into();
        form.fields[VIDEO_COUNT].value = "9".into();
        assert!(form.validate().is_err());
        assert!(
            form.fields[FOOTAGE_DIR]
                .error
                .as_deref()
                .unwrap()
                .contains("not a folder")
        );
        assert!(
            form.fields[MUSIC]
                .error
                .as_deref()
                .unwrap()
                .contains("does not exist")
        );
        assert!(form.fields[VIDEO_COUNT].error.is_some());
        assert!(form.fields[SUBJECT].error.is_none());
    }
}
