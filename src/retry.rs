//! Backoff for anything retried (stages, searches, downloads): the server's `Retry-After` when
//! it gives one, else exponential with jitter so many clients do not retry in lock-step.

use std::time::Duration;

/// The longest `Retry-After` we honour; a server asking for more gets a failure instead of a
/// task that silently sleeps for an hour.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// Delay before retry number `failures` (1-based): the server's wish, else base·2ⁿ ± 25 %.
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(wish) = retry_after {
            return (wish <= MAX_RETRY_AFTER).then_some(wish);
        }
        let exp = self
            .base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
        let capped = exp.min(self.max);
        let jitter = 0.75 + fastrand::f64() * 0.5;
        Some(capped.mul_f64(jitter))
    }
}
