//! What the stock vendors' clients share: checking the API root, one cancellable request read
//! whole, page sizes, the error shapes, and the search itself (an empty term refused, keys
//! tried in turn, notes about keys set aside returned on the page).

use super::keys::{Attempt, KeyRing};
use super::{SearchPage, SearchQuery};
use crate::config::Secret;
use crate::providers::ProviderError;
use crate::providers::http::cancellable;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::future::Future;
use tokio_util::sync::CancellationToken;

/// A search that has not answered in this long is given up (and retried by the caller).
pub(super) const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// One search: refuses an empty term, then runs `attempt` with one key after another until a
/// key is accepted. Keys set aside on the way are told in the page's notes.
pub(super) async fn search_with_keys<'a, F, Fut>(
    provider: &str,
    keys: &'a KeyRing,
    query: &SearchQuery,
    attempt: F,
) -> Result<SearchPage, ProviderError>
where
    F: FnMut(usize, &'a Secret) -> Fut,
    Fut: Future<Output = Result<Attempt<SearchPage>, ProviderError>>,
{
    if query.term.trim().is_empty() {
        return Err(invalid(provider, "empty search term"));
    }
    tracing::debug!(term = %query.term, page = query.page, kind = ?query.kind, "{provider} search");
    let (mut page, notes) = keys
        .rotate(attempt)
        .await
        .map_err(|e| keys.scrub_error(e))?;
    page.notes = notes;
    Ok(page)
}

/// Sends `request` and reads the whole reply as text, unless `cancel` fires first (the request
/// is then dropped mid-flight).
pub(super) async fn fetch(
    request: reqwest::RequestBuilder,
    cancel: &CancellationToken,
    transport: impl Fn(reqwest::Error) -> ProviderError,
) -> Result<(StatusCode, HeaderMap, String), ProviderError> {
    let response = cancellable(cancel, request.send())
        .await?
        .map_err(&transport)?;
    let (status, headers) = (response.status(), response.headers().clone());
    let body = cancellable(cancel, response.bytes())
        .await?
        .map_err(&transport)?;
    Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
}

/// `base_url` trimmed of its trailing slash, checked to be an http(s) URL.
pub(super) fn api_base(provider: &str, base_url: &str) -> Result<String, ProviderError> {
    let base = base_url.trim().trim_end_matches('/');
    match reqwest::Url::parse(base) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(base.into()),
        _ => Err(invalid(
            provider,
            format!("[footage.{provider}] base_url `{base}` is not an http(s) URL"),
        )),
    }
}

pub(super) fn parse_url(provider: &str, url: &str) -> Result<reqwest::Url, ProviderError> {
    reqwest::Url::parse(url).map_err(|e| invalid(provider, format!("bad API URL: {e}")))
}

/// The query's page size, else the configured one, else the vendors' usual 15.
pub(super) fn page_size(asked: u32, configured: u32) -> u32 {
    [asked, configured]
        .into_iter()
        .find(|n| *n > 0)
        .unwrap_or(15)
}

pub(super) fn invalid(provider: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Invalid {
        provider: provider.into(),
        message: message.into(),
    }
}

pub(super) fn bad_reply(provider: &str, message: String) -> ProviderError {
    ProviderError::BadReply {
        provider: provider.into(),
        message,
    }
}
