//! Where log lines go: always a daily file under `<data>/logs/`, plus one screen layer
//! (stderr with `--verbose`, the dashboard's log ring while it owns the terminal).

use std::path::Path;

/// Logs go to `<data>/logs/reelforge.log.<date>` (daily), and to stderr with `--verbose`.
/// The guard must live as long as the program so buffered lines are written.
pub fn init_logging(
    data: &Path,
    verbose: bool,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let stderr_layer = verbose.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(log_filter())
            .boxed()
    });
    init_logging_with(data, stderr_layer)
}

/// The `REELFORGE_LOG` filter (default: info, sled's chatter at warn).
pub fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("REELFORGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sled=warn"))
}

/// Sets the global subscriber: the daily log file, plus `screen` (stderr for `--verbose`,
/// the dashboard's log ring) when given. A second call changes nothing.
pub fn init_logging_with(
    data: &Path,
    screen: Option<Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>>,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let logs = data.join("logs");
    let file = std::fs::create_dir_all(&logs)
        .ok()
        .map(|_| tracing_appender::rolling::daily(&logs, "reelforge.log"));
    let (file_layer, guard) = match file {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(log_filter());
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(screen)
        .with(file_layer)
        .try_init();
    guard
}
