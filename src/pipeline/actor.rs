//! A stage actor: one long-lived task per stage with a bounded mailbox. Each job runs in its
//! own tokio task under the stage's concurrency limit and the shared CPU slots (see
//! `schedule`), retrying transient failures with exponential backoff (or the server's
//! `Retry-After`).

use super::events::EventKind;
use super::job::{JobCtx, Report, StageWork};
use super::schedule::{BudgetTicket, GatePermit, Priority, PriorityGate, ResourceClass, Scheduler};
use super::{FailureKind, Stage, StageError};
use crate::retry::RetryPolicy;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a cancelled stage may take to stop on its own before it is dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

pub(crate) struct Job {
    pub ctx: JobCtx,
}

/// Starts the actor; returns its mailbox.
pub(crate) fn spawn_stage_actor(
    work: Arc<dyn StageWork>,
    limit: usize,
    policy: RetryPolicy,
    mailbox: usize,
    scheduler: Arc<Scheduler>,
) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(mailbox);
    let slots = StageSlots {
        stage: PriorityGate::new(limit),
        scheduler,
    };
    let slots = Arc::new(slots);
    tokio::spawn(async move {
        // The actor never waits on its own limit, so its mailbox drains at once and the
        // supervisor is never blocked by a busy stage; waiting jobs are `Queued`.
        while let Some(job) = rx.recv().await {
            tokio::spawn(run_job(job, work.clone(), slots.clone(), policy));
        }
    });
    tx
}

/// What a run of one stage must hold while it works.
struct StageSlots {
    stage: PriorityGate,
    scheduler: Arc<Scheduler>,
}

/// Held for one attempt; dropped during back-off so others can run.
struct Held<'a> {
    _stage: GatePermit,
    _cpu: Option<GatePermit>,
    _footage: Option<BudgetTicket<'a>>,
}

impl StageSlots {
    /// The stage's own limit first, then (footage) room in the download budget, then (CPU
    /// stages) the shared cores: always in this order, so no two runs wait on each other.
    async fn acquire(&self, stage: Stage, priority: Priority) -> Held<'_> {
        let stage_permit = self.stage.acquire(1, priority).await;
        let footage = match stage {
            Stage::Footage => Some(self.scheduler.footage.admit().await),
            _ => None,
        };
        let cpu = match self.scheduler.class(stage) {
            ResourceClass::Cpu { slots } => Some(self.scheduler.cpu.acquire(slots, priority).await),
            ResourceClass::Io => None,
        };
        Held {
            _stage: stage_permit,
            _cpu: cpu,
            _footage: footage,
        }
    }
}

async fn run_job(job: Job, work: Arc<dyn StageWork>, slots: Arc<StageSlots>, policy: RetryPolicy) {
    let mut ctx = job.ctx;
    let mut failures = 0;
    let mut started: Option<Instant> = None;
    let priority = match ctx.spec.batch {
        None => Priority::Interactive,
        Some(_) => Priority::Batch,
    };
    let result = loop {
        let permit = tokio::select! {
            held = slots.acquire(ctx.stage, priority) => held,
            _ = ctx.cancel.cancelled() => break Err(StageError::cancelled()),
        };
        started.get_or_insert_with(Instant::now);
        ctx.emit(EventKind::Started {
            attempt: ctx.attempt,
        });
        let outcome = {
            let run = work.run(&ctx);
            tokio::pin!(run);
            tokio::select! {
                outcome = &mut run => outcome,
                _ = ctx.cancel.cancelled() => {
                    // The stage sees the same token: give it a moment to clean up after itself,
                    // then drop it, which kills its child processes (kill_on_drop) and aborts
                    // its HTTP requests.
                    let _ = tokio::time::timeout(CANCEL_GRACE, &mut run).await;
                    Err(StageError::cancelled())
                }
            }
        };
        drop(permit);
        let error = match outcome {
            Ok(output) => break Ok(output),
            Err(error) => error,
        };
        if ctx.cancel.is_cancelled() {
            break Err(StageError::cancelled());
        }
        failures += 1;
        let retry_after = match &error.kind {
            FailureKind::Transient { retry_after } => *retry_after,
            _ => break Err(error),
        };
        let delay = match policy.delay(failures, retry_after) {
            Some(delay) if failures < policy.max_attempts => delay,
            _ => {
                let tries = if failures == 1 { "try" } else { "tries" };
                break Err(StageError::permanent(format!(
                    "{} (gave up after {failures} {tries})",
                    error.message
                )));
            }
        };
        ctx.emit(EventKind::Failed {
            error: error.message.clone(),
            will_retry: true,
            retry_in_ms: Some(delay.as_millis() as u64),
        });
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = ctx.cancel.cancelled() => break Err(StageError::cancelled()),
        }
        ctx.attempt += 1;
    };
    let scratch = ctx.scratch_dir();
    if scratch.exists() {
        let _ = tokio::fs::remove_dir_all(&scratch).await;
    }
    let _ = ctx.reports.send(Report::Ended {
        task: ctx.task.clone(),
        stage: ctx.stage,
        attempts: ctx.attempt,
        result,
        elapsed_ms: started.map_or(0, |s| s.elapsed().as_millis() as u64),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let first = policy.delay(1, None).unwrap();
            assert!(first >= Duration::from_millis(75) && first <= Duration::from_millis(125));
            let third = policy.delay(3, None).unwrap();
            assert!(third >= Duration::from_millis(300) && third <= Duration::from_millis(500));
            let capped = policy.delay(10, None).unwrap();
            assert!(capped <= Duration::from_millis(1250));
        }
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(policy.delay(1, Some(Duration::from_secs(3600))), None);
    }
}
