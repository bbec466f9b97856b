//! What each stage run costs, for the timing history: the process's CPU time (its threads and
//! reaped children such as ffmpeg) shared equally among the stage runs going at each moment,
//! the largest resident memory seen while a run went, and the cache lookups it reported.
//! Stages share one process, so CPU time per stage is an estimate when runs overlap and
//! exact when a run is alone.

use crate::pipeline::Stage;
use crate::pipeline::events::TaskId;
use crate::procstat::{cpu_times, rss_bytes};
use crate::store::CacheUse;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Usage {
    pub cpu_ms: f64,
    pub peak_rss_bytes: u64,
    pub cache: BTreeMap<String, CacheUse>,
}

pub(super) struct Meter {
    last_cpu_s: f64,
    running: HashMap<(TaskId, Stage), Usage>,
}

impl Meter {
    pub fn new() -> Meter {
        Meter {
            last_cpu_s: cpu_times().total_s(),
            running: HashMap::new(),
        }
    }

    /// Shares the CPU time used since the last tick among the runs going now and notes the
    /// memory in use.
    pub fn tick(&mut self) {
        let now = cpu_times().total_s();
        let spent_ms = (now - self.last_cpu_s).max(0.0) * 1000.0;
        self.last_cpu_s = now;
        if self.running.is_empty() {
            return;
        }
        let share = spent_ms / self.running.len() as f64;
        let rss = rss_bytes();
        for usage in self.running.values_mut() {
            usage.cpu_ms += share;
            usage.peak_rss_bytes = usage.peak_rss_bytes.max(rss);
        }
    }

    /// A run (or a retry of it) started: its usage accumulates until `finish`.
    pub fn started(&mut self, task: &str, stage: Stage) {
        self.tick();
        self.running
            .entry((task.to_string(), stage))
            .or_insert_with(|| Usage {
                peak_rss_bytes: rss_bytes(),
                ..Usage::default()
            });
    }

    pub fn cache_lookup(&mut self, task: &str, stage: Stage, kind: &str, hit: Option<u64>) {
        let Some(usage) = self.running.get_mut(&(task.to_string(), stage)) else {
            return;
        };
        let counts = usage.cache.entry(kind.to_string()).or_default();
        match hit {
            Some(saved_ms) => {
                counts.hits += 1;
                counts.saved_ms += saved_ms;
            }
            None => counts.misses += 1,
        }
    }

    /// The run ended: what it used (nothing when it never started).
    pub fn finish(&mut self, task: &str, stage: Stage) -> Usage {
        self.tick();
        self.running
            .remove(&(task.to_string(), stage))
            .unwrap_or_default()
    }

    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_shared_among_runs_going_at_once() {
        let mut meter = Meter::new();
        meter.started("a", Stage::Voice);
        meter.started("b", Stage::Render);
        let spin = std::time::Instant::now();
        while spin.elapsed().as_millis() < 200 {
            std::hint::black_box(0u64);
        }
        meter.cache_lookup("a", Stage::Voice, "tts", Some(30));
        meter.cache_lookup("a", Stage::Voice, "tts", None);
        meter.cache_lookup("zzz", Stage::Voice, "tts", None);
        let a = meter.finish("a", Stage::Voice);
        let b = meter.finish("b", Stage::Render);
        assert!(a.cpu_ms > 50.0, "{a:?}");
        assert!((a.cpu_ms - b.cpu_ms).abs() < 20.0, "{a:?} {b:?}");
        assert_eq!(
            a.cache["tts"],
            CacheUse {
                hits: 1,
                misses: 1,
                saved_ms: 30
            }
        );
        assert!(a.peak_rss_bytes > 0);
        assert!(meter.is_idle());
        assert_eq!(meter.finish("never", Stage::Script), Usage::default());
    }
}
