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
mod transcribe;
mod voice;
mod wiring;

use super::schedule::ResourceClass;
use super::{EngineSettings, JobCtx, RetryPolicy, Stage, StageError, StageSet, StageWork};
use crate::config::{Config, config_for, frame_size};
use crate::procstat::available_cores;
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
pub use wiring::{Providers, Voices};

/// Every stage wired to the providers chosen for this config.
pub fn stage_set(config: Arc<Config>, store: &Store, providers: &Providers) -> StageSet {
    let mut works: BTreeMap<Stage, Arc<dyn StageWork>> = BTreeMap::new();
    works.insert(
        Stage::Script,
        Arc::new(ScriptStage {
            llm: providers.llm.clone(),
            stt: providers.stt.clone(),
            cache: store.cache.clone(),
            config: config.clone(),
            notes: providers.notes_for(Stage::Script),
        }),
    );
    works.insert(
        Stage::Terms,
        Arc::new(TermsStage {
            llm: providers.llm.clone(),
            cache: store.cache.clone(),
            config: config.clone(),
        }),
    );
    works.insert(
        Stage::Voice,
        Arc::new(VoiceStage {
            voices: providers.voices.clone(),
            stt: providers.stt.clone(),
            cache: store.cache.clone(),
            config: config.clone(),
        }),
    );
    works.insert(
        Stage::Subtitles,
        Arc::new(SubtitlesStage {
            stt: providers.stt.clone(),
            cache: store.cache.clone(),
            config: config.clone(),
            notes: providers.notes_for(Stage::Subtitles),
        }),
    );
    works.insert(
        Stage::Footage,
        Arc::new(FootageStage {
            config: config.clone(),
            cache: store.cache.clone(),
            stock: providers.stock.clone(),
            downloader: providers.downloader.clone(),
            unusable: providers.unusable_stock.clone(),
        }),
    );
    works.insert(
        Stage::Select,
        Arc::new(SelectStage {
            config: config.clone(),
            embedder: providers.embedder.clone(),
            clip: providers.clip.clone(),
            stock: select::StockAccess {
                cache: store.cache.clone(),
                stock: providers.stock.clone(),
                downloader: providers.downloader.clone(),
            },
        }),
    );
    works.insert(Stage::Render, Arc::new(RenderStage { config }));
    StageSet::new(works).expect("all seven stages are inserted above")
}

/// The config in force for the task of `ctx`: `base` for the task's frame, with the task's
/// options applied (`config_for`), so every stage of a task sees the same settings. A bad
/// option fails the stage with a message naming it.
fn task_config(base: &Config, ctx: &JobCtx) -> Result<Config, StageError> {
    let mut base = base.clone();
    // Presets measured in pixels follow the task's frame; an unknown aspect is reported by
    // the stage that needs the frame.
    if frame_size(&ctx.spec.aspect).is_some() {
        base.video.aspect = ctx.spec.aspect.clone();
    }
    config_for(&base, &ctx.spec.options).map_err(StageError::permanent)
}

/// Retry policy and per-stage limits from `[pipeline]`.
pub fn engine_settings(config: &Config) -> EngineSettings {
    let p = &config.pipeline;
    let cpu_slots = match p.cpu_slots {
        0 => available_cores(),
        n => n,
    };
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
        cpu_slots,
        classes: resource_classes(config, cpu_slots),
        footage_budget_bytes: p.footage_budget_mb * 1024 * 1024,
    }
}

/// Which stages compute on this machine with the engines the config picks: the local LLM
/// makes script and terms CPU work, an OpenAI-compatible endpoint leaves them waiting on
/// the network; subtitles compute only when Whisper times the words.
fn resource_classes(config: &Config, cpu_slots: usize) -> BTreeMap<Stage, ResourceClass> {
    let mut classes = EngineSettings::default_classes(cpu_slots);
    let remote_llm = match config.llm.provider.as_str() {
        "openai" | "none" => true,
        "auto" => !config.llm.base_url.trim().is_empty(),
        _ => false,
    };
    if !remote_llm {
        for stage in [Stage::Script, Stage::Terms] {
            classes.insert(stage, ResourceClass::Cpu { slots: 1 });
        }
    }
    if config.stt.provider != "whisper" {
        classes.remove(&Stage::Subtitles);
    }
    classes
}
