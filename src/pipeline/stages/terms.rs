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
            ..StageOutput::default()
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
        if llm.name() == prompts::LOCAL_PROVIDER {
            return self.ask_per_sentence(ctx, llm, script, per_sentence).await;
        }
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

    /// A small local model loses track of numbered sentences in one request: ask per
    /// sentence, again with another seed when a reply is unusable, and fall back to that
    /// sentence's keywords.
    async fn ask_per_sentence(
        &self,
        ctx: &JobCtx,
        llm: &dyn LlmProvider,
        script: &ScriptDoc,
        per_sentence: usize,
    ) -> Result<Option<Vec<Vec<String>>>, StageError> {
        let mut all = Vec::with_capacity(script.sentences.len());
        for (i, sentence) in script.sentences.iter().enumerate() {
            ctx.check_cancelled()?;
            let mut found = Vec::new();
            for round in 0..ROUNDS {
                let mut request = prompts::local_terms_request(
                    &script.subject,
                    sentence,
                    per_sentence,
                    self.config.llm.temperature,
                );
                request.seed = Some(self.config.llm.seed.wrapping_add(round));
                let reply = ask_cached(ctx, llm, &self.cache, "terms", &request).await?;
                let terms = prompts::parse_term_lines(&reply, per_sentence);
                if validate::check_terms(std::slice::from_ref(&terms), 1).is_ok() {
                    found = terms;
                    break;
                }
                forget(llm, &self.cache, "terms", &request);
            }
            if found.is_empty() {
                ctx.log(
                    LogLevel::Warn,
                    format!(
                        "no usable search terms for sentence {}: using its keywords",
                        i + 1
                    ),
                );
                found = bundled::keyword_terms(sentence, per_sentence);
            }
            ctx.progress(
                Some((i + 1) as f32 / script.sentences.len() as f32),
                format!(
                    "terms for {} of {} sentences",
                    i + 1,
                    script.sentences.len()
                ),
            );
            all.push(found);
        }
        Ok(Some(all))
    }
}
