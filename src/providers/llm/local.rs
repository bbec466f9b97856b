//! `LocalLlm`: an embedded GGUF chat model (SmolLM2 by default; any llama, qwen2, qwen3 or
//! gemma3 GGUF) run with candle in this process, loaded once and shared by every task.

pub mod chat_template;
pub mod engine;
pub mod gguf_tokenizer;
pub mod prompts;
mod requant;
mod spm;

pub use engine::{GenerationStats, SUPPORTED};
pub use gguf_tokenizer::GgufTokenizer;

use super::{ChatRequest, LlmProvider, TokenProgress};
use crate::providers::ProviderError;
use crate::providers::device::candle_device;
use crate::providers::models::{FETCH_COMMAND, Loaded, ModelKind, OnceModel, default_models_dir};
use async_trait::async_trait;
use engine::{Engine, GenError, LoadError, Params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// `LlmProvider::name()` of this provider; the prompts differ for it.
pub const PROVIDER: &str = "local";
/// Used when a request sets no `max_tokens` (the `llm.max_tokens` default).
const DEFAULT_MAX_TOKENS: u32 = 400;
/// A mild penalty over the recent tokens: enough to stop a 135M model from repeating one
/// sentence forever, too little to push it off the subject's words.
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_LAST_N: usize = 64;

type SharedModel = Arc<OnceModel<Engine>>;

/// One load per file and device for the whole process, however many `LocalLlm`s the actors,
/// CLI commands and tests create.
fn shared_model(path: &Path, device: &str) -> SharedModel {
    static MODELS: LazyLock<Mutex<HashMap<(PathBuf, String), SharedModel>>> =
        LazyLock::new(Mutex::default);
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let name = path.display().to_string();
    let mut models = MODELS.lock().unwrap_or_else(PoisonError::into_inner);
    models
        .entry((path, device.to_string()))
        .or_insert_with(|| Arc::new(OnceModel::new(name)))
        .clone()
}

pub struct LocalLlm {
    path: PathBuf,
    device: String,
    model_name: String,
    top_p: f64,
    seed: u64,
    max_tokens: u32,
    model: SharedModel,
    last_stats: Mutex<Option<GenerationStats>>,
}

impl LocalLlm {
    /// `gguf` is the model file, `device` "cpu" or "cuda"; nothing is read until the first
    /// `warm_up` or `complete`.
    pub fn new(gguf: PathBuf, device: String, top_p: f64) -> Self {
        let model_name = gguf
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| gguf.display().to_string());
        LocalLlm {
            model: shared_model(&gguf, &device),
            path: gguf,
            device,
            model_name,
            top_p,
            seed: 42,
            max_tokens: DEFAULT_MAX_TOKENS,
            last_stats: Mutex::new(None),
        }
    }

    /// The seed used when a request has none, and the reply length when it sets none
    /// (`llm.seed`, `llm.max_tokens`).
    pub fn with_defaults(mut self, seed: u64, max_tokens: u32) -> Self {
        self.seed = seed;
        self.max_tokens = max_tokens.max(1);
        self
    }

    /// `llm.local_model` resolved: the configured file, or SmolLM2 in the models folder.
    pub fn model_path(local_model: &str) -> PathBuf {
        match local_model.trim() {
            "" => ModelKind::Llm.main_file(&default_models_dir()),
            path => PathBuf::from(path),
        }
    }

    /// Token counts and speed of the last finished generation.
    pub fn last_stats(&self) -> Option<GenerationStats> {
        *self
            .last_stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn engine(&self) -> Result<(Arc<Engine>, Loaded), ProviderError> {
        let path = self.path.clone();
        let device = self.device.clone();
        let (engine, mut loaded) = self.model.get(move || load(&path, &device)).await?;
        loaded.model = self.model_name.clone();
        Ok((engine, loaded))
    }
}

fn load(path: &Path, device: &str) -> Result<Engine, ProviderError> {
    let device = candle_device(device)?;
    let invalid = |why: String| ProviderError::Invalid {
        provider: PROVIDER.into(),
        message: format!(
            "{}: {why}; install the models with {FETCH_COMMAND} or point llm.local_model at a \
             GGUF file",
            path.display()
        ),
    };
    let file = std::fs::File::open(path).map_err(|e| invalid(format!("cannot open it ({e})")))?;
    let engine = Engine::load(file, device).map_err(|e| match e {
        LoadError::Broken(why) => invalid(why),
        // A valid file of another kind: fetching the models again would not help.
        LoadError::Unsupported(why) => ProviderError::Invalid {
            provider: PROVIDER.into(),
            message: format!("{}: {why}", path.display()),
        },
    })?;
    tracing::info!(
        path = %path.display(),
        chat = engine.family().label(),
        "local LLM ready"
    );
    Ok(engine)
}

/// A reply cut off by `max_tokens` ends at its last finished sentence or line, so no half
/// sentence is read aloud or parsed as a search term; a list number left alone on the last
/// line ("5.") goes too.
fn drop_unfinished_tail(text: &str) -> &str {
    let mut text = cut_at_last_end(text);
    while let Some((head, last)) = text.trim_end().rsplit_once('\n')
        && !last.chars().any(char::is_alphabetic)
    {
        text = head.trim_end();
    }
    text
}

fn cut_at_last_end(text: &str) -> &str {
    let closers = ['"', '\'', '”', '’', ')'];
    let sentence_end = text
        .char_indices()
        .filter(|&(_, c)| matches!(c, '.' | '!' | '?' | '。' | '！' | '？'))
        .filter_map(|(i, c)| {
            let rest = &text[i + c.len_utf8()..];
            let after = rest.trim_start_matches(closers);
            let end = text.len() - after.len();
            after
                .chars()
                .next()
                .is_none_or(char::is_whitespace)
                .then_some(end)
        })
        .next_back();
    let line_end = text.trim_end().rfind('\n');
    match sentence_end.max(line_end) {
        Some(end) if !text[..end].trim().is_empty() => &text[..end],
        _ => text,
    }
}

#[async_trait]
impl LlmProvider for LocalLlm {
    fn name(&self) -> &str {
        PROVIDER
    }

    fn model(&self) -> &str {
        &self.model_name
    }

    async fn warm_up(&self) -> Result<Option<Loaded>, ProviderError> {
        Ok(Some(self.engine().await?.1))
    }

    async fn complete(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
        on_token: TokenProgress<'_>,
    ) -> Result<String, ProviderError> {
        let (engine, _) = self.engine().await?;
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let params = Params {
            temperature: request.temperature.max(0.0),
            top_p: self.top_p,
            seed: request.seed.unwrap_or(self.seed),
            max_tokens: request.max_tokens.unwrap_or(self.max_tokens).max(1) as usize,
            repeat_penalty: REPEAT_PENALTY,
            repeat_last_n: REPEAT_LAST_N,
        };
        // The worker stops when this call is cancelled or its future is dropped.
        let worker_cancel = cancel.child_token();
        let _stop_worker = worker_cancel.clone().drop_guard();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (system, user) = (request.system.clone(), request.user.clone());
        let mut job = tokio::task::spawn_blocking(move || {
            engine.generate(&system, &user, &params, &worker_cancel, |n| {
                let _ = tx.send(n);
            })
        });
        let outcome = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                Some(n) = rx.recv() => on_token(n),
                joined = &mut job => break joined,
            }
        };
        // Counts sent just before the worker finished.
        while let Ok(n) = rx.try_recv() {
            on_token(n);
        }
        let failed = |message: String| ProviderError::Invalid {
            provider: PROVIDER.into(),
            message: format!("{}: {message}", self.model_name),
        };
        let (text, stats) = match outcome {
            Err(e) => return Err(failed(format!("generation crashed: {e}"))),
            Ok(Err(GenError::Cancelled)) => return Err(ProviderError::Cancelled),
            Ok(Err(GenError::Failed(message))) => return Err(failed(message)),
            Ok(Ok(done)) => done,
        };
        tracing::debug!(
            prompt_tokens = stats.prompt_tokens,
            prompt_tok_s = stats.prompt_tokens_per_s(),
            generated = stats.generated_tokens,
            gen_tok_s = stats.generated_tokens_per_s(),
            truncated = stats.truncated,
            "local LLM reply"
        );
        *self
            .last_stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(stats);
        let text = if stats.truncated {
            drop_unfinished_tail(&text)
        } else {
            &text
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(ProviderError::BadReply {
                provider: PROVIDER.into(),
                message: format!("{} returned an empty reply", self.model_name),
            });
        }
        Ok(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_tails_are_dropped() {
        assert_eq!(drop_unfinished_tail("One. Two is cut"), "One.");
        assert_eq!(
            drop_unfinished_tail("Dr. Who said \"hi.\" Then"),
            "Dr. Who said \"hi.\""
        );
        assert_eq!(
            drop_unfinished_tail("cat purring\nsleeping kit"),
            "cat purring"
        );
        assert_eq!(drop_unfinished_tail("no end at all"), "no end at all");
        assert_eq!(drop_unfinished_tail("3.5 kg"), "3.5 kg");
        assert_eq!(
            drop_unfinished_tail("1. One.\n\n2. Two.\n\n3."),
            "1. One.\n\n2. Two."
        );
    }

    #[tokio::test]
    async fn missing_files_name_the_path_and_the_fetch_script() {
        let llm = LocalLlm::new("/nonexistent/x.gguf".into(), "cpu".into(), 0.9);
        assert_eq!((llm.name(), llm.model()), ("local", "x"));
        let err = llm.warm_up().await.unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/x.gguf") && err.contains(FETCH_COMMAND),
            "{err}"
        );
    }

    #[tokio::test]
    async fn corrupt_files_are_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.gguf");
        std::fs::write(&path, b"GGUF but not really").unwrap();
        let llm = LocalLlm::new(path.clone(), "cpu".into(), 0.9);
        let err = llm.warm_up().await.unwrap_err();
        assert!(matches!(err, ProviderError::Invalid { .. }));
        let text = err.to_string();
        assert!(
            text.contains("bad.gguf") && text.contains(FETCH_COMMAND),
            "{text}"
        );
    }

    #[tokio::test]
    async fn unsupported_architectures_are_named_with_the_supported_list() {
        use candle_core::quantized::gguf_file::{Value, write};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mamba.gguf");
        let arch = Value::String("mamba".into());
        let mut file = std::fs::File::create(&path).unwrap();
        write(&mut file, &[("general.architecture", &arch)], &[]).unwrap();
        let err = LocalLlm::new(path, "cpu".into(), 0.9)
            .warm_up()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"mamba\"") && err.contains("llama, qwen2, qwen3, gemma3"),
            "{err}"
        );
        // Fetching the models again would not help, so the fix is not suggested.
        assert!(!err.contains(FETCH_COMMAND), "{err}");
    }
}
