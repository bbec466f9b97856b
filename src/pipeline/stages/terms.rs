//! Stage `terms`: one group of English stock-footage search terms per sentence. LLM replies
//! are checked and asked again a bounded number of times; sentences still without usable
//! terms get their own keywords, so footage search never starves.

use super::artifacts::{self, ScriptDoc, TermsDoc};
use super::llm_call::{ask_cached, forget};
use crate::config::Config;
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use crate::providers::llm::terms::recover_terms;
use crate::providers::llm::{LlmProvider, bundled, prompts, validate};
use crate::store::Cache;
use async_trait::async_trait;
use std::sync::Arc;

const ROUNDS: u64 = 3;

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
        let keywords = || -> Vec<Vec<String>> {
            script
                .sentences
                .iter()
                .map(|s| bundled::keyword_terms(s, per_sentence))
                .collect()
        };
        let doc = match &self.llm {
            Some(llm) => match self.ask(ctx, llm.as_ref(), &script, per_sentence).await? {
                Some(terms) => TermsDoc {
                    terms,
                    origin: "llm".into(),
                },
                None => TermsDoc {
                    terms: keywords(),
                    origin: "keywords".into(),
                },
            },
            None => {
                ctx.log(
                    LogLevel::Info,
                    "no LLM configured: search terms are the sentences' keywords",
                );
                TermsDoc {
                    terms: keywords(),
                    origin: "keywords".into(),
                }
            }
        };
        artifacts::save(ctx, artifacts::TERMS, &doc)?;
        let total: usize = doc.terms.iter().map(Vec::len).sum();
        Ok(StageOutput {
            files: vec![artifacts::TERMS.into()],
            summary: format!(
                "{total} terms for {} sentences ({})",
                doc.terms.len(),
                doc.origin
            ),
        })
    }
}

impl TermsStage {
    /// The LLM's terms once they pass the checks; `None` after `ROUNDS` unusable replies.
    async fn ask(
        &self,
        ctx: &JobCtx,
        llm: &dyn LlmProvider,
        script: &ScriptDoc,
        per_sentence: usize,
    ) -> Result<Option<Vec<Vec<String>>>, StageError> {
        ctx.model_ready(llm.warm_up().await?);
        for round in 0..ROUNDS {
            let mut request = prompts::terms_request(
                &script.subject,
                &script.sentences,
                per_sentence,
                self.config.llm.temperature,
            );
            request.max_tokens = Some(self.config.llm.max_tokens);
            request.seed = Some(self.config.llm.seed.wrapping_add(round));
            let reply = ask_cached(ctx, llm, &self.cache, "terms", &request).await?;
            let problem = match recover_terms(&reply, script.sentences.len(), per_sentence) {
                Ok(terms) => match validate::check_terms(&terms, script.sentences.len()) {
                    Ok(()) => return Ok(Some(terms)),
                    Err(problem) => problem,
                },
                Err(problem) => problem,
            };
            forget(llm, &self.cache, "terms", &request);
            ctx.log(
                LogLevel::Warn,
                format!(
                    "search terms from {} rejected ({problem}); asking again ({}/{ROUNDS})",
                    llm.model(),
                    round + 1
                ),
            );
        }
        ctx.log(
            LogLevel::Warn,
            "no usable search terms from the LLM: using the sentences' keywords",
        );
        Ok(None)
    }
}
