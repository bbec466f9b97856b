//! The OpenAI-compatible chat adapter: OpenAI itself and the many servers that copy its
//! `/chat/completions` API (DeepSeek, Groq, OpenRouter, Ollama, LiteLLM, vLLM…), plain or
//! streamed over server-sent events.

use super::{ChatRequest, LlmProvider, TokenProgress};
use crate::config::secret::Secret;
use crate::providers::ProviderError;
use crate::providers::http::{cancellable, classify_status, classify_transport, client, redact};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const NAME: &str = "openai-compatible";

/// Stray non-SSE text kept from a streamed reply, in case the server ignored `stream`.
const MAX_STRAY_BYTES: usize = 1 << 20;

pub struct OpenAiCompatible {
    client: reqwest::Client,
    endpoint: String,
    api_key: Secret,
    model: String,
    timeout: Duration,
    stream: bool,
    auth_hint: String,
}

impl OpenAiCompatible {
    /// `base_url` is the API root (e.g. `https://api.openai.com/v1`); an empty `api_key` sends
    /// no Authorization header, as local servers such as Ollama expect.
    pub fn new(
        base_url: &str,
        api_key: Secret,
        model: &str,
        timeout: Duration,
        stream: bool,
        auth_hint: String,
    ) -> Result<Self, ProviderError> {
        let invalid = |message: String| ProviderError::Invalid {
            provider: NAME.into(),
            message,
        };
        let base = base_url.trim().trim_end_matches('/');
        if base.is_empty() {
            return Err(invalid(
                "llm.base_url is empty; set it to the API root, e.g. https://api.openai.com/v1"
                    .into(),
            ));
        }
        let mut url = match reqwest::Url::parse(base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => url,
            _ => {
                return Err(invalid(format!(
                    "llm.base_url `{base}` is not an http(s) URL, e.g. http://localhost:11434/v1"
                )));
            }
        };
        if model.trim().is_empty() {
            return Err(invalid("llm.model is empty; name the model to use".into()));
        }
        // People often paste the full endpoint from vendor docs instead of the API root; a
        // query string (some gateways want one) stays after the path.
        let path = url.path().trim_end_matches('/').to_string();
        if !path.ends_with("/chat/completions") {
            url.set_path(&format!("{path}/chat/completions"));
        }
        let endpoint = url.to_string();
        Ok(OpenAiCompatible {
            client: client(timeout)?,
            endpoint,
            api_key,
            model: model.trim().to_string(),
            timeout,
            stream,
            auth_hint,
        })
    }

    fn bad_reply(message: impl Into<String>) -> ProviderError {
        ProviderError::BadReply {
            provider: NAME.into(),
            message: message.into(),
        }
    }

    fn transport(&self, error: &reqwest::Error) -> ProviderError {
        classify_transport(NAME, &self.endpoint, error, self.timeout.as_secs())
    }

    async fn read_body(
        &self,
        response: reqwest::Response,
        cancel: &CancellationToken,
    ) -> Result<String, ProviderError> {
        let bytes = cancellable(cancel, response.bytes())
            .await?
            .map_err(|e| self.transport(&e))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        cancel: &CancellationToken,
        on_token: TokenProgress<'_>,
    ) -> Result<String, ProviderError> {
        let mut parser = SseParser::default();
        loop {
            let chunk = cancellable(cancel, response.chunk())
                .await?
                .map_err(|e| self.transport(&e))?;
            let Some(chunk) = chunk else { break };
            if parser.feed(&chunk, on_token)? {
                break;
            }
        }
        parser.finish(on_token)
    }
}

#[async_trait]
impl LlmProvider for OpenAiCompatible {
    fn name(&self) -> &str {
        NAME
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
        on_token: TokenProgress<'_>,
    ) -> Result<String, ProviderError> {
        let mut body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "temperature": request.temperature,
            "stream": self.stream,
        });
        if let Some(max) = request.max_tokens {
            body["max_tokens"] = json!(max);
        }
        if let Some(seed) = request.seed {
            body["seed"] = json!(seed);
        }
        tracing::debug!(
            model = %self.model,
            endpoint = %self.endpoint,
            system_chars = request.system.chars().count(),
            user_chars = request.user.chars().count(),
            stream = self.stream,
            "llm request"
        );
        let mut builder = self.client.post(&self.endpoint).json(&body);
        if !self.api_key.is_empty() {
            builder = builder.bearer_auth(self.api_key.expose().trim());
        }
        if self.stream {
            builder = builder.header(reqwest::header::ACCEPT, "text/event-stream");
        }
        let response = cancellable(cancel, builder.send())
            .await?
            .map_err(|e| self.transport(&e))?;

        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let text = self.read_body(response, cancel).await?;
            let text = redact(&text, self.api_key.expose());
            return Err(classify_status(
                NAME,
                status,
                &headers,
                &text,
                &self.auth_hint,
            ));
        }

        // Some servers ignore `stream: true` and answer with one JSON document.
        let is_event_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        let text = if self.stream && is_event_stream {
            self.read_stream(response, cancel, on_token).await?
        } else {
            let body = self.read_body(response, cancel).await?;
            if self.stream && body.trim_start().starts_with("data:") {
                let mut parser = SseParser::default();
                parser.feed(body.as_bytes(), on_token)?;
                parser.finish(on_token)?
            } else {
                parse_full_reply(&body)?
            }
        };
        tracing::debug!(model = %self.model, reply_chars = text.chars().count(), "llm reply");
        Ok(text)
    }
}

