//! Who runs next when stage runs compete. Each stage's limit and the shared CPU slots are
//! `PriorityGate`s: interactive tasks (`make`, the dashboard) are served before batch tasks,
//! then in arrival order, so a long batch never starves a user waiting at the terminal, and
//! CPU-heavy stages of all tasks together never ask for more cores than there are. The
//! `FootageBudget` keeps downloads from running ahead of rendering.

use super::Stage;
use super::events::TaskId;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::{Notify, oneshot};

/// What a stage run mostly waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceClass {
    /// Computes on this machine (ffmpeg, local models, espeak): takes CPU slots.
    Cpu { slots: usize },
    /// Waits on servers or the disk: runs as wide as its stage limit allows.
    Io,
}

/// Interactive work first; lower sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Interactive,
    Batch,
}

/// A counting semaphore whose waiters are served by (priority, arrival). A waiter asking for
/// several slots holds its place: later waiters never overtake it, so a render needing every
/// core is not starved by a stream of one-slot runs.
#[derive(Clone)]
pub struct PriorityGate {
    state: Arc<Mutex<GateState>>,
}

struct GateState {
    capacity: usize,
    free: usize,
    next_seq: u64,
    waiters: BTreeMap<(Priority, u64), Waiter>,
    /// Slots handed to waiters whose futures have not picked them up yet.
    granted: HashMap<(Priority, u64), usize>,
}

struct Waiter {
    slots: usize,
    grant: oneshot::Sender<()>,
}

/// Slots held; given back (to the next waiter) when dropped.
pub struct GatePermit {
    state: Arc<Mutex<GateState>>,
    slots: usize,
}

impl PriorityGate {
    pub fn new(capacity: usize) -> PriorityGate {
        let capacity = capacity.max(1);
        PriorityGate {
            state: Arc::new(Mutex::new(GateState {
                capacity,
                free: capacity,
                next_seq: 0,
                waiters: BTreeMap::new(),
                granted: HashMap::new(),
            })),
        }
    }

    /// Waits for `slots` (at most the capacity). Cancel-safe: dropping the future gives up
    /// its place, or passes on slots granted in the meantime.
    pub async fn acquire(&self, slots: usize, priority: Priority) -> GatePermit {
        let (key, granted) = {
            let mut state = lock(&self.state);
            let slots = slots.clamp(1, state.capacity);
            if state.waiters.is_empty() && state.free >= slots {
                state.free -= slots;
                return GatePermit {
                    state: self.state.clone(),
                    slots,
                };
            }
            let key = (priority, state.next_seq);
            state.next_seq += 1;
            let (grant, granted) = oneshot::channel();
            state.waiters.insert(key, Waiter { slots, grant });
            (key, granted)
        };
        let mut waiting = Waiting {
            state: self.state.clone(),
            key,
            done: false,
        };
        // The sender lives in the map until it is used, so the channel cannot close first.
        let _ = granted.await;
        waiting.done = true;
        let slots = lock(&self.state).granted_slots(key);
        GatePermit {
            state: self.state.clone(),
            slots,
        }
    }

    /// Slots free now (for tests and the dashboard).
    pub fn available(&self) -> usize {
        lock(&self.state).free
    }
}

impl GateState {
    fn granted_slots(&mut self, key: (Priority, u64)) -> usize {
        self.granted.remove(&key).unwrap_or(0)
    }

    /// Hands free slots to the waiters at the head of the queue, in order.
    fn grant(&mut self) {
        while let Some(entry) = self.waiters.first_entry() {
            if entry.get().slots > self.free {
                return;
            }
            let (key, waiter) = entry.remove_entry();
            self.free -= waiter.slots;
            if waiter.grant.send(()).is_err() {
                self.free += waiter.slots;
            } else {
                self.granted.insert(key, waiter.slots);
            }
        }
    }
}

/// Removes the waiter's entry (not granted yet) or releases its grant (granted, but the
/// future was dropped before it could become a permit).
struct Waiting {
    state: Arc<Mutex<GateState>>,
    key: (Priority, u64),
    done: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = lock(&self.state);
        if state.waiters.remove(&self.key).is_none() {
            let slots = state.granted_slots(self.key);
            state.free += slots;
            state.grant();
        } else {
            // Leaving may unblock smaller waiters queued behind a large one.
            state.grant();
        }
    }
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        state.free += self.slots;
        state.grant();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state is updated in single statements; a panic elsewhere cannot leave it half-done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Downloaded footage waiting for its task's render. A footage run is admitted only when
