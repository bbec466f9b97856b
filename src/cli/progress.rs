//! Human progress lines for the headless CLI: a pure function of the event stream, throttled
//! so a render's many progress events become a line per 10 %.

use crate::pipeline::events::DownloadState;
use crate::pipeline::{Event, EventKind, LogLevel, Stage};
use crate::providers::download::megabytes;
use std::collections::HashMap;

#[derive(Default)]
pub struct ProgressPrinter {
    /// The last 10 % bucket printed per stage.
    buckets: HashMap<Stage, u32>,
    /// When a stage last printed a progress line without a fraction.
    last_note_ms: HashMap<Stage, u64>,
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

impl ProgressPrinter {
    /// The line to print for this event, if any.
    pub fn line(&mut self, event: &Event) -> Option<String> {
        let stage = event.stage.map(|s| s.name()).unwrap_or("task");
        let label = format!("  {stage:<10}");
        match &event.kind {
            EventKind::Submitted { subject } => Some(format!("task {} — {subject:?}", event.task)),
            EventKind::Queued => None,
            EventKind::Started { attempt } => {
                if let Some(s) = event.stage {
                    self.buckets.remove(&s);
                }
                Some(if *attempt > 1 {
                    format!("{label} started (attempt {attempt})")
                } else {
                    format!("{label} started")
                })
            }
            EventKind::Progress { fraction, message } => {
                let stage_id = event.stage?;
                match fraction {
                    Some(f) => {
                        let bucket = (f * 10.0).floor() as u32;
                        let last = self.buckets.insert(stage_id, bucket);
                        (last != Some(bucket) && bucket < 10)
                            .then(|| format!("{label} {:>3.0}%  {message}", f * 100.0))
                    }
                    None => {
                        let last = self.last_note_ms.get(&stage_id).copied().unwrap_or(0);
                        (event.at_ms.saturating_sub(last) >= 1000).then(|| {
                            self.last_note_ms.insert(stage_id, event.at_ms);
                            format!("{label}       {message}")
                        })
                    }
                }
            }
            EventKind::ModelReady { model, load_ms } => Some(match load_ms {
                0 => format!("{label} {model} ready (already loaded)"),
                ms => format!("{label} {model} loaded in {}", secs(*ms)),
            }),
            EventKind::CacheHit { kind, saved_ms } => Some(format!(
                "{label} cache hit ({kind}), saved {}",
                secs(*saved_ms)
            )),
            // Misses are the normal first run: counted by the dashboard, not worth a line.
            EventKind::CacheMiss { .. } => None,
            EventKind::Download {
                clip,
                state,
                done_bytes,
                bytes_per_sec,
                detail,
                retry_in_ms,
                ..
            } => {
                let why = detail.as_deref().unwrap_or("no reason given");
                match state {
                    DownloadState::Queued | DownloadState::Downloading => None,
                    DownloadState::Retrying => Some(format!(
                        "{label} {clip}: retrying in {}: {why}",
                        secs(retry_in_ms.unwrap_or(0))
                    )),
                    DownloadState::Done => Some(format!(
                        "{label} {clip}: {} at {}/s",
                        megabytes(*done_bytes),
                        megabytes(*bytes_per_sec)
                    )),
                    DownloadState::Cached => Some(format!("{label} {clip}: already downloaded")),
                    DownloadState::Rejected => Some(format!("{label} {clip}: rejected: {why}")),
                }
            }
            EventKind::Log { level, message } => match level {
                LogLevel::Info => Some(format!("{label} {message}")),
                LogLevel::Warn => Some(format!("{label} warning: {message}")),
                LogLevel::Error => Some(format!("{label} error: {message}")),
            },
            EventKind::Finished { elapsed_ms } => {
                Some(format!("{label} done in {}", secs(*elapsed_ms)))
            }
            EventKind::Failed {
                error,
                will_retry,
                retry_in_ms,
            } => Some(match (will_retry, retry_in_ms) {
                (true, Some(ms)) => format!("{label} failed: {error} — retrying in {}", secs(*ms)),
                _ => format!("{label} FAILED: {error}"),
            }),
            EventKind::Cancelled => Some(format!("{label} cancelled")),
            EventKind::TaskDone { output, elapsed_ms } => Some(match output {
                Some(path) => format!("done in {} → {path}", secs(*elapsed_ms)),
                None => format!("done in {}", secs(*elapsed_ms)),
            }),
            EventKind::TaskStopped { reason } => Some(format!("stopped: {reason}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stage: Option<Stage>, at_ms: u64, kind: EventKind) -> Event {
        Event {
            task: "t".into(),
            stage,
            at_ms,
            kind,
        }
    }

    #[test]
    fn progress_is_throttled_to_ten_percent_steps() {
        let mut printer = ProgressPrinter::default();
        let lines: Vec<_> = [0.01, 0.05, 0.12, 0.15, 0.31, 1.0]
            .into_iter()
            .filter_map(|f| {
                printer.line(&event(
                    Some(Stage::Render),
                    0,
                    EventKind::Progress {
                        fraction: Some(f),
                        message: "encoding".into(),
                    },
                ))
            })
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[1].contains("12%"));
    }

    #[test]
    fn cache_misses_print_nothing_and_hits_a_line() {
        let mut printer = ProgressPrinter::default();
        let miss = EventKind::CacheMiss {
            kind: "voice".into(),
        };
        assert_eq!(printer.line(&event(Some(Stage::Voice), 0, miss)), None);
        let hit = EventKind::CacheHit {
            kind: "voice".into(),
            saved_ms: 2500,
        };
        let line = printer.line(&event(Some(Stage::Voice), 0, hit)).unwrap();
        assert!(line.contains("cache hit (voice), saved 2.5 s"), "{line}");
    }

    #[test]
    fn failures_say_whether_they_retry() {
        let mut printer = ProgressPrinter::default();
        let retry = printer
            .line(&event(
                Some(Stage::Script),
                0,
                EventKind::Failed {
                    error: "HTTP 429".into(),
                    will_retry: true,
                    retry_in_ms: Some(2000),
                },
            ))
            .unwrap();
        assert!(retry.contains("retrying in 2.0 s"), "{retry}");
        let done = printer
            .line(&event(
                None,
                0,
                EventKind::TaskDone {
                    output: Some("/x/final.mp4".into()),
                    elapsed_ms: 1500,
                },
            ))
            .unwrap();
        assert_eq!(done, "done in 1.5 s → /x/final.mp4");
    }
}
