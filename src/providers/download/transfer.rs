//! One HTTP attempt: streams the body into the `*.part` file, resuming with `Range` from what
//! the part already holds, and says whether a failure is worth another try.
//!
//! Every wait (headers, each body chunk) is bounded, so a server that stops sending costs at
//! most the stall timeout, after which the next attempt resumes where this one stopped.

use super::report::Reporter;
use super::validate::looks_like_html;
use super::{DownloadSettings, megabytes, redact_urls};
use crate::providers::parse_retry_after;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, HeaderMap, RANGE, RETRY_AFTER};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio_util::sync::CancellationToken;

/// Fewer, larger writes: tokio hands each file write to a blocking thread.
const WRITE_BUFFER: usize = 256 * 1024;

/// Why an attempt did not finish the file.
#[derive(Debug)]
pub(super) enum Failure {
    /// Worth another try, resuming from what the part file holds.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// This candidate is unusable.
    Rejected(String),
    /// Local trouble writing the part file.
    Storage(String),
    Cancelled,
}

fn transient(reason: impl Into<String>) -> Failure {
    Failure::Transient {
        reason: reason.into(),
        retry_after: None,
    }
}

/// What one attempt needs besides the progress reporter.
pub(super) struct Attempt<'a> {
    pub client: &'a reqwest::Client,
    pub url: &'a str,
    pub part: &'a Path,
    pub settings: &'a DownloadSettings,
    /// The vendor's size, shown as the total when the server gives none.
    pub expected: Option<u64>,
    /// The downloader's running total of network bytes.
    pub counter: &'a AtomicU64,
}

/// Runs one attempt; on success the part file holds the whole body and its size is returned.
pub(super) async fn attempt(
    a: &Attempt<'_>,
    report: &mut Reporter<'_>,
    cancel: &CancellationToken,
) -> Result<u64, Failure> {
    let mut have = part_len(a.part).await?;
    let response = loop {
        let mut request = a.client.get(a.url);
        if have > 0 {
            request = request.header(RANGE, format!("bytes={have}-"));
        }
        report.start_clock();
        let response = send(request, a.settings, cancel).await?;
        if response.status() == StatusCode::RANGE_NOT_SATISFIABLE && have > 0 {
            // The part does not fit the file the server has now: start over without Range.
            remove(a.part).await?;
            have = 0;
            continue;
        }
        break response;
    };
    check_status(response.status(), response.headers())?;
    let headers = response.headers();
    if is_html_type(headers) {
        return Err(Failure::Rejected("an HTML page, not a video".into()));
    }
    let resume = response.status() == StatusCode::PARTIAL_CONTENT;
    let (start, length) = if resume {
        let (from, total) = content_range(headers)
            .ok_or_else(|| transient("a partial reply without a usable Content-Range"))?;
        if from != have {
            remove(a.part).await?;
            return Err(transient("the server resumed at the wrong offset"));
        }
        let total = total.or(response.content_length().map(|len| len + from));
        (from, total)
    } else {
        // 200 to a Range request: the server cannot resume, so the part starts over.
        (0, response.content_length())
    };
    let max = a.settings.max_bytes;
    if length.is_some_and(|len| len > max) {
        return Err(too_large(max));
    }
    let shown_total = length.or(a.expected);
    report.progress(start, shown_total, true);

    let file = open_part(a.part, resume).await?;
    let mut file = BufWriter::with_capacity(WRITE_BUFFER, file);
    let body = Body {
        attempt: a,
        start,
        length,
        shown_total,
    };
    let result = body.stream(response, &mut file, report, cancel).await;
    // What arrived is kept even when the body broke off: the next attempt resumes after it.
    let flushed = file.flush().await;
    match (result, flushed) {
        (Ok(size), Ok(())) => Ok(size),
        (Ok(_), Err(e)) => Err(storage(a.part, &e)),
        (Err(failure), _) => Err(failure),
    }
}

struct Body<'a> {
    attempt: &'a Attempt<'a>,
    start: u64,
    /// The full size the server declared.
    length: Option<u64>,
    shown_total: Option<u64>,
}

impl Body<'_> {
    async fn stream(
        &self,
        mut response: reqwest::Response,
        file: &mut BufWriter<tokio::fs::File>,
        report: &mut Reporter<'_>,
        cancel: &CancellationToken,
    ) -> Result<u64, Failure> {
        let a = self.attempt;
        let stall = a.settings.stall_timeout;
        let mut done = self.start;
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return Err(Failure::Cancelled),
                next = tokio::time::timeout(stall, response.chunk()) => next,
            };
            let chunk = match next {
                Err(_) => return Err(stalled(stall)),
                Ok(Err(e)) if e.is_timeout() => return Err(stalled(stall)),
                Ok(Err(_)) => return Err(dropped(done)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            let n = chunk.len() as u64;
            report.network += n;
            a.counter.fetch_add(n, Ordering::Relaxed);
            // Error pages served as video/mp4 are caught before a byte is written.
            if done == 0 && looks_like_html(&chunk) {
                return Err(Failure::Rejected("an HTML page, not a video".into()));
            }
            done += n;
            if done > a.settings.max_bytes {
                return Err(too_large(a.settings.max_bytes));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| storage(a.part, &e))?;
            report.progress(done, self.shown_total, false);
        }
        if self.length.is_some_and(|len| done < len) {
            return Err(dropped(done));
        }
        Ok(done)
    }
}