/// the bytes held for unrendered tasks, plus what the admitted runs and this one are
/// expected to bring (the mean of the runs seen so far), fit in the limit; one run is always
/// admitted when nothing is held or running, so a single large task cannot wait forever.
pub struct FootageBudget {
    limit_bytes: u64,
    state: Mutex<BudgetState>,
    changed: Notify,
}

#[derive(Default)]
struct BudgetState {
    held: HashMap<TaskId, u64>,
    admitted: usize,
    finished_runs: u64,
    finished_bytes: u64,
}

impl BudgetState {
    fn expected(&self) -> u64 {
        self.finished_bytes
            .checked_div(self.finished_runs)
            .unwrap_or(0)
    }

    fn committed(&self) -> u64 {
        self.held.values().sum::<u64>() + self.admitted as u64 * self.expected()
    }
}

/// An admitted footage run; dropping it (the run ended either way) frees its reservation.
pub struct BudgetTicket<'a> {
    budget: &'a FootageBudget,
}

impl FootageBudget {
    /// `limit_bytes` 0 means no limit.
    pub fn new(limit_bytes: u64) -> FootageBudget {
        FootageBudget {
            limit_bytes,
            state: Mutex::new(BudgetState::default()),
            changed: Notify::new(),
        }
    }

    /// Waits until a footage run may start.
    pub async fn admit(&self) -> BudgetTicket<'_> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a release between check and wait is not missed.
            changed.as_mut().enable();
            {
                let mut state = lock(&self.state);
                let idle = state.held.is_empty() && state.admitted == 0;
                if self.limit_bytes == 0
                    || idle
                    || state.committed() + state.expected() <= self.limit_bytes
                {
                    state.admitted += 1;
                    return BudgetTicket { budget: self };
                }
            }
            changed.await;
        }
    }

    /// A footage run of `task` finished with `bytes` of downloaded clips, held until the
    /// task's render ends.
    pub fn hold(&self, task: &str, bytes: u64) {
        let mut state = lock(&self.state);
        state.finished_runs += 1;
        state.finished_bytes += bytes;
        *state.held.entry(task.to_string()).or_default() += bytes;
    }

    /// Clips a later stage downloaded for `task` (the select stage's extra search rounds):
    /// held until the render like the footage run's, but not a footage run, so they do not
    /// change the size expected of the next one.
    pub fn hold_more(&self, task: &str, bytes: u64) {
        if bytes > 0 {
            *lock(&self.state).held.entry(task.to_string()).or_default() += bytes;
        }
    }

    /// The task no longer needs its footage (rendered, failed or cancelled).
    pub fn release(&self, task: &str) {
        if lock(&self.state).held.remove(task).is_some() {
            self.changed.notify_waiters();
        }
    }

    /// Bytes held for unrendered tasks now.
    pub fn held_bytes(&self) -> u64 {
        lock(&self.state).held.values().sum()
    }
}

impl Drop for BudgetTicket<'_> {
    fn drop(&mut self) {
        lock(&self.budget.state).admitted -= 1;
        self.budget.changed.notify_waiters();
    }
}

/// Everything stage runs share: the CPU slots, each stage's class and the footage budget.
pub struct Scheduler {
    pub cpu: PriorityGate,
    pub classes: BTreeMap<Stage, ResourceClass>,
    pub footage: FootageBudget,
}

impl Scheduler {
    pub fn new(
        cpu_slots: usize,
        classes: BTreeMap<Stage, ResourceClass>,
        footage_limit_bytes: u64,
    ) -> Scheduler {
        Scheduler {
            cpu: PriorityGate::new(cpu_slots),
            classes,
            footage: FootageBudget::new(footage_limit_bytes),
        }
    }

    pub fn class(&self, stage: Stage) -> ResourceClass {
        self.classes
            .get(&stage)
            .copied()
            .unwrap_or(ResourceClass::Io)
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
