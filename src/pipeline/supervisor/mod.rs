//! The supervisor: the one place where task state changes. It owns every active task's stage
//! graph, starts a stage when its inputs are ready, routes cancel and retry, and persists each
//! transition to the task store before announcing it (group commit: one flush per batch).

use super::Stage;
use super::actor::Job;
use super::events::{Event, EventKind, TaskId};
use super::handle::{Command, PipelineError};
use super::job::{JobCtx, Report};
use super::schedule::Scheduler;
use super::task_id::new_task_id;
use crate::fsutil::remove_part_files;
use crate::store::{StageStatus, Store, TaskRecord, TaskSpec, TaskState};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod meter;
mod reports;

/// Reports handled per batch before the store is flushed and events go out.
const BATCH: usize = 512;

struct ActiveTask {
    record: TaskRecord,
    spec: Arc<TaskSpec>,
    cancel: CancellationToken,
    running: HashMap<Stage, CancellationToken>,
}

pub(crate) struct Supervisor {
    store: Store,
    actors: BTreeMap<Stage, mpsc::Sender<Job>>,
    active: HashMap<TaskId, ActiveTask>,
    subscribers: Vec<mpsc::UnboundedSender<Event>>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports_rx: Option<mpsc::UnboundedReceiver<Report>>,
    /// Events waiting for the next flush.
    outbox: Vec<Event>,
    dirty: bool,
    scheduler: Arc<Scheduler>,
    meter: meter::Meter,
}

