//! The engine with fake stages: ordering and overlap, cancel mid-flight, retry reusing
//! upstream outputs, automatic retry of transient failures, resume after a crash.

use async_trait::async_trait;
use reelforge::fsutil::PartGuard;
use reelforge::pipeline::schedule::ResourceClass;
use reelforge::pipeline::{
    EngineSettings, Event, EventKind, JobCtx, Pipeline, PipelineHandle, RetryPolicy, Stage,
    StageError, StageOutput, StageSet, StageWork,
};
use reelforge::store::{BatchRef, StageStatus, Store, TaskSpec, TaskState};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// What a fake stage does, per stage.
#[derive(Clone, Default)]
struct Behaviour {
    delay: Duration,
    /// Fail transiently this many times before succeeding.
    transient_failures: u32,
    permanent_failure: bool,
    /// Keep a `*.part` file open while waiting (to check cleanup on cancel).
    writes_part: bool,
}

#[derive(Default)]
struct Journal {
    runs: Mutex<Vec<(String, Stage, Instant, Instant)>>,
    calls: Mutex<HashMap<(String, Stage), u32>>,
}

impl Journal {
    fn calls(&self, task: &str, stage: Stage) -> u32 {
        *self
            .calls
            .lock()
            .unwrap()
            .get(&(task.to_string(), stage))
            .unwrap_or(&0)
    }
    fn span(&self, task: &str, stage: Stage) -> (Instant, Instant) {
        let runs = self.runs.lock().unwrap();
        let run = runs
            .iter()
            .rev()
            .find(|r| r.0 == task && r.1 == stage)
            .expect("stage ran");
        (run.2, run.3)
    }
}

struct FakeStage {
    stage: Stage,
    behaviour: Behaviour,
    journal: Arc<Journal>,
    failures_left: AtomicU32,
}

#[async_trait]
impl StageWork for FakeStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let started = Instant::now();
        *self
            .journal
            .calls
            .lock()
            .unwrap()
            .entry((ctx.task.clone(), self.stage))
            .or_default() += 1;
        let file = ctx.path(&format!("{}.out", self.stage));
        let guard = PartGuard::for_final(&file);
        if self.behaviour.writes_part {
            std::fs::write(guard.path(), b"half written").unwrap();
        }
        tokio::select! {
            _ = tokio::time::sleep(self.behaviour.delay) => {}
            _ = ctx.cancel.cancelled() => return Err(StageError::cancelled()),
        }
        if self.behaviour.permanent_failure {
            return Err(StageError::permanent(format!(
                "{} input is bad: fix it",
                self.stage
            )));
        }
        let left = self.failures_left.load(Ordering::SeqCst);
        if left > 0 {
            self.failures_left.store(left - 1, Ordering::SeqCst);
            return Err(StageError::transient("HTTP 503 from fake provider"));
        }
        std::fs::write(guard.path(), format!("{} of {}", self.stage, ctx.task)).unwrap();
        guard.commit(&file).unwrap();
        self.journal.runs.lock().unwrap().push((
            ctx.task.clone(),
            self.stage,
            started,
            Instant::now(),
        ));
        Ok(StageOutput {
            files: vec![format!("{}.out", self.stage)],
            summary: "ok".into(),
            ..StageOutput::default()
        })
    }
}

fn settings() -> EngineSettings {
    EngineSettings {
        retry: RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        limits: Stage::ALL.into_iter().map(|s| (s, 8)).collect(),
        mailbox: 16,
        // The simulated stages only sleep: no CPU slots, so timings stay those of the script.
        classes: BTreeMap::new(),
        ..EngineSettings::default()
    }
}

fn start(
    store: Store,
    behaviours: HashMap<Stage, Behaviour>,
    journal: Arc<Journal>,
) -> PipelineHandle {
    start_with(store, behaviours, journal, settings())
}

fn start_with(
    store: Store,
    behaviours: HashMap<Stage, Behaviour>,
    journal: Arc<Journal>,
    settings: EngineSettings,
) -> PipelineHandle {
    let works: BTreeMap<Stage, Arc<dyn StageWork>> = Stage::ALL
        .into_iter()
        .map(|stage| {
            let behaviour = behaviours.get(&stage).cloned().unwrap_or(Behaviour {
                delay: Duration::from_millis(30),
                ..Behaviour::default()
            });
            let failures = behaviour.transient_failures;
            let work: Arc<dyn StageWork> = Arc::new(FakeStage {
                stage,
                behaviour,
                journal: journal.clone(),
                failures_left: AtomicU32::new(failures),
            });
            (stage, work)
        })
        .collect();
    Pipeline::start(store, StageSet::new(works).unwrap(), settings)
}

fn spec(subject: &str) -> TaskSpec {
    TaskSpec {
        subject: subject.into(),
        aspect: "9:16".into(),
        ..TaskSpec::default()
    }
}