async fn send(
    request: reqwest::RequestBuilder,
    settings: &DownloadSettings,
    cancel: &CancellationToken,
) -> Result<reqwest::Response, Failure> {
    let wait = settings.connect_timeout + settings.stall_timeout;
    let sent = tokio::select! {
        _ = cancel.cancelled() => return Err(Failure::Cancelled),
        sent = tokio::time::timeout(wait, request.send()) => sent,
    };
    match sent {
        Err(_) => Err(transient(format!("no answer for {} s", secs(wait)))),
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) if e.is_redirect() => Err(Failure::Rejected(format!(
            "redirect loop or too many redirects: {}",
            cause(&e)
        ))),
        Ok(Err(e)) if e.is_connect() => Err(transient(format!("cannot connect: {}", cause(&e)))),
        Ok(Err(e)) if e.is_timeout() => Err(transient(format!(
            "no answer for {} s",
            secs(settings.stall_timeout)
        ))),
        Ok(Err(e)) => Err(transient(format!("request failed: {}", cause(&e)))),
    }
}

/// 429 and 5xx are worth waiting for; any other refusal will not change.
fn check_status(status: StatusCode, headers: &HeaderMap) -> Result<(), Failure> {
    let code = status.as_u16();
    let retry_after = || {
        headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
    };
    match code {
        200..=299 => Ok(()),
        429 => Err(Failure::Transient {
            reason: "rate limited (HTTP 429)".into(),
            retry_after: retry_after(),
        }),
        500..=599 => Err(Failure::Transient {
            reason: format!("server error (HTTP {code})"),
            retry_after: retry_after(),
        }),
        _ => Err(Failure::Rejected(format!(
            "HTTP {code} {}",
            status.canonical_reason().unwrap_or("refused")
        ))),
    }
}

fn is_html_type(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/xhtml"))
}

/// `bytes 100-199/200` → (100, Some(200)); `bytes 100-199/*` → (100, None).
fn content_range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?.trim();
    let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let from = range.split_once('-')?.0.trim().parse().ok()?;
    Some((from, total.trim().parse().ok()))
}

async fn part_len(part: &Path) -> Result<u64, Failure> {
    match tokio::fs::metadata(part).await {
        Ok(meta) => Ok(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(storage(part, &e)),
    }
}

async fn open_part(part: &Path, append: bool) -> Result<tokio::fs::File, Failure> {
    if let Some(parent) = part.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| storage(parent, &e))?;
    }
    let mut options = tokio::fs::OpenOptions::new();
    if append {
        options.append(true).create(true);
    } else {
        options.write(true).create(true).truncate(true);
    }
    options.open(part).await.map_err(|e| storage(part, &e))
}

async fn remove(part: &Path) -> Result<(), Failure> {
    match tokio::fs::remove_file(part).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(storage(part, &e)),
        _ => Ok(()),
    }
}

fn storage(path: &Path, e: &std::io::Error) -> Failure {
    Failure::Storage(format!("{}: {e}", path.display()))
}

fn too_large(max: u64) -> Failure {
    Failure::Rejected(format!("larger than the {} cap", megabytes(max)))
}

fn stalled(stall: Duration) -> Failure {
    transient(format!("no data for {} s", secs(stall)))
}

fn dropped(done: u64) -> Failure {
    transient(format!("connection dropped after {}", megabytes(done)))
}

/// Whole seconds when whole, else one decimal: "20 s", "1.5 s".
fn secs(d: Duration) -> String {
    let text = format!("{:.1}", d.as_secs_f64());
    text.strip_suffix(".0").unwrap_or(&text).to_string()
}

/// The most specific cause of a transport error. reqwest's own Display is skipped because it
/// appends the URL, which may carry an API key.
fn cause(error: &reqwest::Error) -> String {
    let mut deepest = None;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        deepest = Some(cause.to_string());
        source = cause.source();
    }
    redact_urls(&deepest.unwrap_or_else(|| "the request failed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn parses_content_range_and_html_types() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 100-199/200"));
        assert_eq!(content_range(&h), Some((100, Some(200))));
        h.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 5-9/*"));
        assert_eq!(content_range(&h), Some((5, None)));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Text/HTML; charset=utf-8"),
        );
        assert!(is_html_type(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
        assert!(!is_html_type(&h));
    }

    #[test]
    fn statuses_split_into_transient_and_rejected() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        let Err(Failure::Transient {
            reason,
            retry_after,
        }) = check_status(StatusCode::TOO_MANY_REQUESTS, &h)
        else {
            panic!("429 must be transient");
        };
        assert_eq!(reason, "rate limited (HTTP 429)");
        assert_eq!(retry_after, Some(Duration::from_secs(2)));
        assert!(matches!(
            check_status(StatusCode::BAD_GATEWAY, &HeaderMap::new()),
            Err(Failure::Transient { .. })
        ));
        let Err(Failure::Rejected(reason)) = check_status(StatusCode::NOT_FOUND, &h) else {
            panic!("404 must be rejected");
        };
        assert_eq!(reason, "HTTP 404 Not Found");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5");
    }
}
