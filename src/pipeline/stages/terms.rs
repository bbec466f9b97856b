//! Stage `terms`: one group of English stock-footage search terms per sentence.

use super::artifacts::{self, ScriptDoc, TermsDoc};
use super::llm_call::{ask_cached, forget};
use crate::config::Config;
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use crate::providers::llm::terms::recover_terms;
use crate::providers::llm::{LlmProvider, bundled, prompts};
use crate::store::Cache;
use async_trait::async_trait;
use std::sync::Arc;

pub struct TermsStage {
    pub llm: Option<Arc<dyn LlmProvider>>,
    pub cache: Cache,
    pub config: Arc<Config>,
}

#[async_trait]
impl StageWork for TermsStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let script: ScriptDoc = artifacts::load(ctx, artifacts::SCRIPT)?;
        let per_sentence = self.config.terms.per_sentence as usize;
        let doc = match &self.llm {
            Some(llm) => {
                let request = prompts::terms_request(
                    &script.subject,
                    &script.sentences,
                    per_sentence,
                    self.config.llm.temperature,
                );
                let reply = ask_cached(ctx, llm.as_ref(), &self.cache, "terms", &request).await?;
                match recover_terms(&reply, script.sentences.len(), per_sentence) {
                    Ok(terms) => TermsDoc {
                        terms,
                        origin: "llm".into(),
                    },
                    Err(reason) => {
                        forget(llm.as_ref(), &self.cache, "terms", &request);
                        return Err(StageError::transient(format!(
                            "the LLM's search terms could not be read ({reason}); asking again"
                        )));
                    }
                }
            }
            None => {
                ctx.log(
                    LogLevel::Info,
                    "no LLM configured: search terms are the sentences' keywords",
                );
                TermsDoc {
                    terms: script
                        .sentences
                        .iter()
                        .map(|s| bundled::keyword_terms(s, per_sentence))
                        .collect(),
                    origin: "keywords".into(),
                }
            }
        };
        artifacts::save(ctx, artifacts::TERMS, &doc)?;
        let total: usize = doc.terms.iter().map(Vec::len).sum();
        Ok(StageOutput {
            files: vec![artifacts::TERMS.into()],
            summary: format!("{total} terms for {} sentences", doc.terms.len()),
        })
    }
}
