//! `reelforge batch FILE`: many tasks from one file on one pipeline, at most N at once, with
//! progress lines (or JSON events tagged with the entry) and a summary printed and written
//! as JSON. Ctrl-C cancels the running tasks cleanly; `--resume` finishes the batch later.

use super::progress::ProgressPrinter;
use super::{BatchArgs, Cli, session};
use crate::batch::{
    self, BatchError, BatchEvent, Entry, EntryState, MAX_CONCURRENT, Plan, Start, Summary,
    run_batch,
};
use crate::pipeline::{EventKind, LogLevel};
use crate::tui::view::text::truncate;
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

pub async fn run(cli: &Cli, args: BatchArgs) -> anyhow::Result<ExitCode> {
    if !(1..=MAX_CONCURRENT).contains(&args.max_concurrent) {
        return Err(BatchError::Concurrency(args.max_concurrent).into());
    }
    let config = session::load_config(cli, None)?;
    // Every entry is checked, tools included, before the store is opened or a task exists.
    let entries = batch::load_entries(&args.file, &config)?;
    preflight(&args.file, &entries)?;
    let session = session::start(cli, config, args.preload).await?;
    let records = session.store.tasks.list()?;
    let plan = batch::plan_batch(entries, &args.file, args.resume, &records)?;
    let summary_path = args.summary.clone().unwrap_or_else(|| {
        session
            .store
            .root()
            .join("batches")
            .join(format!("{}.json", plan.id))
    });
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    // Registered here, not inside the spawned task, so a signal sent as soon as the batch has
    // started is not lost before that task first runs.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for Ctrl-C")?;
    tokio::spawn(async move {
        if interrupt.recv().await.is_some() {
            on_signal.cancel();
        }
    });
    let mut out = Output {
        json: args.json,
        file: args.file.display().to_string(),
        printer: ProgressPrinter::default(),
        stdout: std::io::stdout(),
    };
    out.started(&plan, args.max_concurrent);
    let summary = run_batch(
        &session.pipeline,
        &session.store.tasks,
        &args.file,
        plan,
        args.max_concurrent,
        stop,
        |event| out.show(event),
    )
    .await?;
    summary.write(&summary_path)?;
    out.finished(&summary, &summary_path)?;
    Ok(if summary.interrupted {
        ExitCode::from(130)
    } else if summary.all_done() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The tools each entry's stages need; one missing tool is named once, with its entries.
fn preflight(file: &std::path::Path, entries: &[Entry]) -> anyhow::Result<()> {
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in entries {
        let task = &entry.task;
        if let Err(e) = session::preflight(
            &task.config,
            &task.spec.planned_stages(),
            task.local_footage,
        ) {
            missing
                .entry(format!("{e:#}"))
                .or_default()
                .push(entry.place());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = missing
        .into_iter()
        .map(|(error, places)| format!("  {} {}: {error}", file.display(), places.join(", ")))
        .collect();
    anyhow::bail!("nothing was started:\n{}", lines.join("\n"))
}

/// Progress as it comes: JSON events tagged with the entry, or compact lines.
struct Output {
    json: bool,
    file: String,
    printer: ProgressPrinter,
    stdout: std::io::Stdout,
}

impl Output {
    fn emit(&mut self, line: &str) {
        // A closed stdout (the reader went away) must not stop the batch.
        let _ = writeln!(self.stdout, "{line}");
        let _ = self.stdout.flush();
    }

    fn emit_json(&mut self, value: &Value) {
        let line = value.to_string();
        self.emit(&line);
    }

    fn started(&mut self, plan: &Plan, max_concurrent: usize) {
        let kept = plan
            .entries
            .iter()
            .filter(|p| matches!(p.start, Start::Keep(_)))
            .count();
        if self.json {
            self.emit_json(&json!({
                "event": "batch_started",
                "batch": plan.id,
                "file": self.file,
                "entries": plan.entries.len(),
                "max_concurrent": max_concurrent,
                "resumed": plan.resumed,
            }));
            return;
        }
        let mut line = format!(
            "batch {}: {} tasks from {}, at most {max_concurrent} at once",
            plan.id,
            plan.entries.len(),
            self.file
        );
        if plan.resumed {
            line += &format!(" (resumed: {kept} already done)");
        }
        self.emit(&line);
    }

    fn show(&mut self, event: BatchEvent<'_>) {
        match event {
            BatchEvent::Task { entry, event } => {
                if self.json {
                    if let Ok(Value::Object(mut object)) = serde_json::to_value(event) {
                        object.insert("entry".into(), entry.number.into());
                        object.insert("line".into(), entry.line.into());
                        self.emit_json(&Value::Object(object));
                    }
                } else if worth_a_line(&event.kind)
                    && let Some(line) = self.printer.line(event)
                {
                    self.emit(&format!("[{}] {}", entry.place(), line.trim_start()));
                }
            }
            BatchEvent::Kept { entry, task } => {
                if self.json {
                    self.emit_json(&json!({
                        "event": "entry_kept", "entry": entry.number, "line": entry.line, "task": task,
                    }));
                } else {
                    self.emit(&format!(
                        "[{}] done in an earlier run (task {task})",
                        entry.place()
                    ));
                }
            }
            BatchEvent::StartFailed { entry, error } => {
                if self.json {
                    self.emit_json(&json!({
                        "event": "entry_failed", "entry": entry.number, "line": entry.line, "error": error,
                    }));
                } else {
                    self.emit(&format!("[{}] {error}", entry.place()));
                }
            }
            BatchEvent::Stopping { running } => {
                if self.json {
                    self.emit_json(&json!({ "event": "batch_stopping", "running": running }));
                } else {
                    let line = format!(
                        "interrupted: cancelling {running} running tasks (continue with `reelforge batch {} --resume`)",
                        self.file
                    );
                    self.emit(&line);
                }
            }
        }
    }

    fn finished(&mut self, summary: &Summary, path: &std::path::Path) -> anyhow::Result<()> {
        if self.json {
            let mut value = serde_json::to_value(summary).context("cannot encode the summary")?;
            if let Value::Object(object) = &mut value {
                object.insert("event".into(), "batch_summary".into());
                object.insert("summary_path".into(), path.display().to_string().into());
            }
            self.emit_json(&value);
            return Ok(());
        }
        let table = summary_table(summary);
        self.emit(table.trim_end());
        self.emit(&format!("summary: {}", path.display()));
        if !summary.all_done() {
            self.emit(&format!(
                "to finish the rest: reelforge batch {} --resume",
                self.file
            ));
        }
        Ok(())
    }
}

/// The table printed at the end: entry, subject, state, what failed, output or error, time.
fn summary_table(summary: &Summary) -> String {
    let mut out = format!(
        "{:<6} {:<28} {:<11} {:<9} {:>8}  output / error\n",
        "line", "subject", "state", "stage", "time"
    );
    for e in &summary.entries {
        let line = e.line.map_or(format!("#{}", e.entry), |l| l.to_string());
        let state = if e.kept {
            "done (kept)"
        } else {
            e.state.word()
        };
        let stage = e.failed_stage.map_or("", |s| s.name());
        let time = e
            .elapsed_ms
            .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default();
        let detail = match (&e.output, &e.error) {
            (Some(output), _) if e.state == EntryState::Done => output.display().to_string(),
            (_, Some(error)) => error.clone(),
            _ => String::new(),
        };
        out += &format!(
            "{line:<6} {:<28} {state:<11} {stage:<9} {time:>8}  {detail}\n",
            truncate(&e.subject, 28)
        );
    }
    let c = &summary.counts;
    out += &format!(
        "batch {}: {} done, {} failed, {} cancelled, {} not started of {} in {:.1} s\n",
        summary.batch,
        c.done,
        c.failed,
        c.cancelled,
        c.not_started,
        c.total,
        summary.wall_ms as f64 / 1000.0
    );
    out
}

/// The compact view: stage starts and ends, problems, and task ends; progress, downloads
/// and cache lines would drown N interleaved tasks.
fn worth_a_line(kind: &EventKind) -> bool {
    match kind {
        EventKind::Submitted { .. }
        | EventKind::Started { .. }
        | EventKind::Finished { .. }
        | EventKind::Failed { .. }
        | EventKind::Cancelled
        | EventKind::TaskDone { .. }
        | EventKind::TaskStopped { .. } => true,
        EventKind::Log { level, .. } => *level != LogLevel::Info,
        _ => false,
    }
}
