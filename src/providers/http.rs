//! Shared HTTP plumbing for every web provider: one way to build a client and one way to turn
//! HTTP statuses and transport failures into [`ProviderError`]s.
//!
//! Nothing here knows a vendor. Messages are built from status codes, the vendor's own error
//! text and the error's cause chain; request headers are never formatted, so an API key sent
//! in a header cannot leak into a message.

use super::{ProviderError, parse_retry_after};
use crate::config::Secret;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::sync::Once;
use std::time::Duration;

/// Vendor messages are shown to people on one line; beyond this they are noise.
const MAX_MESSAGE_CHARS: usize = 300;

/// A stalled TCP/TLS handshake means the host is unreachable, whatever the request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

static CRYPTO_PROVIDER: Once = Once::new();

/// Builds a client whose every wait for the server (headers, then each body read) is bounded by
/// `timeout`.
///
/// It is an idle timeout rather than a total deadline so that long LLM streams and large clip
/// downloads are not cut off while data keeps flowing. Proxy environment variables are honoured.
pub fn client(timeout: Duration) -> Result<reqwest::Client, ProviderError> {
    client_via(timeout, CONNECT_TIMEOUT, None)
}

/// Like [`client`], with a connect timeout and an explicit proxy (`[net] proxy`); with no proxy
/// the usual environment variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY) apply.
pub fn client_via(
    timeout: Duration,
    connect_timeout: Duration,
    proxy: Option<&Secret>,
) -> Result<reqwest::Client, ProviderError> {
    CRYPTO_PROVIDER.call_once(|| {
        // reqwest is built without a bundled provider and panics without one; another part of
        // the program may have installed one first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let setup_error = |message: String| ProviderError::Invalid {
        provider: "http".into(),
        message,
    };
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout.min(timeout.max(Duration::from_millis(1))))
        .read_timeout(timeout)
        .user_agent(concat!("reelforge/", env!("CARGO_PKG_VERSION")));
    if let Some(proxy) = proxy.filter(|p| !p.is_empty()) {
        // The proxy URL may carry a password: the error names the setting, never the value.
        let proxy = reqwest::Proxy::all(proxy.expose().trim()).map_err(|_| {
            setup_error(
                "[net] proxy is not a usable proxy URL; write it as http://host:port or socks5://host:port"
                    .into(),
            )
        })?;
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| {
        setup_error(format!(
            "cannot set up the HTTP client: {}",
            cause_chain(&e)
        ))
    })
}

/// Runs `fut` unless `cancel` fires first; a cancelled request is dropped mid-flight.
pub async fn cancellable<F: std::future::Future>(
    cancel: &tokio_util::sync::CancellationToken,
    fut: F,
) -> Result<F::Output, ProviderError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(ProviderError::Cancelled),
        out = fut => Ok(out),
    }
}

/// Maps a non-success HTTP status to an error, keeping the vendor's own explanation.
///
/// `auth_hint` says how to fix a rejected key (which setting or variable to check).
pub fn classify_status(
    provider: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body_text: &str,
    auth_hint: &str,
) -> ProviderError {
    let provider = provider.to_string();
    let code = status.as_u16();
    let said = vendor_message(body_text);
    let message = said.clone().unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("no details")
            .to_string()
    });
    match code {
        401 | 403 => {
            let hint = match said {
                Some(said) => format!("{auth_hint} (server said: {said})"),
                None => auth_hint.to_string(),
            };
            ProviderError::Auth {
                provider,
                status: code,
                hint,
            }
        }
        429 => ProviderError::RateLimited {
            provider,
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after),
        },
        500..=599 => ProviderError::Server {
            provider,
            status: code,
            message,
        },
        _ => ProviderError::BadRequest {
            provider,
            status: code,
            message,
        },
    }
}

