//! The public face of the engine: `Pipeline::start` and the cloneable `PipelineHandle`.
//!
//! Commands go down a bounded channel and are answered on oneshots; events come back up on
//! unbounded channels, so no cycle of bounded channels can deadlock.

use super::Stage;
use super::actor::spawn_stage_actor;
use super::events::{Event, TaskId};
use super::job::StageWork;
use super::schedule::{ResourceClass, Scheduler};
use super::supervisor::Supervisor;
use crate::procstat::available_cores;
use crate::retry::RetryPolicy;
use crate::store::{Store, StoreError, TaskRecord, TaskSpec};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("task {task}: {message}")]
    Rejected { task: TaskId, message: String },
    #[error("invalid task: {0}")]
    InvalidSpec(String),
    #[error("the pipeline has stopped")]
    Stopped,
}

pub(crate) enum Command {
    Submit {
        spec: Box<TaskSpec>,
        reply: oneshot::Sender<Result<TaskId, PipelineError>>,
    },
    Resume {
        task: TaskId,
        reply: oneshot::Sender<Result<(), PipelineError>>,
    },
    Retry {
        task: TaskId,
        stage: Stage,
        reply: oneshot::Sender<Result<(), PipelineError>>,
    },
    Cancel {
        task: TaskId,
        stage: Option<Stage>,
        reply: oneshot::Sender<Result<(), PipelineError>>,
    },
    Subscribe {
        reply: oneshot::Sender<mpsc::UnboundedReceiver<Event>>,
    },
    Record {
        task: TaskId,
        reply: oneshot::Sender<Result<TaskRecord, PipelineError>>,
    },
}

/// One implementation per stage.
pub struct StageSet {
    works: BTreeMap<Stage, Arc<dyn StageWork>>,
}

impl StageSet {
    /// Every stage must be given; `missing` names the first one that is not.
    pub fn new(works: BTreeMap<Stage, Arc<dyn StageWork>>) -> Result<StageSet, PipelineError> {
        if let Some(missing) = Stage::ALL.into_iter().find(|s| !works.contains_key(s)) {
            return Err(PipelineError::InvalidSpec(format!(
                "no implementation for stage {missing}"
            )));
        }
        Ok(StageSet { works })
    }
}

#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub retry: RetryPolicy,
    /// Concurrent runs per stage across all tasks.
    pub limits: BTreeMap<Stage, usize>,
    pub mailbox: usize,
    /// CPU slots shared by the stages of class `Cpu` (normally the number of cores).
    pub cpu_slots: usize,
    /// Each stage's resource class; a stage not listed is `Io`.
    pub classes: BTreeMap<Stage, ResourceClass>,
    /// Downloaded footage held for unrendered tasks before footage runs wait; 0: no limit.
    pub footage_budget_bytes: u64,
}

impl EngineSettings {
    /// The classes of the stages that compute on this machine whatever the engine: voice,
    /// subtitles (Whisper), select (embeddings) take a slot, render (ffmpeg, which uses
    /// every core itself) takes them all.
    pub fn default_classes(cpu_slots: usize) -> BTreeMap<Stage, ResourceClass> {
        let mut classes = BTreeMap::new();
        for stage in [Stage::Voice, Stage::Subtitles, Stage::Select] {
            classes.insert(stage, ResourceClass::Cpu { slots: 1 });
        }
        classes.insert(Stage::Render, ResourceClass::Cpu { slots: cpu_slots });
        classes
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            retry: RetryPolicy {
                max_attempts: 4,
                base: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
            limits: Stage::ALL.into_iter().map(|s| (s, 4)).collect(),
            mailbox: 64,
            cpu_slots: available_cores(),
            classes: EngineSettings::default_classes(available_cores()),
            footage_budget_bytes: 0,
        }
    }
}

#[derive(Clone)]
pub struct PipelineHandle {
    commands: mpsc::Sender<Command>,
}

pub struct Pipeline;

impl Pipeline {
    /// Starts the supervisor and the seven stage actors on the current tokio runtime.
    pub fn start(store: Store, stages: StageSet, settings: EngineSettings) -> PipelineHandle {
        let scheduler = Arc::new(Scheduler::new(
            settings.cpu_slots,
            settings.classes.clone(),
            settings.footage_budget_bytes,
        ));
        let actors = stages
            .works
            .into_iter()
            .map(|(stage, work)| {
                let limit = settings.limits.get(&stage).copied().unwrap_or(1);
                let mailbox = spawn_stage_actor(
                    work,
                    limit,
                    settings.retry,
                    settings.mailbox,
                    scheduler.clone(),
                );
                (stage, mailbox)
            })
            .collect();
        let (tx, rx) = mpsc::channel(settings.mailbox);
        tokio::spawn(Supervisor::new(store, actors, scheduler).run(rx));
        PipelineHandle { commands: tx }
    }
}

impl PipelineHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, PipelineError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| PipelineError::Stopped)?;
        answer.await.map_err(|_| PipelineError::Stopped)
    }

    pub async fn submit(&self, spec: TaskSpec) -> Result<TaskId, PipelineError> {
        self.ask(|reply| Command::Submit {
            spec: Box::new(spec),
            reply,
        })
        .await?
    }

    /// Continues an interrupted, failed or cancelled task from its last finished stages.
    pub async fn resume(&self, task: &str) -> Result<(), PipelineError> {
        let task = task.to_string();
        self.ask(|reply| Command::Resume { task, reply }).await?
    }

    /// Re-runs `stage` and everything after it, reusing what comes before.
    pub async fn retry(&self, task: &str, stage: Stage) -> Result<(), PipelineError> {
        let task = task.to_string();
        self.ask(|reply| Command::Retry { task, stage, reply })
            .await?
    }

    /// Cancels one stage of a task, or the whole task when `stage` is `None`.
    pub async fn cancel(&self, task: &str, stage: Option<Stage>) -> Result<(), PipelineError> {
        let task = task.to_string();
        self.ask(|reply| Command::Cancel { task, stage, reply })
            .await?
    }

    /// Every event from now on, in order.
    pub async fn subscribe(&self) -> Result<mpsc::UnboundedReceiver<Event>, PipelineError> {
        self.ask(|reply| Command::Subscribe { reply }).await
    }

    /// The task's record as the supervisor holds it now.
    pub async fn record(&self, task: &str) -> Result<TaskRecord, PipelineError> {
        let task = task.to_string();
        self.ask(|reply| Command::Record { task, reply }).await?
    }
}
