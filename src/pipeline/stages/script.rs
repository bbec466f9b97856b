//! Stage `script`: subject → narration, from the user's text, an LLM, or the bundled example.

use super::artifacts::{self, ScriptDoc};
use super::llm_call::ask_cached;
use crate::config::Config;
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use crate::providers::llm::{LlmProvider, bundled, prompts, text};
use crate::store::Cache;
use async_trait::async_trait;
use std::sync::Arc;

pub struct ScriptStage {
    pub llm: Option<Arc<dyn LlmProvider>>,
    pub cache: Cache,
    pub config: Arc<Config>,
}

#[async_trait]
impl StageWork for ScriptStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let subject = ctx.spec.subject.trim().to_string();
        let (origin, raw) = match (&ctx.spec.script, &self.llm) {
            (Some(given), _) => ("user", given.clone()),
            (None, Some(llm)) => {
                let request = prompts::script_request(
                    &subject,
                    &self.config.script,
                    self.config.llm.temperature,
                );
                (
                    "llm",
                    ask_cached(ctx, llm.as_ref(), &self.cache, "llm", &request).await?,
                )
            }
            (None, None) => {
                ctx.log(
                    LogLevel::Warn,
                    "no LLM endpoint is configured: using the bundled example script. \
                     Set [llm] base_url and model (and OPENAI_API_KEY) in config.toml, \
                     or pass --script FILE",
                );
                ("bundled", bundled::example_script(&subject))
            }
        };
        let cleaned = if origin == "user" {
            raw.trim().to_string()
        } else {
            text::clean_script(&raw)
        };
        let sentences = text::split_sentences(&cleaned);
        if sentences.is_empty() {
            let message = format!("the script from {origin} is empty after cleanup");
            return Err(if origin == "llm" {
                StageError::transient(message)
            } else {
                StageError::permanent(format!("{message}; give a script with some sentences"))
            });
        }
        let doc = ScriptDoc {
            subject,
            origin: origin.to_string(),
            text: cleaned,
            sentences,
        };
        artifacts::save(ctx, artifacts::SCRIPT, &doc)?;
        Ok(StageOutput {
            files: vec![artifacts::SCRIPT.into()],
            summary: format!("{} sentences ({origin})", doc.sentences.len()),
        })
    }
}
