//! `reelforge make`: submit one task and follow it to the end, printing progress lines or
//! JSON events. Ctrl-C cancels the task cleanly; it can be resumed later.

use super::progress::ProgressPrinter;
use super::{Cli, MakeArgs, session};
use crate::batch::{Field, Naming, ScriptSource, TaskRequest, check_task};
use crate::config::TaskOption;
use crate::pipeline::{Event, EventKind, PipelineHandle};
use crate::store::TaskOptions;
use anyhow::{Context, bail};
use std::io::Write;
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::UnboundedReceiver;

pub async fn run(cli: &Cli, args: MakeArgs) -> anyhow::Result<ExitCode> {
    let config = session::load_config(cli, None)?;
    // The checks every batch entry gets too; all problems are reported at once.
    let task = check_task(&config, &request(&args), &Flags, None).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(lines.join("\n"))
    })?;
    session::preflight(
        &task.config,
        &task.spec.planned_stages(),
        task.local_footage,
    )?;
    let session = session::start(cli, config, args.preload).await?;
    let mut events = session.pipeline.subscribe().await?;
    let id = session.pipeline.submit(task.spec).await?;
    follow(&session.pipeline, &mut events, &id, args.json).await
}

/// The flags as a task request.
fn request(args: &MakeArgs) -> TaskRequest {
    TaskRequest {
        subject: args.subject.clone(),
        script: args.script.clone().map(ScriptSource::File),
        narration: args.narration.clone(),
        aspect: args.aspect.clone(),
        footage_dirs: args.footage_dirs.clone(),
        out: args.out.clone(),
        stop_at: args.stop_at,
        options: TaskOptions {
            voice: args.voice.clone(),
            sources: args.sources.clone(),
            music: args.music.clone(),
            subtitle_style: args.subtitle_style.clone(),
            video_count: args.video_count,
        },
    }
}

/// Names settings as `make`'s flags.
struct Flags;

impl Naming for Flags {
    fn name(&self, field: Field) -> String {
        match field {
            Field::Subject => "the subject",
            Field::Script | Field::ScriptFile => "--script",
            Field::Narration => "--narration",
            Field::Aspect => "--aspect",
            Field::FootageDirs => "--footage-dir",
            Field::Out => "--out",
            Field::StopAt => "--stop-at",
            Field::Option(TaskOption::Voice) => "--voice",
            Field::Option(TaskOption::Sources) => "--sources",
            Field::Option(TaskOption::Music) => "--music",
            Field::Option(TaskOption::SubtitleStyle) => "--subtitle-style",
            Field::Option(TaskOption::VideoCount) => "--videos",
        }
        .to_string()
    }

    fn empty_subject(&self) -> String {
        "the subject is empty: say what the video is about, e.g. reelforge make \"Why do cats purr?\"".into()
    }
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
    // One listener for the whole wait: a fresh `ctrl_c()` per loop turn missed a signal that
    // landed while an event was being printed, and the task then ran to the end (exit 0).
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    loop {
        let event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => event,
                None => bail!("the pipeline stopped unexpectedly"),
            },
            _ = interrupt.recv(), if !interrupted => {
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
