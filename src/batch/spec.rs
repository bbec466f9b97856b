//! One task's request checked and turned into a `TaskSpec`: the checks `reelforge make` and
//! every `reelforge batch` entry share (subject, script, narration, footage folders, aspect,
//! the per-task options). Messages name the setting the way the user wrote it — a flag for
//! `make`, a key for a batch entry — through `Naming`.

use crate::config::{Config, TaskOption, apply_options, frame_size};
use crate::pipeline::Stage;
use crate::store::{BatchRef, TaskOptions, TaskSpec};
use std::path::{Path, PathBuf};

/// What a user asked for one task, before any check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskRequest {
    pub subject: String,
    pub script: Option<ScriptSource>,
    pub narration: Option<PathBuf>,
    pub aspect: Option<String>,
    pub footage_dirs: Vec<PathBuf>,
    pub out: Option<PathBuf>,
    pub stop_at: Option<Stage>,
    /// As given: sources are trimmed and a music path made absolute by the check.
    pub options: TaskOptions,
}

/// The narration text, given inline (a batch entry's `script`) or as a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptSource {
    Text(String),
    File(PathBuf),
}

/// A setting of a task request, to name it in an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Subject,
    Script,
    ScriptFile,
    Narration,
    Aspect,
    FootageDirs,
    Out,
    StopAt,
    Option(TaskOption),
}

impl Field {
    pub const ALL: [Field; 13] = [
        Field::Subject,
        Field::Script,
        Field::ScriptFile,
        Field::Narration,
        Field::Aspect,
        Field::FootageDirs,
        Field::Out,
        Field::StopAt,
        Field::Option(TaskOption::Voice),
        Field::Option(TaskOption::Sources),
        Field::Option(TaskOption::Music),
        Field::Option(TaskOption::SubtitleStyle),
        Field::Option(TaskOption::VideoCount),
    ];

    /// Its key in a batch entry: `make`'s flag in snake_case.
    pub fn key(self) -> &'static str {
        match self {
            Field::Subject => "subject",
            Field::Script => "script",
            Field::ScriptFile => "script_file",
            Field::Narration => "narration",
            Field::Aspect => "aspect",
            Field::FootageDirs => "footage_dirs",
            Field::Out => "out",
            Field::StopAt => "stop_at",
            Field::Option(TaskOption::VideoCount) => "videos",
            Field::Option(option) => option.field(),
        }
    }
}

/// How the user wrote each setting, for messages.
pub trait Naming {
    /// A flag (`--voice`) or a key (`"voice"`).
    fn name(&self, field: Field) -> String;
    /// The whole message for a task with nothing to make a video about.
    fn empty_subject(&self) -> String;
}

/// Names settings as a batch entry's keys: `"voice"`.
pub struct EntryKeys;

impl Naming for EntryKeys {
    fn name(&self, field: Field) -> String {
        format!("{:?}", field.key())
    }

    fn empty_subject(&self) -> String {
        "\"subject\" is missing or empty: say what the video is about, or give \"script\", \"script_file\" or \"narration\"".into()
    }
}

/// One problem with a request; the message names the setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

/// A request that passed every check.
#[derive(Clone, Debug)]
pub struct CheckedTask {
    pub spec: TaskSpec,
    /// The config the task's stages will use (its options applied).
    pub config: Config,
    /// Whether footage comes from local folders (the preflight then needs ffprobe).
    pub local_footage: bool,
}

/// Checks `request` against `base` (the config in force) and builds its spec; every problem
/// found is returned, not only the first.
pub fn check_task(
    base: &Config,
    request: &TaskRequest,
    naming: &dyn Naming,
    batch: Option<BatchRef>,
) -> Result<CheckedTask, Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut config = base.clone();
    if let Some(aspect) = &request.aspect {
        if frame_size(aspect).is_some() {
            config.video.aspect = aspect.clone();
        } else {
            errors.push(SpecError(format!(
                "{} {aspect:?} is not allowed: use 9:16, 16:9 or 1:1",
                naming.name(Field::Aspect)
            )));
        }
    }
    let script = match read_script(request.script.as_ref(), naming) {
        Ok(script) => script,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if request.subject.trim().is_empty() && request.script.is_none() && request.narration.is_none()
    {
        errors.push(SpecError(naming.empty_subject()));
    }
    if let Some(narration) = &request.narration
        && let Err(e) = check_narration(narration, &naming.name(Field::Narration))
    {
        errors.push(e);
    }
    for dir in request.footage_dirs.iter().filter(|d| !d.is_dir()) {
        errors.push(SpecError(format!(
            "{} {} is not a folder: give a folder of videos or images",
            naming.name(Field::FootageDirs),
            dir.display()
        )));
    }
    let spec = TaskSpec {
        subject: request.subject.trim().to_string(),
        script,
        aspect: config.video.aspect.clone(),
        narration: request.narration.as_deref().map(absolute),
        footage_dirs: request.footage_dirs.iter().map(|d| absolute(d)).collect(),
        out: request.out.as_deref().map(absolute),
        stop_at: request.stop_at,
        options: normalised(&request.options),
        batch,
    };
    // The task's own settings, checked now so a bad value fails before a task exists; the
    // stages apply the same options to the same config.
    let effective = apply_options(&config, &spec.options, |option| {
        naming.name(Field::Option(option))
    });
    match effective {
        Ok(config) if errors.is_empty() => {
            let local = !spec.footage_dirs.is_empty() || !config.footage.local_dirs.is_empty();
            Ok(CheckedTask {
                spec,
                config,
                local_footage: local,
            })
        }
        Ok(_) => Err(errors),
        Err(message) => {
            errors.push(SpecError(message));
            Err(errors)
        }
    }
}

