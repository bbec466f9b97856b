//! Shared set-up for commands: config with flags applied, logging, the store, the pipeline.

use super::Cli;
use crate::config::load::{LoadOptions, data_dir, validate};
use crate::config::{Config, frame_size};
use crate::media::tool::find_tool;
use crate::pipeline::stages::{Providers, engine_settings, stage_set};
use crate::pipeline::{Pipeline, PipelineHandle, Stage};
use crate::store::Store;
use anyhow::{Context, bail};
use std::sync::Arc;

/// Loads the layered config, then applies command-line flags and validates the result.
pub fn load_config(cli: &Cli, aspect: Option<&str>) -> anyhow::Result<Config> {
    let mut config = crate::config::load(&LoadOptions::from_process(cli.config.clone()))?;
    if let Some(dir) = &cli.data_dir {
        config.paths.data_dir = Some(dir.clone());
    }
    if let Some(aspect) = aspect {
        if frame_size(aspect).is_none() {
            bail!("--aspect {aspect:?} is not allowed: use 9:16, 16:9 or 1:1");
        }
        config.video.aspect = aspect.to_string();
    }
    validate(&config)?;
    Ok(config)
}

/// Fails early, before a task exists, when a tool a planned stage needs is missing.
pub fn preflight(config: &Config, stages: &[Stage], local_footage: bool) -> anyhow::Result<()> {
    let mut needed: Vec<&str> = Vec::new();
    if stages.contains(&Stage::Voice) && config.voice.provider == "espeak" {
        needed.push("espeak-ng");
    }
    if stages.contains(&Stage::Footage) && local_footage {
        needed.push("ffprobe");
    }
    if stages.contains(&Stage::Render) {
        needed.extend(["ffmpeg", "ffprobe"]);
    }
    needed.dedup();
    for tool in needed {
        find_tool(tool).map_err(|e| anyhow::anyhow!("{e} (or run ./scripts/setup.sh)"))?;
    }
    Ok(())
}

pub struct Session {
    pub store: Store,
    pub pipeline: PipelineHandle,
    _log_guard: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Opens the store and starts the pipeline with the providers the config names; with
/// `preload`, every local model is loaded before the first task.
pub async fn start(cli: &Cli, config: Config, preload: bool) -> anyhow::Result<Session> {
    let log_guard = crate::logging::init_logging(&data_dir(&config), cli.verbose);
    start_logged(config, preload, log_guard).await
}

/// `start` for a caller that has set up logging itself (the dashboard logs to its ring).
pub async fn start_logged(
    config: Config,
    preload: bool,
    log_guard: Option<tracing_appender::non_blocking::WorkerGuard>,
) -> anyhow::Result<Session> {
    let data = data_dir(&config);
    let store = Store::open(&data)
        .with_context(|| format!("cannot open the data folder {}", data.display()))?;
    let providers = Providers::from_config(&config, &store)?;
    if preload {
        for loaded in providers.preload().await? {
            tracing::info!(model = %loaded.model, load_ms = loaded.load_ms, "preloaded");
        }
    }
    let settings = engine_settings(&config);
    let stages = stage_set(Arc::new(config), &store, &providers);
    let pipeline = Pipeline::start(store.clone(), stages, settings);
    Ok(Session {
        store,
        pipeline,
        _log_guard: log_guard,
    })
}

/// Opens only the store (for commands that run nothing).
pub fn open_store(cli: &Cli) -> anyhow::Result<Store> {
    let config = load_config(cli, None)?;
    let data = data_dir(&config);
    Store::open(&data).with_context(|| format!("cannot open the data folder {}", data.display()))
}