/// Maps a failure to send or to read a reply. `endpoint` is shown without its query string,
/// because some vendors take the key as a query parameter.
pub fn classify_transport(
    provider: &str,
    endpoint: &str,
    error: &reqwest::Error,
    timeout_secs: u64,
) -> ProviderError {
    let provider = provider.to_string();
    let endpoint = endpoint.split(['?', '#']).next().unwrap_or("").to_string();
    if error.is_connect() {
        let message = if error.is_timeout() {
            format!(
                "connection attempt timed out after {} s",
                CONNECT_TIMEOUT.as_secs()
            )
        } else {
            cause_chain(error)
        };
        return ProviderError::Network {
            provider,
            endpoint,
            message,
        };
    }
    if error.is_timeout() {
        return ProviderError::Timeout {
            provider,
            secs: timeout_secs,
        };
    }
    if error.is_decode() {
        return ProviderError::BadReply {
            provider,
            message: cause_chain(error),
        };
    }
    ProviderError::Network {
        provider,
        endpoint,
        message: cause_chain(error),
    }
}

/// Removes every occurrence of `secret` from `text`; for bodies that might echo a key back.
pub fn redact(text: &str, secret: &str) -> String {
    let secret = secret.trim();
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "<redacted>")
    }
}

/// The vendor's explanation from a JSON error body, or the start of a plain-text body.
/// HTML pages (proxies, load balancers) say nothing useful and are skipped.
fn vendor_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() || body.starts_with('<') {
        return None;
    }
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => json_message(&json)?,
        Err(_) => body.to_string(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then(|| truncate(&text, MAX_MESSAGE_CHARS))
}

fn json_message(json: &serde_json::Value) -> Option<String> {
    let as_text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let error = json.get("error");
    error
        .and_then(|e| e.get("message"))
        .and_then(as_text)
        .or_else(|| error.and_then(as_text))
        .or_else(|| json.get("message").and_then(as_text))
        // FastAPI-based servers (LiteLLM, local TTS servers) use `detail`.
        .or_else(|| json.get("detail").and_then(as_text))
        .or_else(|| json.get("detail").map(|d| d.to_string()))
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The causes below reqwest's generic wording ("error sending request"), which carry the real
/// reason (refused, DNS, TLS). The top-level Display is avoided because it appends the URL.
fn cause_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        // hyper's "client error (Connect)" only repeats what the next cause says.
        if !text.starts_with("client error (") && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        let what = if error.is_body() || error.is_decode() {
            "the reply was interrupted"
        } else {
            "the request failed"
        };
        return what.to_string();
    }
    truncate(&parts.join(": "), MAX_MESSAGE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn statuses_map_to_kinds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        let e = classify_status("p", StatusCode::TOO_MANY_REQUESTS, &headers, "", "h");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        let none = HeaderMap::new();
        let e = classify_status("p", StatusCode::BAD_GATEWAY, &none, "<html>x</html>", "h");
        assert!(
            matches!(e, ProviderError::Server { status: 502, ref message, .. } if message == "Bad Gateway")
        );
        let e = classify_status("p", StatusCode::FORBIDDEN, &none, "", "set KEY");
        assert!(
            matches!(e, ProviderError::Auth { status: 403, ref hint, .. } if hint == "set KEY")
        );
        let e = classify_status("p", StatusCode::UNPROCESSABLE_ENTITY, &none, "oops", "h");
        assert!(
            matches!(e, ProviderError::BadRequest { status: 422, ref message, .. } if message == "oops")
        );
    }

    #[test]
    fn vendor_messages_from_common_shapes() {
        let msg = |b: &str| vendor_message(b);
        assert_eq!(
            msg(r#"{"error":{"message":"bad model"}}"#).as_deref(),
            Some("bad model")
        );
        assert_eq!(msg(r#"{"error":"quota"}"#).as_deref(), Some("quota"));
        assert_eq!(msg(r#"{"message":"nope"}"#).as_deref(), Some("nope"));
        assert_eq!(msg(r#"{"detail":"missing"}"#).as_deref(), Some("missing"));
        assert_eq!(msg(r#"{"other":1}"#), None);
        let long = "x".repeat(1000);
        assert_eq!(msg(&long).map(|m| m.chars().count()), Some(301));
    }

    #[test]
    fn redaction_and_truncation_are_char_safe() {
        assert_eq!(redact("key sk-1 echoed", "sk-1"), "key <redacted> echoed");
        assert_eq!(redact("unchanged", ""), "unchanged");
        assert_eq!(truncate("héllo", 2), "hé…");
    }

    #[test]
    fn client_builds_twice() {
        assert!(client(Duration::from_secs(5)).is_ok());
        assert!(client(Duration::from_secs(1)).is_ok());
    }
}
