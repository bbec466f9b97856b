//! The logs pane's feed: a `tracing` layer that turns each event into a `LogLine` and sends
//! it to the dashboard over an unbounded channel. While the dashboard runs it owns the
//! terminal, so this layer replaces the stderr writer of the CLI: nothing here prints, and
//! the full log still goes to the daily file exactly as `logging::init_logging` does.
//!
//! Fields named `task` and `stage` are lifted out of the text: `task` routes the line to
//! that task's log, `stage` tags it. Every other field is appended as `key=value`.

use super::state::LogLine;
use crate::pipeline::Stage;
use crate::pipeline::events::{LogLevel, TaskId, now_ms};
use std::fmt::{self, Write as _};
use std::path::Path;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// What the layer sends: the task the line names (if any) and the line itself.
pub type LogItem = (Option<TaskId>, LogLine);

/// Sends every event it sees to the dashboard. Sending never blocks (the channel is
/// unbounded; the reducer keeps only the last `LOG_LEN` lines), and once the dashboard has
/// gone the lines are dropped silently.
#[derive(Clone, Debug)]
pub struct LogRingLayer {
    tx: UnboundedSender<LogItem>,
}

/// A layer and the receiver the dashboard reads its lines from.
pub fn channel() -> (LogRingLayer, UnboundedReceiver<LogItem>) {
    let (tx, rx) = unbounded_channel();
    (LogRingLayer { tx }, rx)
}

impl<S: Subscriber> Layer<S> for LogRingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if self.tx.is_closed() {
            return;
        }
        let item = to_item(event);
        // A closed channel means the dashboard is shutting down: nothing to do.
        let _ = self.tx.send(item);
    }
}

fn to_item(event: &Event<'_>) -> LogItem {
    let mut fields = Fields::default();
    event.record(&mut fields);
    let level = match *event.metadata().level() {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        _ => LogLevel::Info,
    };
    let mut stage = None;
    if let Some(name) = fields.stage {
        match name.parse::<Stage>() {
            Ok(parsed) => stage = Some(parsed),
            // Not one of ours (a provider's own "stage" field): keep it visible as text.
            Err(_) => push_pair(&mut fields.rest, "stage", &name),
        }
    }
    let text = match (fields.message.is_empty(), fields.rest.is_empty()) {
        (_, true) => fields.message,
        (true, false) => fields.rest,
        (false, false) => format!("{} {}", fields.message, fields.rest),
    };
    let line = LogLine {
        at_ms: now_ms(),
        level,
        stage,
        text,
    };
    (fields.task, line)
}

/// Collects one event's fields.
#[derive(Default)]
struct Fields {
    message: String,
    task: Option<String>,
    stage: Option<String>,
    /// `key=value` pairs of the other fields, space separated, in the order given.
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "task" => self.task = Some(value.to_string()),
            "stage" => self.stage = Some(value.to_string()),
            name => push_pair(&mut self.rest, name, value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `message` arrives as `format_args!`, whose Debug is the plain text; `task = ?id`
        // arrives as a quoted string, so quotes are trimmed for the two routed fields.
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = text,
            "task" => self.task = Some(unquote(&text).to_string()),
            "stage" => self.stage = Some(unquote(&text).to_string()),
            name => push_pair(&mut self.rest, name, &text),
        }
    }
}

fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

/// Appends `key=value`; a value with spaces is quoted so the pairs stay readable.
fn push_pair(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    if value.contains(char::is_whitespace) && !value.starts_with('"') {
        let _ = write!(out, "{key}={value:?}");
    } else {
        let _ = write!(out, "{key}={value}");
    }
}

/// Sets the global subscriber for a dashboard run: the same `REELFORGE_LOG` filter and
/// daily file (`<data>/logs/reelforge.log.<date>`) as `init_logging`, with `layer` in
/// place of the stderr writer. The ring is capped at info so debug chatter enabled for the
/// file does not crowd out the lines a user reads. Keep the guard until exit so buffered
/// file lines are written. A second call (a subscriber is already set) changes nothing.
pub fn init_dashboard_logging(
    data: &Path,
    layer: LogRingLayer,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::filter::{FilterExt, LevelFilter};
    use tracing_subscriber::prelude::*;
    let ring = layer
        .with_filter(crate::logging::log_filter().and(LevelFilter::INFO))
        .boxed();
    crate::logging::init_logging_with(data, Some(ring))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    /// Runs `emit` under a local subscriber holding only the ring layer; returns the lines.
    fn capture(emit: impl FnOnce()) -> Vec<LogItem> {
        let (layer, mut rx) = channel();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, emit);
        let mut items = Vec::new();
        while let Ok(item) = rx.try_recv() {
            items.push(item);
        }
        items
    }

    #[test]
    fn message_fields_task_and_stage_are_split() {
        let before = now_ms();
        let items = capture(|| {
            tracing::info!(
                task = "t1",
                stage = "voice",
                clips = 3,
                name = "a b",
                "synthesised"
            );
        });
        assert_eq!(items.len(), 1);
        let (task, line) = &items[0];
        assert_eq!(task.as_deref(), Some("t1"));
        assert_eq!(line.stage, Some(Stage::Voice));
        assert_eq!(line.level, LogLevel::Info);
        assert_eq!(line.text, "synthesised clips=3 name=\"a b\"");
        assert!(line.at_ms >= before);
    }

    #[test]
    fn levels_map_to_three() {
        let items = capture(|| {
            tracing::error!("e");
            tracing::warn!("w");
            tracing::info!("i");
            tracing::debug!("d");
            tracing::trace!("t");
        });
        let levels: Vec<LogLevel> = items.iter().map(|(_, l)| l.level).collect();
        use LogLevel::*;
        assert_eq!(levels, [Error, Warn, Info, Info, Info]);
        assert!(
            items
                .iter()
                .all(|(task, line)| task.is_none() && line.stage.is_none())
        );
    }

    #[test]
    fn display_and_debug_task_values_are_unquoted() {
        let id = String::from("t42");
        let items = capture(|| {
            tracing::warn!(task = %id, stage = %Stage::Footage, "slow source");
            tracing::warn!(task = ?id, "debug form");
        });
        assert_eq!(items[0].0.as_deref(), Some("t42"));
        assert_eq!(items[0].1.stage, Some(Stage::Footage));
        assert_eq!(items[0].1.text, "slow source");
        assert_eq!(items[1].0.as_deref(), Some("t42"));
    }

    #[test]
    fn unknown_stage_stays_in_the_text() {
        let items = capture(|| tracing::info!(stage = "handshake", "tls"));
        assert_eq!(items[0].1.stage, None);
        assert_eq!(items[0].1.text, "tls stage=handshake");
    }

    #[test]
    fn event_without_message_is_its_fields() {
        let items = capture(|| tracing::info!(model = "piper", load_ms = 12));
        assert_eq!(items[0].1.text, "model=piper load_ms=12");
    }

    #[test]
    fn a_closed_channel_is_ignored() {
        let (layer, rx) = channel();
        drop(rx);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || tracing::error!("nobody listens"));
    }
}