/// The options as stored: source names trimmed, a music path absolute, as the task may be
/// resumed from another folder.
fn normalised(options: &TaskOptions) -> TaskOptions {
    TaskOptions {
        sources: options
            .sources
            .as_ref()
            .map(|s| s.iter().map(|name| name.trim().to_string()).collect()),
        music: options.music.as_deref().map(|music| match music.trim() {
            "none" => "none".to_string(),
            path => absolute(Path::new(path)).display().to_string(),
        }),
        ..options.clone()
    }
}

fn read_script(
    script: Option<&ScriptSource>,
    naming: &dyn Naming,
) -> Result<Option<String>, SpecError> {
    match script {
        None => Ok(None),
        Some(ScriptSource::Text(text)) if text.trim().is_empty() => Err(SpecError(format!(
            "{} is empty: write the narration in it, or leave it out",
            naming.name(Field::Script)
        ))),
        Some(ScriptSource::Text(text)) => Ok(Some(text.clone())),
        Some(ScriptSource::File(path)) => {
            let name = naming.name(Field::ScriptFile);
            let text = std::fs::read_to_string(path).map_err(|e| {
                SpecError(format!(
                    "cannot read the script file {} ({name}): {e}",
                    path.display()
                ))
            })?;
            if text.trim().is_empty() {
                return Err(SpecError(format!(
                    "the script file {} is empty: write the narration in it, or leave out {name}",
                    path.display()
                )));
            }
            Ok(Some(text))
        }
    }
}

const NARRATION_FORMATS: &[&str] = &["mp3", "wav", "m4a", "aac", "flac", "ogg", "opus"];

fn check_narration(path: &Path, name: &str) -> Result<(), SpecError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !NARRATION_FORMATS.contains(&ext.as_str()) {
        return Err(SpecError(format!(
            "{name} {}: not an audio file this tool reads (use one of {})",
            path.display(),
            NARRATION_FORMATS.join(", ")
        )));
    }
    let meta = std::fs::metadata(path).map_err(|e| {
        SpecError(format!(
            "cannot read the narration file {} ({name}): {e}",
            path.display()
        ))
    })?;
    if meta.len() == 0 {
        return Err(SpecError(format!(
            "the narration file {} ({name}) is empty",
            path.display()
        )));
    }
    Ok(())
}

/// `path` made absolute against the working folder (left as is if that cannot be known).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_naming_its_key() {
        let request = TaskRequest {
            aspect: Some("4:3".into()),
            script: Some(ScriptSource::Text("  ".into())),
            footage_dirs: vec!["/no/such/clips".into()],
            options: TaskOptions {
                voice: Some("robot".into()),
                ..TaskOptions::default()
            },
            ..TaskRequest::default()
        };
        let errors = check_task(&Config::default(), &request, &EntryKeys, None).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 4, "{text:?}");
        assert!(text[0].starts_with("\"aspect\" \"4:3\""), "{text:?}");
        assert!(text[1].starts_with("\"script\" is empty"), "{text:?}");
        assert!(
            text[2].starts_with("\"footage_dirs\" /no/such/clips"),
            "{text:?}"
        );
        assert!(text[3].starts_with("\"voice\": \"robot\""), "{text:?}");
    }

    #[test]
    fn a_good_request_keeps_its_batch_and_absolute_paths() {
        let request = TaskRequest {
            subject: " cats ".into(),
            out: Some("out/cats.mp4".into()),
            aspect: Some("1:1".into()),
            ..TaskRequest::default()
        };
        let batch = BatchRef {
            id: "b".into(),
            entry: 3,
        };
        let checked = check_task(
            &Config::default(),
            &request,
            &EntryKeys,
            Some(batch.clone()),
        )
        .expect("valid");
        assert_eq!(checked.spec.subject, "cats");
        assert_eq!(checked.spec.aspect, "1:1");
        assert_eq!(checked.spec.batch, Some(batch));
        assert!(checked.spec.out.as_deref().is_some_and(Path::is_absolute));
    }
}
