//! Command-line interface: `make`, `batch`, `tasks`, `report`, `cache`, `doctor`. The top of the program, where
//! errors become messages and exit codes.

mod batch;
mod dashboard;
pub mod doctor;
mod make;
pub mod progress;
mod report;
mod session;
mod tasks;

use crate::pipeline::Stage;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "reelforge",
    version,
    about = "Turns a subject into a finished short video"
)]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/reelforge/config.toml when present).
    #[arg(long, global = true, env = "REELFORGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where tasks, cache and logs live (default: $XDG_DATA_HOME/reelforge).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Also print logs to stderr.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Dashboard colours: dark, light, high-contrast, or a theme .toml file (default: [ui] theme).
    #[arg(long)]
    pub theme: Option<String>,
    /// Load the local models when the dashboard opens instead of on first use.
    #[arg(long)]
    pub preload: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

// Parsed once per run: the size of `MakeArgs` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Make a video from a subject, headless.
    Make(MakeArgs),
    /// Make many videos from a file of tasks (JSON Lines or TOML), several at once.
    Batch(BatchArgs),
    /// List, inspect, resume, retry or remove tasks.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Inspect or empty the content-addressed cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Where the time went: per-stage medians and p90, critical path, cache, and a chart.
    Report(ReportArgs),
    /// Check what is missing (ffmpeg, espeak-ng, fonts, keys) and how to fix it.
    Doctor,
}

#[derive(clap::Args, Debug, Clone)]
pub struct MakeArgs {
    /// What the video is about, e.g. "Why do cats purr?".
    pub subject: String,
    /// Use this narration instead of asking the LLM.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// A recorded narration (mp3, wav, m4a, aac, flac, ogg) instead of a synthetic voice;
    /// without --script its transcript becomes the script.
    #[arg(long)]
    pub narration: Option<PathBuf>,
    /// 9:16, 16:9 or 1:1.
    #[arg(long)]
    pub aspect: Option<String>,
    /// A folder of clips and images to take footage from (repeatable).
    #[arg(long = "footage-dir")]
    pub footage_dirs: Vec<PathBuf>,
    /// Also write the finished video here (subtitles beside it as .srt).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop after this stage: script, terms, voice, subtitles, footage, select, render.
    #[arg(long, value_parser = parse_stage)]
    pub stop_at: Option<Stage>,
    /// Voice for this task: piper or espeak (default: [voice] provider).
    #[arg(long)]
    pub voice: Option<String>,
    /// Footage sources for this task, in order, comma-separated: local, pexels, pixabay,
    /// generated (default: [footage] sources).
    #[arg(long, value_delimiter = ',')]
    pub sources: Option<Vec<String>>,
    /// Background music: none, an audio file, or a folder (a track picked per video).
    #[arg(long)]
    pub music: Option<String>,
    /// Subtitle look: classic, boxed, karaoke, top or minimal.
    #[arg(long)]
    pub subtitle_style: Option<String>,
    /// Videos made from the same materials, each its own order of clips, 1 to 5.
    #[arg(long = "videos", value_name = "N")]
    pub video_count: Option<u8>,
    /// One JSON event per line instead of progress lines.
    #[arg(long)]
    pub json: bool,
    /// Load the local models before the task starts instead of on first use.
    #[arg(long)]
    pub preload: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct BatchArgs {
    /// Tasks, one per line (.jsonl: {"subject": "...", "voice": "espeak", ...}) or as
    /// [[task]] tables (.toml); each entry takes the options `make` takes. At most 1 000.
    pub file: PathBuf,
    /// Tasks running at once (1 to 64).
    #[arg(long, default_value_t = 4)]
    pub max_concurrent: usize,
    /// Continue the batch of FILE after an interruption: finished tasks are kept, unfinished
    /// ones resume from their last finished stage, the rest start.
    #[arg(long)]
    pub resume: bool,
    /// Where the summary JSON goes (default: batches/<id>.json in the data folder).
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// One JSON event per line instead of progress lines.
    #[arg(long)]
    pub json: bool,
    /// Load the local models before the first task instead of on first use.
    #[arg(long)]
    pub preload: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// How many of the most recent tasks to include.
    #[arg(long, default_value_t = 20)]
    pub last: usize,
    /// The figures as one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Where the SVG chart goes (default: report.svg in the data folder).
    #[arg(long)]
    pub chart: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum TasksCommand {
    /// Every task in the store.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One task's stages, timings, outputs and errors.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Continue an interrupted, failed or cancelled task from its last finished stage.
    Resume {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Re-run one stage and everything after it, reusing what comes before.
    Retry {
        id: String,
        #[arg(value_parser = parse_stage)]
        stage: Stage,
        #[arg(long)]
        json: bool,
    },
    /// Delete a task and its folder.
    Rm { id: String },
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// Entries, size and time saved per kind.
    Stats,
    /// Remove every cache entry.
    Clear,
}

fn parse_stage(s: &str) -> Result<Stage, String> {
    s.parse()
}

/// Exit codes: 0 done, 1 the task failed, 2 bad input or set-up, 130 interrupted.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // candle's quantized matmul spin-waits on its own thread pool; on 2 busy cores that
    // waiting costs the local LLM 10-20x. One thread is measured faster; a user's own
    // setting wins. Set before any thread exists, so no other code can be reading it.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: called at the top of main, before the runtime or any thread is started.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("reelforge: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(run(cli));
    // Stage runs still winding down (cancelled children) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(3));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("reelforge: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    let Some(command) = cli.command.take() else {
        return dashboard::run(&cli, cli.theme.as_deref(), cli.preload).await;
    };
    match command {
        Command::Make(args) => make::run(&cli, args).await,
        Command::Batch(args) => batch::run(&cli, args).await,
        Command::Tasks(cmd) => tasks::run(&cli, cmd).await,
        Command::Report(args) => report::run(&cli, args),
        Command::Cache(cmd) => tasks::run_cache(&cli, cmd),
        Command::Doctor => {
            let config = session::load_config(&cli, None)?;
            let checks = doctor::run_checks(&config);
            print!("{}", doctor::render_report(&checks));
            Ok(if doctor::all_ok(&checks) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
