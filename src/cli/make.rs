//! `reelforge make`: submit one task and follow it to the end, printing progress lines or
//! JSON events. Ctrl-C cancels the task cleanly; it can be resumed later.

use super::progress::ProgressPrinter;
use super::{Cli, MakeArgs, session};
use crate::config::{TaskOption, apply_options};
use crate::pipeline::{Event, EventKind, PipelineHandle};
use crate::store::{TaskOptions, TaskSpec};
use anyhow::{Context, bail};
use std::io::Write;
use std::process::ExitCode;
use tokio::sync::mpsc::UnboundedReceiver;

pub async fn run(cli: &Cli, args: MakeArgs) -> anyhow::Result<ExitCode> {
    let config = session::load_config(cli, args.aspect.as_deref())?;
    let script = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the script file {}", path.display()))?;
            if text.trim().is_empty() {
                bail!(
                    "the script file {} is empty: write the narration in it, or leave out --script",
                    path.display()
                );
            }
            Some(text)
        }
        None => None,
    };
    if args.subject.trim().is_empty() && script.is_none() && args.narration.is_none() {
        bail!(
            "the subject is empty: say what the video is about, e.g. reelforge make \"Why do cats purr?\""
        );
    }
    if let Some(narration) = &args.narration {
        check_narration(narration)?;
    }
    for dir in &args.footage_dirs {
        if !dir.is_dir() {
            bail!(
                "--footage-dir {} is not a folder: give a folder of videos or images",
                dir.display()
            );
        }
    }
    let spec = TaskSpec {
        subject: args.subject.trim().to_string(),
        script,
        aspect: config.video.aspect.clone(),
        narration: args.narration.as_deref().map(absolute),
        footage_dirs: args.footage_dirs.iter().map(|d| absolute(d)).collect(),
        out: args.out.as_deref().map(absolute),
        stop_at: args.stop_at,
        options: task_options(&args),
        batch: None,
    };
    // The task's own settings, checked now so a bad flag fails before a task exists; the
    // stages apply the same options to the same config.
    let effective = apply_options(&config, &spec.options, |option| flag(option).to_string())
        .map_err(anyhow::Error::msg)?;
    let local = !spec.footage_dirs.is_empty() || !effective.footage.local_dirs.is_empty();
    session::preflight(&effective, &spec.planned_stages(), local)?;
    let session = session::start(cli, config, args.preload).await?;
    let mut events = session.pipeline.subscribe().await?;
    let task = session.pipeline.submit(spec).await?;
    follow(&session.pipeline, &mut events, &task, args.json).await
}

/// The per-task flags as task options; paths made absolute, as the task may be resumed from
/// another folder.
fn task_options(args: &MakeArgs) -> TaskOptions {
    TaskOptions {
        voice: args.voice.clone(),
        sources: args
            .sources
            .as_ref()
            .map(|s| s.iter().map(|name| name.trim().to_string()).collect()),
        music: args.music.as_deref().map(|music| match music.trim() {
            "none" => "none".to_string(),
            path => absolute(std::path::Path::new(path)).display().to_string(),
        }),
        subtitle_style: args.subtitle_style.clone(),
        video_count: args.video_count,
    }
}

/// The `make` flag that sets a task option.
fn flag(option: TaskOption) -> &'static str {
    match option {
        TaskOption::Voice => "--voice",
        TaskOption::Sources => "--sources",
        TaskOption::Music => "--music",
        TaskOption::SubtitleStyle => "--subtitle-style",
        TaskOption::VideoCount => "--videos",
    }
}

const NARRATION_FORMATS: &[&str] = &["mp3", "wav", "m4a", "aac", "flac", "ogg", "opus"];

fn check_narration(path: &std::path::Path) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !NARRATION_FORMATS.contains(&ext.as_str()) {
        bail!(
            "--narration {}: not an audio file this tool reads (use one of {})",
            path.display(),
            NARRATION_FORMATS.join(", ")
        );
    }
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the narration file {}", path.display()))?;
    if meta.len() == 0 {
        bail!("the narration file {} is empty", path.display());
    }
    Ok(())
}

fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Prints `task`'s events until it ends; the exit code says how it ended.
pub async fn follow(
    pipeline: &PipelineHandle,
    events: &mut UnboundedReceiver<Event>,
    task: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut printer = ProgressPrinter::default();
    let mut interrupted = false;
    let mut stdout = std::io::stdout();
    loop {
        let event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => event,
                None => bail!("the pipeline stopped unexpectedly"),
            },
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                if !json {
                    println!("interrupted: cancelling task {task} (resume it with `reelforge tasks resume {task}`)");
                }
                pipeline.cancel(task, None).await.ok();
                continue;
            }
        };
        if event.task != task {
            continue;
        }
        if json {
            let line = serde_json::to_string(&event).context("cannot encode an event")?;
            writeln!(stdout, "{line}")?;
        } else if let Some(line) = printer.line(&event) {
            writeln!(stdout, "{line}")?;
        }
        stdout.flush()?;
        match event.kind {
            EventKind::TaskDone { .. } => return Ok(ExitCode::SUCCESS),
            EventKind::TaskStopped { .. } if interrupted => return Ok(ExitCode::from(130)),
            EventKind::TaskStopped { reason } => {
                if !json {
                    eprintln!(
                        "reelforge: task {task} did not finish: {reason}\n  after fixing it: reelforge tasks resume {task}"
                    );
                }
                return Ok(ExitCode::from(1));
            }
            _ => {}
        }
    }
}
