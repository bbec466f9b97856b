//! The supervisor's half that reacts to stage runs: started / failed / finished reports,
//! and settling a task once nothing more can run.

use super::Supervisor;
use crate::pipeline::events::{Event, EventKind, now_ms};
use crate::pipeline::job::{Report, StageOutput};
use crate::pipeline::{Stage, StageError};
use crate::store::{StageStatus, StageTiming, TaskRecord, TaskState};
use std::path::Path;

impl Supervisor {
    pub(super) async fn handle_report(&mut self, report: Report) {
        match report {
            Report::Event(event) => self.handle_stage_event(event),
            Report::Ended {
                task,
                stage,
                attempts,
                result,
                elapsed_ms,
            } => {
                self.handle_ended(&task, stage, attempts, result, elapsed_ms)
                    .await
            }
        }
    }

    fn handle_stage_event(&mut self, event: Event) {
        if let Some(stage) = event.stage {
            match &event.kind {
                EventKind::Started { .. } => self.meter.started(&event.task, stage),
                EventKind::CacheHit { kind, saved_ms } => {
                    self.meter
                        .cache_lookup(&event.task, stage, kind, Some(*saved_ms))
                }
                EventKind::CacheMiss { kind } => {
                    self.meter.cache_lookup(&event.task, stage, kind, None)
                }
                _ => {}
            }
        }
        let persist = matches!(
            event.kind,
            EventKind::Started { .. } | EventKind::Failed { .. }
        );
        if let (true, Some(stage), Some(active)) =
            (persist, event.stage, self.active.get_mut(&event.task))
        {
            let r = active.record.stage_mut(stage);
            match &event.kind {
                EventKind::Started { attempt } => {
                    r.status = StageStatus::Running;
                    r.attempts = *attempt;
                    r.started_ms.get_or_insert(event.at_ms);
                }
                EventKind::Failed { error, .. } => r.error = Some(error.clone()),
                _ => {}
            }
            let record = active.record.clone();
            self.save_soon(&record);
        }
        self.outbox.push(event);
    }

    async fn handle_ended(
        &mut self,
        task: &str,
        stage: Stage,
        attempts: u32,
        result: Result<StageOutput, StageError>,
        elapsed_ms: u64,
    ) {
        let usage = self.meter.finish(task, stage);
        match (&result, stage) {
            (Ok(output), Stage::Footage) => {
                self.scheduler.footage.hold(task, output.external_bytes)
            }
            (Ok(output), Stage::Select) => self
                .scheduler
                .footage
                .hold_more(task, output.external_bytes),
            (_, Stage::Render) => self.scheduler.footage.release(task),
            _ => {}
        }
        let Some(active) = self.active.get_mut(task) else {
            return;
        };
        active.running.remove(&stage);
        let r = active.record.stage_mut(stage);
        let mut timing = None;
        r.attempts = r.attempts.max(attempts);
        r.finished_ms = Some(now_ms());
        r.elapsed_ms = Some(elapsed_ms);
        let kind = match result {
            Ok(output) => {
                r.status = StageStatus::Done;
                timing = Some(StageTiming {
                    task: task.to_string(),
                    stage,
                    started_ms: r.started_ms.unwrap_or_else(now_ms),
                    finished_ms: r.finished_ms.unwrap_or_else(now_ms),
                    wall_ms: elapsed_ms,
                    cpu_ms: usage.cpu_ms.round() as u64,
                    bytes: files_size(&self.store.tasks.task_dir(task), &output.files)
                        + output.external_bytes,
                    cache: usage.cache,
                    peak_rss_bytes: usage.peak_rss_bytes,
                    attempts: r.attempts,
                    batch: active.spec.batch.as_ref().map(|b| b.id.clone()),
                });
                r.outputs = output.files;
                r.summary = output.summary;
                EventKind::Finished { elapsed_ms }
            }
            Err(e) if e.is_cancelled() => {
                r.status = StageStatus::Cancelled;
                EventKind::Cancelled
            }
            Err(e) => {
                let error = format!("stage {stage} failed: {}", e.message);
                r.status = StageStatus::Failed;
                r.error = Some(error.clone());
                EventKind::Failed {
                    error,
                    will_retry: false,
                    retry_in_ms: None,
                }
            }
        };
        let record = active.record.clone();
        if let Some(timing) = timing {
            // Made durable with the record by the same flush.
            if let Err(e) = self.store.timings.record(&timing) {
                tracing::warn!(task, %stage, "cannot record the stage's timing: {e}");
            }
        }
        self.save(&record);
        self.announce(task, Some(stage), kind);
        self.dispatch_ready(task).await;
    }

    /// Ends the task when nothing runs and nothing more can start.
    pub(super) fn settle(&mut self, task: &str) {
        let Some(active) = self.active.get(task) else {
            return;
        };
        let record = &active.record;
        if record.is_active()
            || (!active.cancel.is_cancelled() && !record.ready_stages().is_empty())
        {
            return;
        }
        let mut record = record.clone();
        // Whatever the outcome, the task's downloaded footage no longer waits for a render.
        self.scheduler.footage.release(task);
        record.finished_ms = Some(now_ms());
        let elapsed_ms = record
            .finished_ms
            .unwrap_or(0)
            .saturating_sub(record.created_ms);
        let kind = if record.all_done() {
            record.state = TaskState::Done;
            record.output = final_output(&record, &self.store.tasks.task_dir(task));
            EventKind::TaskDone {
                output: record.output.as_ref().map(|p| p.display().to_string()),
                elapsed_ms,
            }
        } else {
            let failures: Vec<String> = record
                .stages
                .values()
                .filter_map(|r| {
                    (r.status == StageStatus::Failed)
                        .then(|| r.error.clone())
                        .flatten()
                })
                .collect();
            record.state = if failures.is_empty() {
                TaskState::Cancelled
            } else {
                TaskState::Failed
            };
            let reason = if failures.is_empty() {
                let cancelled: Vec<&str> = record
                    .stages
                    .iter()
                    .filter(|(_, r)| r.status == StageStatus::Cancelled)
                    .map(|(s, _)| s.name())
                    .collect();
                format!("cancelled ({})", cancelled.join(", "))
            } else {
                failures.join("; ")
            };
            record.error = Some(reason.clone());
            EventKind::TaskStopped { reason }
        };
        self.active.remove(task);
        self.save(&record);
        self.announce(task, None, kind);
    }
}

/// The video if the task rendered one, else the last planned stage's first output.
fn final_output(record: &TaskRecord, dir: &std::path::Path) -> Option<std::path::PathBuf> {
    if let Some(out) = &record.spec.out
        && record.stage(Stage::Render).status == StageStatus::Done
    {
        return Some(out.clone());
    }
    Stage::ALL
        .into_iter()
        .rev()
        .map(|s| record.stage(s))
        .find(|r| r.status == StageStatus::Done && !r.outputs.is_empty())
        .map(|r| dir.join(&r.outputs[0]))
}

/// Bytes of a stage's output files (relative to the task folder); missing files count 0.
fn files_size(dir: &Path, files: &[String]) -> u64 {
    files
        .iter()
        .filter_map(|file| std::fs::metadata(dir.join(file)).ok())
        .map(|meta| meta.len())
        .sum()
}
