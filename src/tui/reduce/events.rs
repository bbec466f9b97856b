//! Pipeline events and stored task records folded into the dashboard's state (a part of
//! `reduce`, the one place that state changes).

use super::{Effect, reselect};
use crate::pipeline::Stage;
use crate::pipeline::events::{Event, EventKind, LogLevel};
use crate::store::{StageStatus, TaskRecord, TaskState};
use crate::tui::state::{DownloadView, LogLine, TaskStatus, TaskView, UiState};

pub(super) fn apply_event(state: &mut UiState, event: Event) -> Vec<Effect> {
    let mut effects = Vec::new();
    if state.task(&event.task).is_none() {
        let subject = match &event.kind {
            EventKind::Submitted { subject } => subject.clone(),
            _ => String::new(),
        };
        let selected = state.selected_task().map(|t| t.id.clone());
        state
            .tasks
            .push(TaskView::new(event.task.clone(), subject, event.at_ms));
        state.sort_tasks();
        if state.follow_new || selected.is_none() {
            state.follow_new = false;
            reselect(state, Some(&event.task));
        } else {
            reselect(state, selected.as_deref());
        }
        effects.push(Effect::Refresh(event.task.clone()));
    }
    let task = state
        .task_mut(&event.task)
        .expect("the task view was created above");
    let at = event.at_ms;
    match (event.stage, event.kind) {
        (None, EventKind::Submitted { subject }) => {
            task.subject = subject;
            task.status = TaskStatus::Queued;
            task.error = None;
            task.finished_ms = None;
            if !effects.contains(&Effect::Refresh(task.id.clone())) {
                effects.push(Effect::Refresh(task.id.clone()));
            }
        }
        (None, EventKind::TaskDone { output, .. }) => {
            task.status = TaskStatus::Done;
            task.output = output.or(task.output.take());
            task.finished_ms = Some(at);
            effects.push(Effect::Refresh(task.id.clone()));
        }
        (None, EventKind::TaskStopped { reason }) => {
            let failed = task
                .stages
                .values()
                .any(|s| s.status == StageStatus::Failed);
            task.status = if failed {
                TaskStatus::Failed
            } else {
                TaskStatus::Cancelled
            };
            task.error = Some(reason);
            task.finished_ms = Some(at);
            effects.push(Effect::Refresh(task.id.clone()));
        }
        (Some(stage), kind) => apply_stage_event(task, stage, at, kind),
        (None, _) => {}
    }
    effects
}

