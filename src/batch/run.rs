//! Runs a planned batch on one pipeline: at most N of its tasks in flight, the next one
//! submitted (or resumed) when one ends. A stop request (Ctrl-C) cancels the running tasks
//! cleanly and starts nothing more, so `--resume` can finish the batch later.
//!
//! The pipeline already runs many tasks at once through its stage actors; the cap here keeps
//! a 1 000-entry file from holding 1 000 tasks' downloads and folders open together.

use super::plan::{Plan, Start};
use super::summary::{EntryResult, Summary};
use super::{BatchError, Entry, MAX_CONCURRENT};
use crate::pipeline::events::now_ms;
use crate::pipeline::{Event, PipelineError, PipelineHandle, TaskId};
use crate::store::TaskStore;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// What happens during a run, for the caller to show.
#[derive(Debug)]
pub enum BatchEvent<'a> {
    /// An event of one entry's task.
    Task { entry: &'a Entry, event: &'a Event },
    /// Done by an earlier run: kept as it is.
    Kept { entry: &'a Entry, task: &'a str },
    /// The entry's task could not be submitted or resumed.
    StartFailed { entry: &'a Entry, error: String },
    /// A stop was asked for: the running tasks are being cancelled.
    Stopping { running: usize },
}

/// Runs `plan` with at most `max_concurrent` tasks in flight until every entry ended, or
/// until `stop` and the running tasks have wound down.
pub async fn run_batch(
    pipeline: &PipelineHandle,
    tasks: &TaskStore,
    file: &Path,
    plan: Plan,
    max_concurrent: usize,
    stop: CancellationToken,
    mut observe: impl FnMut(BatchEvent<'_>),
) -> Result<Summary, BatchError> {
    if !(1..=MAX_CONCURRENT).contains(&max_concurrent) {
        return Err(BatchError::Concurrency(max_concurrent));
    }
    let started_ms = now_ms();
    // Subscribed before the first submit, so no task's first events can be missed.
    let mut events = pipeline.subscribe().await?;
    let mut entries = Vec::with_capacity(plan.entries.len());
    let mut results: Vec<Option<EntryResult>> = Vec::with_capacity(plan.entries.len());
    let mut queue = VecDeque::new();
    for (index, planned) in plan.entries.into_iter().enumerate() {
        let result = match planned.start {
            Start::Keep(record) => {
                observe(BatchEvent::Kept {
                    entry: &planned.entry,
                    task: &record.id,
                });
                let dir = tasks.task_dir(&record.id);
                Some(EntryResult::from_record(
                    &planned.entry,
                    &record,
                    &dir,
                    None,
                    true,
                ))
            }
            start => {
                queue.push_back((index, start));
                None
            }
        };
        entries.push(planned.entry);
        results.push(result);
    }
    let mut running: HashMap<TaskId, (usize, Instant)> = HashMap::new();
    let mut stopping = false;
    loop {
        while !stopping && running.len() < max_concurrent {
            let Some((index, start)) = queue.pop_front() else {
                break;
            };
            let entry = &entries[index];
            let started = match start {
                Start::Resume(task) => pipeline.resume(&task).await.map(|()| task),
                _ => pipeline.submit(entry.task.spec.clone()).await,
            };
            match started {
                Ok(task) => {
                    running.insert(task, (index, Instant::now()));
                }
                Err(PipelineError::Stopped) => return Err(PipelineError::Stopped.into()),
                Err(e) => {
                    let error = format!("could not start: {e}");
                    observe(BatchEvent::StartFailed {
                        entry,
                        error: error.clone(),
                    });
                    results[index] = Some(EntryResult::start_failed(entry, None, error));
                }
            }
        }
        if running.is_empty() && (stopping || queue.is_empty()) {
            break;
        }
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else {
                    return Err(PipelineError::Stopped.into());
                };
                let Some(&(index, since)) = running.get(&event.task) else {
                    continue;
                };
                let entry = &entries[index];
                observe(BatchEvent::Task { entry, event: &event });
                if event.ends_task() {
                    running.remove(&event.task);
                    let elapsed = since.elapsed().as_millis() as u64;
                    results[index] = Some(match pipeline.record(&event.task).await {
                        Ok(record) => EntryResult::from_record(
                            entry,
                            &record,
                            &tasks.task_dir(&record.id),
                            Some(elapsed),
                            false,
                        ),
                        Err(e) => EntryResult::start_failed(
                            entry,
                            Some(event.task.clone()),
                            format!("its record cannot be read: {e}"),
                        ),
                    });
                }
            }
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                observe(BatchEvent::Stopping { running: running.len() });
                for task in running.keys() {
                    // A task that ended meanwhile is refused: its end event is on its way.
                    pipeline.cancel(task, None).await.ok();
                }
            }
        }
    }
    let results = entries
        .iter()
        .zip(results)
        .map(|(entry, result)| result.unwrap_or_else(|| EntryResult::not_started(entry)))
        .collect();
    Ok(Summary::new(
        plan.id,
        super::spec::absolute(file),
        started_ms,
        max_concurrent,
        plan.resumed,
        stopping,
        results,
    ))
}
