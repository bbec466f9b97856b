//! One LLM request through the content-addressed cache, with token progress as events.

use crate::pipeline::{JobCtx, StageError};
use crate::providers::llm::{ChatRequest, LlmProvider};
use crate::store::{Cache, CacheKey};
use std::time::Instant;

/// Returns the cached reply for this exact request, or asks the model and caches the reply.
/// `accept` lets the caller refuse to cache a reply it cannot use.
pub async fn ask_cached(
    ctx: &JobCtx,
    llm: &dyn LlmProvider,
    cache: &Cache,
    kind: &str,
    request: &ChatRequest,
) -> Result<String, StageError> {
    let key = CacheKey::new(kind, llm.name(), llm.model(), request);
    if let Some(hit) = cache.get(&key)
        && let Ok(text) = String::from_utf8(hit.bytes)
    {
        ctx.cache_hit(kind, hit.cost_ms);
        return Ok(text);
    }
    ctx.cache_miss(kind);
    let started = Instant::now();
    let on_token = |tokens: usize| {
        if tokens % 16 == 1 {
            ctx.progress(None, format!("{tokens} tokens from {}", llm.model()));
        }
    };
    let reply = llm.complete(request, &ctx.cancel, &on_token).await?;
    let cost_ms = started.elapsed().as_millis() as u64;
    if let Err(e) = cache.put(&key, reply.as_bytes(), cost_ms) {
        tracing::warn!("cannot cache the {kind} reply: {e}");
    }
    Ok(reply)
}

/// Drops a cached reply that turned out unusable, so a retry asks again.
pub fn forget(llm: &dyn LlmProvider, cache: &Cache, kind: &str, request: &ChatRequest) {
    let key = CacheKey::new(kind, llm.name(), llm.model(), request);
    cache.remove(&key);
}