/// Collects events of `task` until it ends.
async fn until_end(events: &mut UnboundedReceiver<Event>, task: &str) -> Vec<Event> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("task ended within 20 s")
            .expect("event stream open");
        if event.task != task {
            continue;
        }
        let end = event.ends_task();
        seen.push(event);
        if end {
            return seen;
        }
    }
}

fn stage_events(events: &[Event], stage: Stage) -> Vec<&EventKind> {
    events
        .iter()
        .filter(|e| e.stage == Some(stage))
        .map(|e| &e.kind)
        .collect()
}

#[tokio::test]
async fn stages_run_in_graph_order_and_independent_ones_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let journal = Arc::new(Journal::default());
    let slow = Behaviour {
        delay: Duration::from_millis(300),
        ..Behaviour::default()
    };
    let behaviours = HashMap::from([(Stage::Voice, slow.clone()), (Stage::Terms, slow)]);
    let pipeline = start(store.clone(), behaviours, journal.clone());
    let mut events = pipeline.subscribe().await.unwrap();
    let task = pipeline.submit(spec("cats")).await.unwrap();
    let seen = until_end(&mut events, &task).await;
    assert!(
        matches!(seen.last().unwrap().kind, EventKind::TaskDone { .. }),
        "{seen:?}"
    );

    for stage in Stage::ALL {
        let (start, _) = journal.span(&task, stage);
        for dep in stage.deps() {
            let (_, dep_end) = journal.span(&task, *dep);
            assert!(start >= dep_end, "{stage} started before {dep} finished");
        }
        let kinds = stage_events(&seen, stage);
        assert!(matches!(kinds[0], EventKind::Queued), "{stage}: {kinds:?}");
        assert!(matches!(kinds[1], EventKind::Started { attempt: 1 }));
        assert!(matches!(kinds.last().unwrap(), EventKind::Finished { .. }));
    }
    let (voice_start, voice_end) = journal.span(&task, Stage::Voice);
    let (terms_start, terms_end) = journal.span(&task, Stage::Terms);
    assert!(
        voice_start < terms_end && terms_start < voice_end,
        "voice and terms overlapped"
    );

    let record = store.tasks.get(&task).unwrap();
    assert_eq!(record.state, TaskState::Done);
    assert!(
        record
            .stages
            .values()
            .all(|r| r.status == StageStatus::Done && r.elapsed_ms.is_some())
    );
}

