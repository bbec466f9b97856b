//! The real implementations of the seven stages, and the builder that wires them to the
//! providers chosen in the config.

pub mod artifacts;
mod footage;
mod llm_call;
mod render;
mod script;
pub mod select;
mod subtitles;
mod terms;
mod voice;

use super::{EngineSettings, RetryPolicy, Stage, StageSet, StageWork};
use crate::config::Config;
use crate::providers::ProviderError;
use crate::providers::llm::LlmProvider;
use crate::providers::llm::openai::OpenAiCompatible;
use crate::providers::tts::TtsProvider;
use crate::providers::tts::espeak::EspeakVoice;
use crate::store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use footage::FootageStage;
pub use render::RenderStage;
pub use script::ScriptStage;
pub use select::SelectStage;
pub use subtitles::SubtitlesStage;
pub use terms::TermsStage;
pub use voice::VoiceStage;

/// The LLM the config asks for; `None` when no endpoint is configured.
pub fn llm_from_config(config: &Config) -> Result<Option<Arc<dyn LlmProvider>>, ProviderError> {
    let llm = &config.llm;
    if llm.provider == "none" || llm.base_url.trim().is_empty() {
        return Ok(None);
    }
    let hint = format!(
        "check llm.api_key in config.toml or the {} environment variable",
        llm.api_key_env
    );
    let client = OpenAiCompatible::new(
        &llm.base_url,
        llm.api_key.clone(),
        &llm.model,
        Duration::from_secs(llm.timeout_secs),
        llm.stream,
        hint,
    )?;
    Ok(Some(Arc::new(client)))
}

pub fn tts_from_config(config: &Config) -> Arc<dyn TtsProvider> {
    let voice = &config.voice;
    Arc::new(EspeakVoice {
        voice: voice.voice.clone(),
        rate: voice.rate,
        volume: voice.volume,
        sentence_gap_ms: voice.sentence_gap_ms,
    })
}

/// Every stage wired to the providers the config names.
pub fn stage_set(
    config: Arc<Config>,
    store: &Store,
    llm: Option<Arc<dyn LlmProvider>>,
    tts: Arc<dyn TtsProvider>,
) -> StageSet {
    let mut works: BTreeMap<Stage, Arc<dyn StageWork>> = BTreeMap::new();
    works.insert(
        Stage::Script,
        Arc::new(ScriptStage {
            llm: llm.clone(),
            cache: store.cache.clone(),
            config: config.clone(),
        }),
    );
    works.insert(
        Stage::Terms,
        Arc::new(TermsStage {
            llm,
            cache: store.cache.clone(),
            config: config.clone(),
        }),
    );
    works.insert(
        Stage::Voice,
        Arc::new(VoiceStage {
            tts,
            cache: store.cache.clone(),
        }),
    );
    works.insert(
        Stage::Subtitles,
        Arc::new(SubtitlesStage {
            config: config.clone(),
        }),
    );
    works.insert(
        Stage::Footage,
        Arc::new(FootageStage {
            config: config.clone(),
        }),
    );
    works.insert(
        Stage::Select,
        Arc::new(SelectStage {
            config: config.clone(),
        }),
    );
    works.insert(Stage::Render, Arc::new(RenderStage { config }));
    StageSet::new(works).expect("all seven stages are inserted above")
}

/// Retry policy and per-stage limits from `[pipeline]`.
pub fn engine_settings(config: &Config) -> EngineSettings {
    let p = &config.pipeline;
    let limits = Stage::ALL
        .into_iter()
        .map(|s| (s, p.limits.get(s.name()).copied().unwrap_or(1)))
        .collect();
    EngineSettings {
        retry: RetryPolicy {
            max_attempts: p.max_attempts,
            base: Duration::from_millis(p.backoff_base_ms),
            max: Duration::from_millis(p.backoff_max_ms),
        },
        limits,
        mailbox: 64,
    }
}
