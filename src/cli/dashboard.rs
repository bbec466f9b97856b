//! `reelforge` with no subcommand: the live dashboard. Sets up logging into the logs pane,
//! starts the pipeline, hands the terminal to `tui::app`, and restores it however the run
//! ends (quit, error, panic: ratatui's `init` installs the panic hook that restores it).

use super::{Cli, session};
use crate::config::load::data_dir;
use crate::pipeline::events::now_ms;
use crate::tui::app::{self, Wiring};
use crate::tui::logring;
use crate::tui::state::UiState;
use crate::tui::theme::Theme;
use anyhow::Context;
use std::io::IsTerminal;
use std::process::ExitCode;

pub async fn run(cli: &Cli, theme: Option<&str>, preload: bool) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the dashboard needs a terminal; for scripts use `reelforge make \"subject\"` (add --json for events)"
        );
    }
    let config = session::load_config(cli, None)?;
    let theme_spec = theme.unwrap_or(&config.ui.theme).to_string();
    let theme = Theme::load(&theme_spec).with_context(|| format!("--theme {theme_spec}"))?;
    let (ring, logs) = logring::channel();
    let guard = logring::init_dashboard_logging(&data_dir(&config), ring);
    let mut state = UiState::new(theme, now_ms());
    state.default_aspect = config.video.aspect.clone();
    let session = session::start_logged(config, preload, guard).await?;
    let wiring = Wiring {
        store: session.store.clone(),
        pipeline: session.pipeline.clone(),
        logs,
    };
    let mut terminal = ratatui::try_init().context("cannot take over the terminal")?;
    let result = app::run(&mut terminal, state, wiring).await;
    ratatui::restore();
    let printed = result?;
    for path in printed {
        println!("{path}");
    }
    Ok(ExitCode::SUCCESS)
}