#[tokio::test]
async fn cancelling_one_stage_stops_it_cleanly_and_leaves_other_work_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let journal = Arc::new(Journal::default());
    let hanging = Behaviour {
        delay: Duration::from_secs(30),
        writes_part: true,
        ..Behaviour::default()
    };
    let pipeline = start(
        store.clone(),
        HashMap::from([(Stage::Footage, hanging)]),
        journal.clone(),
    );
    let mut events = pipeline.subscribe().await.unwrap();
    let victim = pipeline.submit(spec("victim")).await.unwrap();
    let bystander = pipeline
        .submit(TaskSpec {
            stop_at: Some(Stage::Subtitles),
            ..spec("bystander")
        })
        .await
        .unwrap();

    // Wait until footage runs (its part file exists), then cancel just that stage.
    let part = store.tasks.task_dir(&victim).join("footage.out.part");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !part.exists() {
        assert!(Instant::now() < deadline, "footage never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pipeline
        .cancel(&victim, Some(Stage::Footage))
        .await
        .unwrap();
    let seen = until_end(&mut events, &victim).await;

    assert!(stage_events(&seen, Stage::Footage).contains(&&EventKind::Cancelled));
    match &seen.last().unwrap().kind {
        EventKind::TaskStopped { reason } => assert!(reason.contains("footage"), "{reason}"),
        other => panic!("expected the task to stop, got {other:?}"),
    }
    // Voice and subtitles of the same task were not disturbed.
    let record = store.tasks.get(&victim).unwrap();
    assert_eq!(record.stage(Stage::Subtitles).status, StageStatus::Done);
    assert_eq!(record.stage(Stage::Footage).status, StageStatus::Cancelled);
    assert_eq!(record.stage(Stage::Render).status, StageStatus::Pending);
    assert_eq!(record.state, TaskState::Cancelled);
    // Nothing half-written remains and nothing looks complete.
    let task_dir = store.tasks.task_dir(&victim);
    let leftovers: Vec<_> = std::fs::read_dir(&task_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".part") || n.starts_with("footage") || n.starts_with("render"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    // The other task finished normally.
    let mut other = pipeline.subscribe().await.unwrap();
    let other_state = loop {
        let record = pipeline.record(&bystander).await.unwrap();
        if record.state != TaskState::Running {
            break record.state;
        }
        tokio::time::timeout(Duration::from_secs(5), other.recv())
            .await
            .unwrap();
    };
    assert_eq!(other_state, TaskState::Done);
}

#[tokio::test]
async fn retry_reruns_the_stage_and_downstream_and_reuses_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let journal = Arc::new(Journal::default());
    let pipeline = start(store.clone(), HashMap::new(), journal.clone());
    let mut events = pipeline.subscribe().await.unwrap();
    let task = pipeline.submit(spec("ocean")).await.unwrap();
    until_end(&mut events, &task).await;

    pipeline.retry(&task, Stage::Footage).await.unwrap();
    let seen = until_end(&mut events, &task).await;
    assert!(matches!(
        seen.last().unwrap().kind,
        EventKind::TaskDone { .. }
    ));
    for stage in [Stage::Script, Stage::Terms, Stage::Voice, Stage::Subtitles] {
        assert_eq!(
            journal.calls(&task, stage),
            1,
            "{stage} must be reused, not recomputed"
        );
    }
    for stage in [Stage::Footage, Stage::Select, Stage::Render] {
        assert_eq!(journal.calls(&task, stage), 2, "{stage} must run again");
    }
    let record = store.tasks.get(&task).unwrap();
    assert_eq!(
        record.stage(Stage::Footage).attempts,
        2,
        "attempt numbers continue"
    );
    // Retrying a stage that is not part of the task is refused with a reason.
    let short = pipeline
        .submit(TaskSpec {
            stop_at: Some(Stage::Voice),
            ..spec("short")
        })
        .await
        .unwrap();
    until_end(&mut events, &short).await;
    let err = pipeline
        .retry(&short, Stage::Render)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("render") && err.contains("not part"), "{err}");
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff_and_permanent_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let journal = Arc::new(Journal::default());
    let flaky = Behaviour {
        transient_failures: 2,
        delay: Duration::from_millis(5),
        ..Behaviour::default()
    };
    let pipeline = start(
        store.clone(),
        HashMap::from([(Stage::Voice, flaky)]),
        journal.clone(),
    );
    let mut events = pipeline.subscribe().await.unwrap();
    let task = pipeline.submit(spec("flaky")).await.unwrap();
    let seen = until_end(&mut events, &task).await;
    assert!(matches!(
        seen.last().unwrap().kind,
        EventKind::TaskDone { .. }
    ));
    let voice = stage_events(&seen, Stage::Voice);
    let attempts: Vec<u32> = voice
        .iter()
        .filter_map(|k| match k {
            EventKind::Started { attempt } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    let retries: Vec<_> = voice
        .iter()
        .filter(|k| {
            matches!(
                k,
                EventKind::Failed {
                    will_retry: true,
                    retry_in_ms: Some(_),
                    ..
                }
            )
        })
        .collect();
    assert_eq!(retries.len(), 2);
    assert_eq!(
        store.tasks.get(&task).unwrap().stage(Stage::Voice).attempts,
        3
    );

    let broken = Behaviour {
        permanent_failure: true,
        ..Behaviour::default()
    };
    let journal = Arc::new(Journal::default());
    let dir2 = tempfile::tempdir().unwrap();
    let pipeline = start(
        Store::open(dir2.path()).unwrap(),
        HashMap::from([(Stage::Terms, broken)]),
        journal.clone(),
    );
    let mut events = pipeline.subscribe().await.unwrap();
    let task = pipeline.submit(spec("broken")).await.unwrap();
    let seen = until_end(&mut events, &task).await;
    assert_eq!(
        journal.calls(&task, Stage::Terms),
        1,
        "permanent failures are not retried"
    );
    let failed = stage_events(&seen, Stage::Terms);
    assert!(failed.iter().any(|k| matches!(k, EventKind::Failed { will_retry: false, error, .. } if error.contains("stage terms failed") && error.contains("fix it"))));
    match &seen.last().unwrap().kind {
        EventKind::TaskStopped { reason } => assert!(reason.contains("terms")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_crashed_process_is_resumed_from_its_last_finished_stage() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    // First process: voice hangs; the runtime is torn down mid-task like a killed process.
    let task = {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let task = runtime.block_on(async {
            let store = Store::open(dir.path()).unwrap();
            let hang = Behaviour {
                delay: Duration::from_secs(60),
                writes_part: true,
                ..Behaviour::default()
            };
            let pipeline = start(
                store.clone(),
                HashMap::from([(Stage::Voice, hang)]),
                journal.clone(),
            );
            let task = pipeline.submit(spec("crash")).await.unwrap();
            let part = store.tasks.task_dir(&task).join("voice.out.part");
            while !(part.exists()
                && journal.calls(&task, Stage::Footage) == 1
                && store.tasks.get(&task).unwrap().stage(Stage::Footage).status
                    == StageStatus::Done)
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            std::mem::forget(pipeline);
            task
        });
        runtime.shutdown_background();
        task
    };
    std::thread::sleep(Duration::from_millis(200));
    // Second process: the record shows an interrupted task; resume finishes it.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(dir.path()).unwrap();
        let before = store.tasks.get(&task).unwrap();
        assert!(before.is_interrupted());
        assert_eq!(before.stage(Stage::Script).status, StageStatus::Done);
        let journal2 = Arc::new(Journal::default());
        let pipeline = start(store.clone(), HashMap::new(), journal2.clone());
        let mut events = pipeline.subscribe().await.unwrap();
        pipeline.resume(&task).await.unwrap();
        let seen = until_end(&mut events, &task).await;
        assert!(
            matches!(seen.last().unwrap().kind, EventKind::TaskDone { .. }),
            "{seen:?}"
        );
        for stage in [Stage::Script, Stage::Terms, Stage::Footage] {
            assert_eq!(
                journal2.calls(&task, stage),
                0,
                "{stage} was finished before the crash"
            );
        }
        assert_eq!(journal2.calls(&task, Stage::Voice), 1);
        assert!(!store.tasks.task_dir(&task).join("voice.out.part").exists());
        assert_eq!(store.tasks.get(&task).unwrap().state, TaskState::Done);
    });
}

#[tokio::test]
async fn an_empty_subject_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = start(
        Store::open(dir.path()).unwrap(),
        HashMap::new(),
        Arc::new(Journal::default()),
    );
    let err = pipeline.submit(spec("   ")).await.unwrap_err().to_string();
    assert!(err.contains("subject is empty"), "{err}");
}

#[tokio::test]
async fn interactive_tasks_overtake_queued_batch_work_for_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let journal = Arc::new(Journal::default());
    let quick = Behaviour {
        delay: Duration::from_millis(5),
        ..Behaviour::default()
    };
    let mut behaviours: HashMap<Stage, Behaviour> =
        Stage::ALL.into_iter().map(|s| (s, quick.clone())).collect();
    behaviours.insert(
        Stage::Render,
        Behaviour {
            delay: Duration::from_millis(150),
            ..Behaviour::default()
        },
    );
    // One core, which a render takes whole: renders of all tasks queue for it.
    let settings = EngineSettings {
        cpu_slots: 1,
        classes: BTreeMap::from([(Stage::Render, ResourceClass::Cpu { slots: 1 })]),
        ..settings()
    };
    let pipeline = start_with(store.clone(), behaviours, journal.clone(), settings);
    let mut events = pipeline.subscribe().await.unwrap();
    let mut batch = Vec::new();
    for entry in 1..=4 {
        let spec = TaskSpec {
            batch: Some(BatchRef {
                id: "b1".into(),
                entry,
            }),
            ..spec(&format!("batch {entry}"))
        };
        batch.push(pipeline.submit(spec).await.unwrap());
    }
    // Wait until the first render holds the core and the others queue behind it.
    loop {
        let event = events.recv().await.unwrap();
        if event.stage == Some(Stage::Render) && matches!(event.kind, EventKind::Started { .. }) {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(40)).await;
    let user = pipeline.submit(spec("interactive")).await.unwrap();
    let mut ends = 0;
    while ends < 5 {
        if events.recv().await.unwrap().ends_task() {
            ends += 1;
        }
    }
    let order: Vec<String> = {
        let mut renders: Vec<_> = journal
            .runs
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.1 == Stage::Render)
            .map(|r| (r.2, r.0.clone()))
            .collect();
        renders.sort();
        renders.into_iter().map(|r| r.1).collect()
    };
    assert_eq!(order.len(), 5, "{order:?}");
    assert_eq!(
        order[1], user,
        "the interactive render runs right after the one in progress: {order:?} (batch {batch:?})"
    );
    // Never two renders at once on the one core.
    let runs = journal.runs.lock().unwrap().clone();
    let mut spans: Vec<(Instant, Instant)> = runs
        .iter()
        .filter(|r| r.1 == Stage::Render)
        .map(|r| (r.2, r.3))
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "renders overlapped");
    }

    // Every finished stage run is in the timing history, with its output's size.
    let timings = store.timings.all().unwrap();
    assert_eq!(timings.len(), 5 * Stage::ALL.len());
    for timing in &timings {
        assert!(timing.finished_ms >= timing.started_ms);
        assert!(timing.bytes > 0, "{timing:?}");
        assert!(timing.peak_rss_bytes > 0, "{timing:?}");
        assert_eq!(timing.batch.is_some(), timing.task != user, "{timing:?}");
    }
    let render = timings
        .iter()
        .find(|t| t.task == user && t.stage == Stage::Render)
        .unwrap();
    assert!(render.wall_ms >= 150, "{render:?}");
}
