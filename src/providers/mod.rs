//! Engines and vendors, one trait per kind: `llm`, `tts`, `footage`.
//!
//! Every provider reports failures as [`ProviderError`], whose [`ProviderError::is_transient`]
//! decides whether the pipeline retries by itself. Messages name the provider and the fix and
//! never contain an API key.

pub mod device;
pub mod download;
pub mod embed;
pub mod footage;
pub mod http;
pub mod llm;
pub mod models;
pub mod stt;
pub mod tts;
pub mod vision;

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider}: rate limited (HTTP 429){}", retry_hint(.retry_after))]
    RateLimited {
        provider: String,
        retry_after: Option<Duration>,
    },
    #[error("{provider}: server error (HTTP {status}): {message}")]
    Server {
        provider: String,
        status: u16,
        message: String,
    },
    #[error(
        "{provider}: cannot reach {endpoint}: {message}; check the base_url and [net] proxy settings"
    )]
    Network {
        provider: String,
        endpoint: String,
        message: String,
    },
    #[error(
        "{provider}: no answer within {secs} s; the server may be overloaded, or raise timeout_secs"
    )]
    Timeout { provider: String, secs: u64 },
    #[error("{provider}: the API key was rejected (HTTP {status}); {hint}")]
    Auth {
        provider: String,
        status: u16,
        hint: String,
    },
    #[error("{provider}: request refused (HTTP {status}): {message}")]
    BadRequest {
        provider: String,
        status: u16,
        message: String,
    },
    /// The reply arrived but could not be used (garbage JSON, empty text): worth another try.
    #[error("{provider}: unusable reply: {message}")]
    BadReply { provider: String, message: String },
    /// Wrong settings or input: retrying cannot help.
    #[error("{provider}: {message}")]
    Invalid { provider: String, message: String },
    #[error("{provider}: {message}")]
    Media {
        provider: String,
        message: String,
        transient: bool,
    },
    #[error("cancelled")]
    Cancelled,
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", server asks to retry in {:.1} s", d.as_secs_f64()),
        None => String::new(),
    }
}

impl ProviderError {
    pub fn is_transient(&self) -> bool {
        match self {
            ProviderError::RateLimited { .. }
            | ProviderError::Server { .. }
            | ProviderError::Network { .. }
            | ProviderError::Timeout { .. }
            | ProviderError::BadReply { .. } => true,
            ProviderError::Media { transient, .. } => *transient,
            ProviderError::Auth { .. }
            | ProviderError::BadRequest { .. }
            | ProviderError::Invalid { .. }
            | ProviderError::Cancelled => false,
        }
    }

    /// The delay the server asked for, if any (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Parses a `Retry-After` header: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn transient_classification() {
        let e = ProviderError::RateLimited {
            provider: "openai".into(),
            retry_after: Some(Duration::from_secs(2)),
        };
        assert!(e.is_transient());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert!(e.to_string().contains("retry in 2.0 s"));
        let auth = ProviderError::Auth {
            provider: "openai".into(),
            status: 401,
            hint: "set OPENAI_API_KEY".into(),
        };
        assert!(!auth.is_transient());
    }
}