impl Supervisor {
    pub(crate) fn new(
        store: Store,
        actors: BTreeMap<Stage, mpsc::Sender<Job>>,
        scheduler: Arc<Scheduler>,
    ) -> Self {
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        Supervisor {
            store,
            actors,
            active: HashMap::new(),
            subscribers: Vec::new(),
            reports_tx,
            reports_rx: Some(reports_rx),
            outbox: Vec::new(),
            dirty: false,
            scheduler,
            meter: meter::Meter::new(),
        }
    }

    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut reports = self
            .reports_rx
            .take()
            .expect("run is called once per supervisor");
        // Long runs that report nothing (a render) still get their memory peaks noted.
        let mut meter_tick = tokio::time::interval(std::time::Duration::from_secs(1));
        meter_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = meter_tick.tick() => {
                    if !self.meter.is_idle() {
                        self.meter.tick();
                    }
                }
                command = commands.recv() => match command {
                    Some(command) => self.handle_command(command).await,
                    None => break,
                },
                Some(report) = reports.recv() => {
                    self.handle_report(report).await;
                    for _ in 0..BATCH {
                        match reports.try_recv() {
                            Ok(report) => self.handle_report(report).await,
                            Err(_) => break,
                        }
                    }
                }
            }
            self.commit();
        }
        // Every handle is gone: stop what still runs so children are killed, not orphaned.
        for task in self.active.values() {
            task.cancel.cancel();
        }
    }

    /// Makes the batch durable, then announces it.
    fn commit(&mut self) {
        if self.dirty {
            if let Err(e) = self.store.tasks.flush() {
                tracing::error!("task store flush failed: {e}");
            }
            self.dirty = false;
        }
        let events = std::mem::take(&mut self.outbox);
        self.subscribers.retain(|sub| !sub.is_closed());
        for event in events {
            for sub in &self.subscribers {
                let _ = sub.send(event.clone());
            }
        }
    }

    fn announce(&mut self, task: &str, stage: Option<Stage>, kind: EventKind) {
        self.outbox.push(Event::new(task, stage, kind));
    }

    /// Writes a transition that must survive a crash: flushed before it is announced.
    fn save(&mut self, record: &TaskRecord) {
        self.save_soon(record);
        self.dirty = true;
    }

    /// Writes a transition that a crash may lose harmlessly (queued, started, will retry):
    /// resume resets every unfinished stage anyway. sled flushes it within a second.
    fn save_soon(&mut self, record: &TaskRecord) {
        if let Err(e) = self.store.tasks.put(record) {
            tracing::error!(task = %record.id, "cannot persist task: {e}");
        }
    }

    async fn handle_command(&mut self, command: Command) {
        match command {
            Command::Submit { spec, reply } => {
                let _ = reply.send(self.submit(*spec).await);
            }
            Command::Resume { task, reply } => {
                let _ = reply.send(self.resume(&task).await);
            }
            Command::Retry { task, stage, reply } => {
                let _ = reply.send(self.retry(&task, stage).await);
            }
            Command::Cancel { task, stage, reply } => {
                let _ = reply.send(self.cancel(&task, stage));
            }
            Command::Subscribe { reply } => {
                let (tx, rx) = mpsc::unbounded_channel();
                self.subscribers.push(tx);
                let _ = reply.send(rx);
            }
            Command::Record { task, reply } => {
                let record = match self.active.get(&task) {
                    Some(active) => Ok(active.record.clone()),
                    None => self.store.tasks.get(&task).map_err(PipelineError::from),
                };
                let _ = reply.send(record);
            }
        }
    }

    async fn submit(&mut self, spec: TaskSpec) -> Result<TaskId, PipelineError> {
        if spec.subject.trim().is_empty()
            && spec.script.as_deref().is_none_or(|s| s.trim().is_empty())
            && spec.narration.is_none()
        {
            return Err(PipelineError::InvalidSpec(
                "the subject is empty: say what the video is about, e.g. reelforge make \"Why do cats purr?\"".into(),
            ));
        }
        let mut id = new_task_id();
        while self.active.contains_key(&id) || self.store.tasks.contains(&id) {
            id = new_task_id();
        }
        let record = TaskRecord::new(id.clone(), spec);
        self.activate(record, "submitted").await?;
        Ok(id)
    }

    async fn resume(&mut self, task: &str) -> Result<(), PipelineError> {
        if self.active.contains_key(task) {
            return Err(rejected(task, "is already running"));
        }
        let mut record = self.store.tasks.get(task)?;
        for stage in Stage::ALL {
            let stage_record = record.stage_mut(stage);
            if !matches!(
                stage_record.status,
                StageStatus::Done | StageStatus::Skipped
            ) {
                stage_record.reset();
            }
        }
        self.activate(record, "resumed").await
    }

    async fn retry(&mut self, task: &str, stage: Stage) -> Result<(), PipelineError> {
        let mut record = match self.active.get(task) {
            Some(active) => active.record.clone(),
            None => self.store.tasks.get(task)?,
        };
        if record.stage(stage).status == StageStatus::Skipped {
            return Err(rejected(
                task,
                &format!("stage {stage} is not part of this task (--stop-at)"),
            ));
        }
        let downstream = stage.with_downstream();
        if let Some(busy) = downstream.iter().find(|s| {
            matches!(
                record.stage(**s).status,
                StageStatus::Running | StageStatus::Queued
            )
        }) {
            return Err(rejected(
                task,
                &format!("stage {busy} is still running; cancel it first, then retry"),
            ));
        }
        let upstream = stage.with_upstream();
        for s in Stage::ALL {
            let r = record.stage_mut(s);
            if matches!(
                r.status,
                StageStatus::Skipped | StageStatus::Running | StageStatus::Queued
            ) {
                continue;
            }
            // The stage and its dependents run again; what it needs runs only if missing.
            if downstream.contains(&s) || (upstream.contains(&s) && r.status != StageStatus::Done) {
                r.reset();
            }
        }
        if let Some(active) = self.active.get_mut(task) {
            if active.cancel.is_cancelled() {
                active.cancel = CancellationToken::new();
            }
            active.record = record.clone();
            record.state = TaskState::Running;
            active.record.state = TaskState::Running;
            self.save(&record);
            self.dispatch_ready(task).await;
            return Ok(());
        }
        self.activate(record, "retried").await
    }

    fn cancel(&mut self, task: &str, stage: Option<Stage>) -> Result<(), PipelineError> {
        let Some(active) = self.active.get_mut(task) else {
            return Err(rejected(task, "is not running"));
        };
        let mut newly_cancelled = Vec::new();
        match stage {
            None => {
                active.cancel.cancel();
                for (s, r) in active.record.stages.iter_mut() {
                    if r.status == StageStatus::Pending {
                        r.status = StageStatus::Cancelled;
                        newly_cancelled.push(*s);
                    }
                }
            }
            Some(stage) => {
                if let Some(token) = active.running.get(&stage) {
                    token.cancel();
                } else if active.record.stage(stage).status == StageStatus::Pending {
                    active.record.stage_mut(stage).status = StageStatus::Cancelled;
                    newly_cancelled.push(stage);
                } else {
                    let status = active.record.stage(stage).status;
                    return Err(rejected(
                        task,
                        &format!("stage {stage} is not running (it is {status:?})").to_lowercase(),
                    ));
                }
            }
        }
        let record = active.record.clone();
        self.save(&record);
        for s in newly_cancelled {
            self.announce(task, Some(s), EventKind::Cancelled);
        }
        self.settle(task);
        Ok(())
    }

    /// Takes a task record under supervision and starts whatever is ready.
    async fn activate(&mut self, mut record: TaskRecord, how: &str) -> Result<(), PipelineError> {
        let dir = self.store.tasks.task_dir(&record.id);
        std::fs::create_dir_all(&dir).map_err(|source| crate::store::StoreError::Io {
            context: format!("cannot create task folder {}", dir.display()),
            source,
        })?;
        // Leftovers of a killed run: nothing half-written may survive to look complete.
        remove_part_files(&dir);
        let _ = std::fs::remove_dir_all(dir.join(".work"));
        record.state = TaskState::Running;
        record.finished_ms = None;
        record.error = None;
        self.save(&record);
        let id = record.id.clone();
        tracing::info!(task = %id, "task {how}: {}", record.spec.subject);
        self.announce(
            &id,
            None,
            EventKind::Submitted {
                subject: record.spec.subject.clone(),
            },
        );
        self.active.insert(
            id.clone(),
            ActiveTask {
                spec: Arc::new(record.spec.clone()),
                record,
                cancel: CancellationToken::new(),
                running: HashMap::new(),
            },
        );
        self.dispatch_ready(&id).await;
        Ok(())
    }

    async fn dispatch_ready(&mut self, task: &str) {
        let Some(active) = self.active.get(task) else {
            return;
        };
        if active.cancel.is_cancelled() {
            self.settle(task);
            return;
        }
        for stage in active.record.ready_stages() {
            self.dispatch(task, stage).await;
        }
        self.settle(task);
    }

    async fn dispatch(&mut self, task: &str, stage: Stage) {
        let dir = self.store.tasks.task_dir(task);
        let Some(active) = self.active.get_mut(task) else {
            return;
        };
        let token = active.cancel.child_token();
        active.running.insert(stage, token.clone());
        let stage_record = active.record.stage_mut(stage);
        stage_record.status = StageStatus::Queued;
        stage_record.error = None;
        let attempt = stage_record.attempts + 1;
        let ctx = JobCtx {
            task: task.to_string(),
            stage,
            attempt,
            spec: active.spec.clone(),
            dir,
            cancel: token,
            reports: self.reports_tx.clone(),
        };
        let record = active.record.clone();
        self.save_soon(&record);
        self.announce(task, Some(stage), EventKind::Queued);
        let mailbox = self.actors.get(&stage).expect("StageSet holds every stage");
        if mailbox.send(Job { ctx }).await.is_err() {
            tracing::error!("stage actor {stage} has stopped");
        }
    }
}

fn rejected(task: &str, message: &str) -> PipelineError {
    PipelineError::Rejected {
        task: task.to_string(),
        message: message.to_string(),
    }
}