fn apply_stage_event(task: &mut TaskView, stage: Stage, at: u64, kind: EventKind) {
    match kind {
        EventKind::Queued => {
            let again = matches!(
                task.stage(stage).status,
                StageStatus::Done | StageStatus::Failed | StageStatus::Cancelled
            );
            if again {
                // A retry: the supervisor reset this stage and what depends on it.
                for s in stage.with_downstream() {
                    let view = task.stage_mut(s);
                    if view.status != StageStatus::Skipped {
                        *view = crate::tui::state::StageView {
                            attempt: view.attempt,
                            ..Default::default()
                        };
                    }
                }
                if stage == Stage::Footage {
                    task.downloads.clear();
                }
            }
            task.stage_mut(stage).status = StageStatus::Queued;
            if !task.status.is_active() {
                task.status = TaskStatus::Queued;
                task.finished_ms = None;
                task.error = None;
            }
        }
        EventKind::Started { attempt } => {
            let view = task.stage_mut(stage);
            view.status = StageStatus::Running;
            view.attempt = attempt;
            view.started_ms.get_or_insert(at);
            view.finished_ms = None;
            view.retry_at_ms = None;
            task.status = TaskStatus::Running;
        }
        EventKind::Progress { fraction, message } => {
            let view = task.stage_mut(stage);
            if fraction.is_some() {
                view.fraction = fraction;
            }
            view.message = message;
        }
        EventKind::CacheHit { kind, saved_ms } => {
            let count = task.cache.entry(kind).or_default();
            count.hits += 1;
            count.saved_ms += saved_ms;
        }
        EventKind::ModelReady { model, load_ms } => task.models.push((model, load_ms)),
        EventKind::Download {
            clip,
            source,
            state,
            done_bytes,
            total_bytes,
            bytes_per_sec,
            detail,
            retry_in_ms,
        } => {
            let view = DownloadView {
                clip,
                source,
                state,
                done_bytes,
                total_bytes,
                bytes_per_sec,
                detail,
                retry_at_ms: retry_in_ms.map(|ms| at + ms),
            };
            match task.downloads.iter_mut().find(|d| d.clip == view.clip) {
                Some(existing) => *existing = view,
                None => task.downloads.push(view),
            }
        }
        EventKind::Log { level, message } => task.push_log(LogLine {
            at_ms: at,
            level,
            stage: Some(stage),
            text: message,
        }),
        EventKind::Finished { elapsed_ms } => {
            let view = task.stage_mut(stage);
            view.status = StageStatus::Done;
            view.started_ms.get_or_insert(at.saturating_sub(elapsed_ms));
            view.finished_ms = Some(at);
            view.fraction = Some(1.0);
            view.retry_at_ms = None;
            view.error = None;
        }
        EventKind::Failed {
            error,
            will_retry,
            retry_in_ms,
        } => {
            let view = task.stage_mut(stage);
            view.error = Some(error.clone());
            let (level, text) = if will_retry {
                view.retry_at_ms = retry_in_ms.map(|ms| at + ms);
                (
                    LogLevel::Warn,
                    format!("attempt {} failed: {error}", view.attempt),
                )
            } else {
                view.status = StageStatus::Failed;
                view.finished_ms = Some(at);
                view.retry_at_ms = None;
                (LogLevel::Error, error)
            };
            task.push_log(LogLine {
                at_ms: at,
                level,
                stage: Some(stage),
                text,
            });
        }
        EventKind::Cancelled => {
            let view = task.stage_mut(stage);
            view.status = StageStatus::Cancelled;
            view.retry_at_ms = None;
            if view.started_ms.is_some() {
                view.finished_ms = Some(at);
            }
        }
        EventKind::CacheMiss { kind } => task.cache.entry(kind).or_default().misses += 1,
        _ => {}
    }
}

/// Brings a task's view in line with its record. A task this process is running keeps
/// what its events said (they are newer); a record adds what events never carry (skipped
/// stages, outputs, the past of a task from an earlier run).
pub(super) fn merge_record(state: &mut UiState, record: &TaskRecord) {
    let selected = state.selected_task().map(|t| t.id.clone());
    if state.task(&record.id).is_none() {
        let mut view = TaskView::new(
            record.id.clone(),
            record.spec.subject.clone(),
            record.created_ms,
        );
        view.status = match record.state {
            // Nobody is running it: the process that was is gone.
            TaskState::Running => TaskStatus::Interrupted,
            TaskState::Done => TaskStatus::Done,
            TaskState::Failed => TaskStatus::Failed,
            TaskState::Cancelled => TaskStatus::Cancelled,
        };
        view.batch = record.spec.batch.clone();
        state.tasks.push(view);
        state.sort_tasks();
        reselect(state, selected.as_deref().or(Some(&record.id)));
    }
    let task = state
        .task_mut(&record.id)
        .expect("the task view exists or was created above");
    let live = task.status.is_active();
    if task.batch != record.spec.batch {
        // Known only from the record: the task moves into its batch's group.
        task.batch = record.spec.batch.clone();
        let shown = state.selected_task().map(|t| t.id.clone());
        state.sort_tasks();
        reselect(state, shown.as_deref());
    }
    let task = state
        .task_mut(&record.id)
        .expect("the task view exists or was created above");
    if task.subject.is_empty() {
        task.subject = record.spec.subject.clone();
    }
    if let Some(output) = &record.output {
        task.output = Some(output.to_string_lossy().into_owned());
    }
    if !live {
        task.error = record.error.clone().or(task.error.take());
        task.finished_ms = record.finished_ms.or(task.finished_ms);
    }
    for (stage, r) in &record.stages {
        let view = task.stage_mut(*stage);
        let unseen = view.status == StageStatus::Pending && view.started_ms.is_none();
        if !live || unseen || r.status == StageStatus::Skipped {
            view.status = r.status;
            view.attempt = view.attempt.max(r.attempts);
            view.started_ms = r.started_ms.or(view.started_ms);
            view.finished_ms = r.finished_ms.or(view.finished_ms);
            view.error = r.error.clone().or(view.error.take());
        }
        if r.status == StageStatus::Done && !r.summary.is_empty() {
            view.message = r.summary.clone();
        }
    }
}