/// `choices[0].message.content` of a non-streamed reply.
fn parse_full_reply(body: &str) -> Result<String, ProviderError> {
    let json: Value = serde_json::from_str(body.trim()).map_err(|e| {
        OpenAiCompatible::bad_reply(format!("the reply is not JSON ({e}); is base_url right?"))
    })?;
    if let Some(message) = embedded_error(&json) {
        return Err(OpenAiCompatible::bad_reply(message));
    }
    let text = json
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if text.trim().is_empty() {
        return Err(OpenAiCompatible::bad_reply("the model returned no text"));
    }
    Ok(text.to_string())
}

/// Proxies sometimes report failures inside a 200 body (or an SSE event).
fn embedded_error(json: &Value) -> Option<String> {
    let error = json.get("error")?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    Some(format!("the server reported an error: {message}"))
}

/// Reassembles `data:` lines that may arrive split at any byte, even inside a UTF-8 character.
#[derive(Default)]
struct SseParser {
    pending: Vec<u8>,
    text: String,
    chunks: usize,
    stray: String,
    done: bool,
}

impl SseParser {
    /// Returns true once `[DONE]` has been seen.
    fn feed(&mut self, bytes: &[u8], on_token: TokenProgress<'_>) -> Result<bool, ProviderError> {
        self.pending.extend_from_slice(bytes);
        while !self.done {
            let Some(end) = self.pending.iter().position(|&b| b == b'\n') else {
                break;
            };
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.line(&String::from_utf8_lossy(&line), on_token)?;
        }
        Ok(self.done)
    }

    fn finish(mut self, on_token: TokenProgress<'_>) -> Result<String, ProviderError> {
        if !self.done && !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.line(&String::from_utf8_lossy(&rest), on_token)?;
        }
        if self.text.trim().is_empty() && !self.stray.trim().is_empty() {
            return parse_full_reply(&self.stray);
        }
        if self.text.trim().is_empty() {
            return Err(OpenAiCompatible::bad_reply("the model streamed no text"));
        }
        Ok(self.text)
    }

    fn line(&mut self, line: &str, on_token: TokenProgress<'_>) -> Result<(), ProviderError> {
        let line = line.trim_end_matches(['\r', '\n']);
        // Blank lines end events, `:` lines are keep-alives; event/id/retry fields say nothing
        // about the text.
        if line.trim().is_empty() || line.starts_with(':') {
            return Ok(());
        }
        let Some(data) = line.strip_prefix("data:") else {
            if !["event:", "id:", "retry:"]
                .iter()
                .any(|f| line.starts_with(f))
                && self.stray.len() < MAX_STRAY_BYTES
            {
                self.stray.push_str(line);
                self.stray.push('\n');
            }
            return Ok(());
        };
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let json: Value = serde_json::from_str(data).map_err(|e| {
            OpenAiCompatible::bad_reply(format!("a streamed chunk is not JSON ({e})"))
        })?;
        if let Some(message) = embedded_error(&json) {
            return Err(OpenAiCompatible::bad_reply(message));
        }
        // Reasoning models stream `reasoning_content` beside `content`; only the answer counts.
        if let Some(piece) = json
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            self.text.push_str(piece);
            self.chunks += 1;
            on_token(self.chunks);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("sk-test")
    }

    #[test]
    fn base_url_is_validated_and_normalised() {
        let t = Duration::from_secs(5);
        let err = |url: &str| OpenAiCompatible::new(url, secret(), "m", t, false, "h".into());
        assert!(
            matches!(err(""), Err(ProviderError::Invalid { message, .. }) if message.contains("llm.base_url"))
        );
        assert!(
            matches!(err("localhost:11434"), Err(ProviderError::Invalid { message, .. }) if message.contains("llm.base_url"))
        );
        assert_eq!(
            err("http://h/v1/").map(|p| p.endpoint).ok().as_deref(),
            Some("http://h/v1/chat/completions")
        );
        assert_eq!(
            err("http://h:8/v1?x=1").map(|p| p.endpoint).ok().as_deref(),
            Some("http://h:8/v1/chat/completions?x=1")
        );
        assert_eq!(
            err("http://h/v1/chat/completions")
                .map(|p| p.endpoint)
                .ok()
                .as_deref(),
            Some("http://h/v1/chat/completions")
        );
    }

    #[test]
    fn sse_split_anywhere_reassembles() {
        let stream = "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\n: ping\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"Ché\"}}]}\r\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\" fin\"}}]}\n\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        for split in 1..bytes.len() {
            let mut p = SseParser::default();
            let noop = |_: usize| {};
            p.feed(&bytes[..split], &noop).ok();
            p.feed(&bytes[split..], &noop).ok();
            assert_eq!(
                p.finish(&noop).ok().as_deref(),
                Some("Ché fin"),
                "split at {split}"
            );
        }
    }

    #[test]
    fn full_replies_and_errors() {
        let ok = r#"{"choices":[{"message":{"role":"assistant","content":"Hi"}}]}"#;
        assert_eq!(parse_full_reply(ok).ok().as_deref(), Some("Hi"));
        assert!(matches!(
            parse_full_reply("not json{"),
            Err(ProviderError::BadReply { .. })
        ));
        let empty = r#"{"choices":[{"message":{"content":"  "}}]}"#;
        assert!(matches!(
            parse_full_reply(empty),
            Err(ProviderError::BadReply { .. })
        ));
        let err = r#"{"error":{"message":"overloaded"}}"#;
        assert!(
            matches!(parse_full_reply(err), Err(ProviderError::BadReply { message, .. }) if message.contains("overloaded"))
        );
    }
}
