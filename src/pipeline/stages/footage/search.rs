//! One stock search as the footage stage needs it: answered from the cache while fresh
//! (`[footage] search_ttl_hours`), else asked of the vendor with transient failures (429,
//! 5xx, network) retried under backoff that honours `Retry-After`.

use crate::pipeline::{JobCtx, LogLevel};
use crate::providers::ProviderError;
use crate::providers::footage::{SearchPage, SearchQuery, StockSearch};
use crate::retry::RetryPolicy;
use crate::store::{Cache, CacheKey};
use std::time::{Duration, Instant};

/// The cache kind of search results.
pub const SEARCH_KIND: &str = "search";

pub struct CachedSearch<'a> {
    pub cache: &'a Cache,
    pub ttl: Duration,
    pub retry: RetryPolicy,
}

impl CachedSearch<'_> {
    /// A page of results; `Err` only for failures that retrying did not (or cannot) fix.
    pub async fn page(
        &self,
        ctx: &JobCtx,
        source: &dyn StockSearch,
        query: &SearchQuery,
    ) -> Result<SearchPage, ProviderError> {
        let key = CacheKey::new(SEARCH_KIND, source.name(), "", query);
        if !self.ttl.is_zero()
            && let Some(hit) = self.cache.get_fresh(&key, self.ttl)
            && let Ok(page) = serde_json::from_slice::<SearchPage>(&hit.bytes)
        {
            ctx.cache_hit(SEARCH_KIND, hit.cost_ms);
            return Ok(page);
        }
        if !self.ttl.is_zero() {
            ctx.cache_miss(SEARCH_KIND);
        }
        let started = Instant::now();
        let mut failures = 0;
        let page = loop {
            let attempt = tokio::select! {
                result = source.search(query, &ctx.cancel) => result,
                _ = ctx.cancel.cancelled() => Err(ProviderError::Cancelled),
            };
            match attempt {
                Ok(page) => break page,
                Err(e) if e.is_transient() && failures + 1 < self.retry.max_attempts => {
                    failures += 1;
                    let Some(delay) = self.retry.delay(failures, e.retry_after()) else {
                        return Err(e);
                    };
                    ctx.log(
                        LogLevel::Warn,
                        format!(
                            "search for {:?}: {e}; retrying in {:.1} s",
                            query.term,
                            delay.as_secs_f64()
                        ),
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = ctx.cancel.cancelled() => return Err(ProviderError::Cancelled),
                    }
                }
                Err(e) => return Err(e),
            }
        };
        for note in &page.notes {
            ctx.log(LogLevel::Warn, note.clone());
        }
        if !self.ttl.is_zero() {
            let stored = SearchPage {
                notes: Vec::new(),
                ..page.clone()
            };
            if let Ok(bytes) = serde_json::to_vec(&stored) {
                let cost = started.elapsed().as_millis() as u64;
                if let Err(e) = self.cache.put(&key, &bytes, cost) {
                    tracing::warn!("search results not cached: {e}");
                }
            }
        }
        Ok(page)
    }
}
