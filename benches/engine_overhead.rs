//! Engine overhead: 1 000 no-op tasks through all seven stages (real supervisor, real actors,
//! real sled store with group commit). Prints events per second and the per-task overhead.
//! Run with `cargo bench --bench engine_overhead`.

use async_trait::async_trait;
use reelforge::pipeline::{
    EngineSettings, EventKind, JobCtx, Pipeline, RetryPolicy, Stage, StageError, StageOutput,
    StageSet, StageWork,
};
use reelforge::store::{Store, TaskSpec};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct NoOp;

#[async_trait]
impl StageWork for NoOp {
    async fn run(&self, _ctx: &JobCtx) -> Result<StageOutput, StageError> {
        Ok(StageOutput::default())
    }
}

fn main() {
    let tasks: usize = std::env::var("REELFORGE_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let works: BTreeMap<Stage, Arc<dyn StageWork>> = Stage::ALL
            .into_iter()
            .map(|s| (s, Arc::new(NoOp) as Arc<dyn StageWork>))
            .collect();
        let settings = EngineSettings {
            retry: RetryPolicy {
                max_attempts: 1,
                base: Duration::from_millis(1),
                max: Duration::from_millis(1),
            },
            limits: Stage::ALL.into_iter().map(|s| (s, 64)).collect(),
            mailbox: 256,
            // No-op stages: the engine's own overhead without CPU slots in the way.
            classes: Default::default(),
            ..EngineSettings::default()
        };
        let pipeline = Pipeline::start(store, StageSet::new(works).expect("stages"), settings);
        let mut events = pipeline.subscribe().await.expect("subscribe");
        let started = Instant::now();
        for i in 0..tasks {
            let spec = TaskSpec {
                subject: format!("no-op task {i}"),
                aspect: "9:16".into(),
                ..TaskSpec::default()
            };
            pipeline.submit(spec).await.expect("submit");
        }
        let (mut done, mut count) = (0, 0u64);
        while done < tasks {
            let event = events.recv().await.expect("event stream");
            count += 1;
            match event.kind {
                EventKind::TaskDone { .. } => done += 1,
                EventKind::TaskStopped { reason } => panic!("a no-op task stopped: {reason}"),
                _ => {}
            }
        }
        let elapsed = started.elapsed();
        println!("engine overhead: {tasks} no-op tasks × 7 stages");
        println!(
            "  wall time          {:>10.1} ms",
            elapsed.as_secs_f64() * 1000.0
        );
        println!("  events             {count:>10}");
        println!(
            "  events per second  {:>10.0}",
            count as f64 / elapsed.as_secs_f64()
        );
        println!(
            "  per-task overhead  {:>10.1} µs (wall / tasks, all 7 stages, store writes included)",
            elapsed.as_secs_f64() * 1e6 / tasks as f64
        );
        println!(
            "  per-stage overhead {:>10.1} µs",
            elapsed.as_secs_f64() * 1e6 / (tasks * 7) as f64
        );
    });
}
