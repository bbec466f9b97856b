//! Language models: write the narration script and the per-sentence search terms.

pub mod bundled;
pub mod local;
pub mod openai;
pub mod prompts;
pub mod terms;
pub mod text;
pub mod validate;

use super::ProviderError;
use super::models::Loaded;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ChatRequest {
    pub system: String,
    pub user: String,
    pub temperature: f64,
    pub max_tokens: Option<u32>,
    /// Sampling seed; a regeneration changes it so the model says something else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// Called with the number of tokens (stream chunks) received so far.
pub type TokenProgress<'a> = &'a (dyn Fn(usize) + Send + Sync);

#[async_trait]
pub trait LlmProvider: Send + Sync {
    /// Short provider name used in messages and cache keys, e.g. "openai-compatible".
    fn name(&self) -> &str;
    fn model(&self) -> &str;
    /// Loads the model if it lives in this process; see [`crate::providers::models::Loaded`].
    async fn warm_up(&self) -> Result<Option<Loaded>, ProviderError> {
        Ok(None)
    }
    /// Sends one chat request and returns the assistant's text. Stops promptly on `cancel`.
    async fn complete(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
        on_token: TokenProgress<'_>,
    ) -> Result<String, ProviderError>;
}
