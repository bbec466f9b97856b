//! `reelforge tasks …` and `reelforge cache …`: the task store and cache from the shell.

use super::make::follow;
use super::{CacheCommand, Cli, TasksCommand, session};
use crate::pipeline::Stage;
use crate::store::{StageStatus, TaskRecord, TaskState};
use std::process::ExitCode;

pub async fn run(cli: &Cli, command: TasksCommand) -> anyhow::Result<ExitCode> {
    match command {
        TasksCommand::List { json } => {
            let store = session::open_store(cli)?;
            let tasks = store.tasks.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tasks)?);
            } else if tasks.is_empty() {
                println!("no tasks yet: reelforge make \"Why do cats purr?\"");
            } else {
                for task in &tasks {
                    println!("{}", list_line(task));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TasksCommand::Show { id, json } => {
            let store = session::open_store(cli)?;
            let task = store.tasks.get(&id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&task)?);
            } else {
                print!("{}", show_text(&task, &store.tasks.task_dir(&id)));
            }
            Ok(ExitCode::SUCCESS)
        }
        TasksCommand::Resume { id, json } => continue_task(cli, &id, None, json).await,
        TasksCommand::Retry { id, stage, json } => continue_task(cli, &id, Some(stage), json).await,
        TasksCommand::Rm { id } => {
            let store = session::open_store(cli)?;
            store.tasks.remove(&id)?;
            println!("removed task {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn continue_task(
    cli: &Cli,
    id: &str,
    stage: Option<Stage>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let config = session::load_config(cli, None)?;
    let session = session::start(cli, config.clone(), false).await?;
    let record = session.store.tasks.get(id)?;
    let local = !record.spec.footage_dirs.is_empty() || !config.footage.local_dirs.is_empty();
    session::preflight(&config, &record.spec.planned_stages(), local)?;
    let mut events = session.pipeline.subscribe().await?;
    match stage {
        Some(stage) => session.pipeline.retry(id, stage).await?,
        None => session.pipeline.resume(id).await?,
    }
    follow(&session.pipeline, &mut events, id, json).await
}

fn state_word(task: &TaskRecord) -> &'static str {
    match task.state {
        // Nobody else can hold the store while we read it, so a running task was interrupted.
        TaskState::Running => "interrupted",
        TaskState::Done => "done",
        TaskState::Failed => "failed",
        TaskState::Cancelled => "cancelled",
    }
}

fn list_line(task: &TaskRecord) -> String {
    let output = task
        .output
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!(
        "{}  {:<11} {:>3.0}%  {:<40}  {}",
        task.id,
        state_word(task),
        task.progress() * 100.0,
        truncate(&task.spec.subject, 40),
        output
    )
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

fn show_text(task: &TaskRecord, dir: &std::path::Path) -> String {
    let mut out = format!(
        "task     {}\nsubject  {}\nstate    {}\nfolder   {}\n",
        task.id,
        task.spec.subject,
        state_word(task),
        dir.display()
    );
    if let Some(output) = &task.output {
        out += &format!("output   {}\n", output.display());
    }
    if let Some(error) = &task.error {
        out += &format!("error    {error}\n");
    }
    out += "\nstage      status     tries  time     result\n";
    for stage in Stage::ALL {
        let r = task.stage(stage);
        let time = r
            .elapsed_ms
            .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default();
        let result = match r.status {
            StageStatus::Failed => r.error.clone().unwrap_or_default(),
            _ => r.summary.clone(),
        };
        let status = format!("{:?}", r.status).to_lowercase();
        out += &format!(
            "{:<10} {status:<10} {:>5}  {time:<8} {result}\n",
            stage.name(),
            r.attempts
        );
    }
    out
}

pub fn run_cache(cli: &Cli, command: CacheCommand) -> anyhow::Result<ExitCode> {
    let store = session::open_store(cli)?;
    match command {
        CacheCommand::Stats => {
            let stats = store.cache.stats()?;
            if stats.kinds.is_empty() {
                println!("the cache is empty");
            }
            for (kind, s) in &stats.kinds {
                println!(
                    "{kind:<14} {:>6} entries  {:>10.1} KB  saves ~{:.1} s per hit",
                    s.entries,
                    s.bytes as f64 / 1024.0,
                    s.saved_ms_per_hit as f64 / 1000.0
                );
            }
        }
        CacheCommand::Clear => {
            let removed = store.cache.clear()?;
            println!("removed {removed} cache entries");
        }
    }
    Ok(ExitCode::SUCCESS)
}
