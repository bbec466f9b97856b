//! Stage `script`: subject → narration, from the user's text, the transcript of the user's
//! recording, an LLM (validated, regenerated a bounded number of times), or the bundled
//! example when no LLM is available.

use super::artifacts::{self, ScriptDoc};
use super::llm_call::{ask_cached, forget};
use super::transcribe::{language, transcript_of};
use crate::config::Config;
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use crate::providers::llm::{LlmProvider, bundled, prompts, text, validate};
use crate::providers::stt::SttProvider;
use crate::store::Cache;
use async_trait::async_trait;
use std::sync::Arc;

/// Scripts asked of the LLM before giving up on it.
const ROUNDS: u64 = 3;

pub struct ScriptStage {
    pub llm: Option<Arc<dyn LlmProvider>>,
    pub stt: Option<Arc<dyn SttProvider>>,
    pub cache: Cache,
    pub config: Arc<Config>,
    pub notes: Vec<String>,
}

#[async_trait]
impl StageWork for ScriptStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let subject = ctx.spec.subject.trim().to_string();
        let (origin, text, sentences) = if let Some(given) = &ctx.spec.script {
            let text = given.trim().to_string();
            ("user", text.clone(), text::split_sentences(&text))
        } else if let Some(recording) = &ctx.spec.narration {
            let stt = self.stt.as_ref().ok_or_else(|| {
                StageError::permanent(
                    "a recorded narration needs Whisper to read it: install the models with ./scripts/fetch-models.sh, or give its text with --script FILE",
                )
            })?;
            let transcript = transcript_of(
                ctx,
                stt.as_ref(),
                &self.cache,
                recording,
                language(&self.config),
            )
            .await?;
            let sentences = text::split_sentences(&transcript.text);
            ("narration", transcript.text, sentences)
        } else if let Some(llm) = &self.llm {
            let sentences = self.write_with_llm(ctx, llm.as_ref(), &subject).await?;
            ("llm", sentences.join(" "), sentences)
        } else {
            for note in &self.notes {
                ctx.log(LogLevel::Warn, note.clone());
            }
            if self.notes.is_empty() {
                ctx.log(
                    LogLevel::Warn,
                    "no LLM is configured: using the bundled example script",
                );
            }
            let text = bundled::example_script(&subject);
            ("bundled", text.clone(), text::split_sentences(&text))
        };
        if sentences.is_empty() {
            return Err(StageError::permanent(format!(
                "the script from {origin} has no sentences; give a script with some text"
            )));
        }
        let doc = ScriptDoc {
            subject,
            origin: origin.to_string(),
            text,
            sentences,
        };
        artifacts::save(ctx, artifacts::SCRIPT, &doc)?;
        Ok(StageOutput {
            files: vec![artifacts::SCRIPT.into()],
            summary: format!("{} sentences ({origin})", doc.sentences.len()),
            ..StageOutput::default()
        })
    }
}

impl ScriptStage {
    /// Asks for a script until one passes the checks, each round with another seed.
    async fn write_with_llm(
        &self,
        ctx: &JobCtx,
        llm: &dyn LlmProvider,
        subject: &str,
    ) -> Result<Vec<String>, StageError> {
        ctx.model_ready(llm.warm_up().await?);
        let local = llm.name() == prompts::LOCAL_PROVIDER;
        // A small local model needs a sentence count to follow; its prompt sets its own
        // token budget for that count.
        let wanted = if local {
            prompts::local_sentence_count(&self.config.script)
        } else {
            self.config.script.sentences as usize
        };
        let mut last_problem = String::new();
        for round in 0..ROUNDS {
            let mut request = prompts::script_request_for(
                llm.name(),
                subject,
                &self.config.script,
                self.config.llm.temperature,
            );
            let budget = self.config.llm.max_tokens;
            request.max_tokens = Some(request.max_tokens.map_or(budget, |own| own.min(budget)));
            request.seed = Some(self.config.llm.seed.wrapping_add(round));
            let reply = ask_cached(ctx, llm, &self.cache, "llm", &request).await?;
            let mut sentences = text::split_sentences(&text::clean_script(&reply));
            if wanted > 0 {
                sentences = validate::fit_sentence_count(sentences, wanted);
            }
            match validate::check_script(subject, &sentences, wanted) {
                Ok(()) => return Ok(sentences),
                Err(problem) => {
                    forget(llm, &self.cache, "llm", &request);
                    ctx.log(
                        LogLevel::Warn,
                        format!(
                            "script from {} rejected ({problem}); asking again ({}/{ROUNDS})",
                            llm.model(),
                            round + 1
                        ),
                    );
                    last_problem = problem;
                }
            }
        }
        Err(StageError::permanent(format!(
            "{} did not write a usable script in {ROUNDS} tries ({last_problem}); \
             use a larger model ([llm] base_url/model or llm.local_model) or give --script FILE",
            llm.model()
        )))
    }
}
