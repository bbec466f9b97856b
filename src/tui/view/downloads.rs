//! The downloads pane: one gauge row per clip of the selected task (label, source, state
//! word, bytes done/total in MB, speed, the retry countdown or why a clip was rejected),
//! and the task's aggregate throughput as a sparkline on the last row.

use super::{muted_line, pane_block, text};
use crate::pipeline::events::DownloadState;
use crate::tui::state::{DownloadView, UiState};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

/// Clip rows the full layout gives the pane before it scrolls.
const MAX_ROWS: usize = 8;
/// Inner width from which rows also show the source and units.
const WIDE: usize = 76;
/// A gauge narrower than this is dropped; the numbers still say how far a clip got.
const MIN_BAR: usize = 6;

fn state_word(state: DownloadState) -> &'static str {
    match state {
        DownloadState::Queued => "queued",
        DownloadState::Downloading => "downloading",
        DownloadState::Retrying => "retrying",
        DownloadState::Done => "done",
        DownloadState::Cached => "cached",
        DownloadState::Rejected => "rejected",
    }
}

fn state_symbol(state: DownloadState) -> &'static str {
    match state {
        DownloadState::Queued => "…",
        DownloadState::Downloading => "↓",
        DownloadState::Retrying => "↻",
        DownloadState::Done => "✔",
        DownloadState::Cached => "≡",
        DownloadState::Rejected => "✖",
    }
}

fn state_colour(theme: &Theme, state: DownloadState) -> Color {
    match state {
        DownloadState::Queued => theme.status.queued,
        DownloadState::Downloading => theme.status.running,
        DownloadState::Retrying => theme.status.cancelled,
        DownloadState::Done | DownloadState::Cached => theme.status.done,
        DownloadState::Rejected => theme.status.failed,
    }
}

/// Rows the pane wants: borders, the clips (up to `MAX_ROWS`), the sparkline.
pub(super) fn height(state: &UiState) -> u16 {
    let clips = state.selected_task().map_or(0, |t| t.downloads.len());
    super::cells(2 + clips.clamp(1, MAX_ROWS) + 1)
}

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &UiState, focused: bool) {
    let theme = &state.theme;
    let downloads: &[DownloadView] = state.selected_task().map_or(&[], |t| &t.downloads);
    let rows = usize::from(area.height.saturating_sub(3));
    let scroll = state
        .downloads_scroll
        .min(downloads.len().saturating_sub(rows));
    let done = downloads
        .iter()
        .filter(|d| matches!(d.state, DownloadState::Done | DownloadState::Cached))
        .count();
    let mut title = match downloads.len() {
        0 => "Downloads".to_string(),
        n => format!("Downloads {done}/{n} clips"),
    };
    if scroll > 0 {
        title.push_str(&format!(" ↓{scroll}"));
    }
    let block = pane_block(theme, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    // The sparkline sits right under the last clip, not at the bottom of a tall pane.
    let wanted = super::cells(downloads.len().max(1));
    let [list, spark, _] = Layout::vertical([
        Constraint::Max(wanted),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let w = usize::from(inner.width);
    if downloads.is_empty() {
        frame.render_widget(Paragraph::new(muted_line(theme, "no downloads yet")), list);
    } else {
        // Newest clips at the bottom; scrolling moves the window up, away from them.
        let end = downloads.len().saturating_sub(scroll);
        let start = end.saturating_sub(usize::from(list.height));
        let lines: Vec<Line> = downloads[start..end]
            .iter()
            .map(|d| row(theme, d, state.now_ms, w))
            .collect();
        frame.render_widget(Paragraph::new(lines), list);
    }
    throughput(frame, spark, state);
}

fn row<'a>(theme: &Theme, d: &DownloadView, now_ms: u64, w: usize) -> Line<'a> {
    let wide = w >= WIDE;
    let colour = state_colour(theme, d.state);
    let label_w = if wide { (w / 5).clamp(10, 18) } else { 9 };
    let mut spans = vec![
        Span::styled(
            format!("{} ", state_symbol(d.state)),
            Style::new().fg(colour),
        ),
        Span::styled(
            format!("{} ", text::pad(&d.clip, label_w)),
            Style::new().fg(theme.foreground),
        ),
    ];
    if wide {
        spans.push(Span::styled(
            text::pad(&d.source, 9),
            Style::new().fg(theme.muted),
        ));
    }
    spans.push(Span::styled(
        text::pad(state_word(d.state), 12),
        Style::new().fg(colour),
    ));
    let used: usize = spans.iter().map(Span::width).sum();
    let rest = w.saturating_sub(used);
    if d.state == DownloadState::Rejected {
        let why = d.detail.as_deref().unwrap_or("no reason given");
        let body = text::truncate(&format!("✖ {why}"), rest);
        spans.push(Span::styled(body, Style::new().fg(theme.status.failed)));
        return Line::from(spans);
    }
    let info_w = if wide { 25 } else { 18 };
    let bar_w = rest.saturating_sub(info_w + 1);
    let info_w = if bar_w >= MIN_BAR { info_w } else { rest };
    if bar_w >= MIN_BAR {
        spans.push(gauge(theme, d, bar_w));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(
        text::pad(&info(d, now_ms, wide), info_w),
        Style::new().fg(colour),
    ));
    Line::from(spans)
}

/// Bytes, then speed or the retry countdown ("12.3/40.0 MB  2.1 MB/s").
fn info(d: &DownloadView, now_ms: u64, wide: bool) -> String {
    let unit = if wide { " MB" } else { "" };
    let bytes = match d.total_bytes {
        Some(total) => format!("{}/{}{unit}", text::mb(d.done_bytes), text::mb(total)),
        None => format!("{}{unit}", text::mb(d.done_bytes)),
    };
    match d.state {
        DownloadState::Retrying => {
            let secs = d
                .retry_at_ms
                .map_or(0, |at| text::seconds_until(at, now_ms));
            if wide {
                format!("{bytes}  retry in {secs}s")
            } else {
                format!("retry in {secs}s")
            }
        }
        DownloadState::Downloading if wide => {
            format!("{bytes}  {}", text::speed(d.bytes_per_sec))
        }
        DownloadState::Downloading => {
            format!("{bytes} {}", text::speed(d.bytes_per_sec).replace(' ', ""))
        }
        DownloadState::Queued => "waiting".into(),
        _ => bytes,
    }
}

fn gauge<'a>(theme: &Theme, d: &DownloadView, width: usize) -> Span<'a> {
    let fraction = match d.state {
        DownloadState::Done | DownloadState::Cached => 1.0,
        _ => d.fraction().unwrap_or(0.0),
    };
    let filled = ((fraction * width as f64).round() as usize).min(width);
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(width - filled));
    Span::styled(bar, Style::new().fg(theme.gauge))
}

/// "throughput 2.1 MB/s" and the sparkline of the last samples, one per second.
fn throughput(frame: &mut Frame, area: Rect, state: &UiState) {
    let theme = &state.theme;
    let Some(task) = state.selected_task() else {
        return;
    };
    let now = task.throughput.last().unwrap_or(0);
    let label = format!("throughput {:>9} ", text::speed(now));
    let label_w = super::cells(text::width(&label)).min(area.width);
    let [left, right] =
        Layout::horizontal([Constraint::Length(label_w), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(Span::styled(label, Style::new().fg(theme.muted))),
        left,
    );
    if task.throughput.samples.is_empty() {
        frame.render_widget(Paragraph::new(muted_line(theme, "no samples yet")), right);
        return;
    }
    let data = task.throughput.tail(usize::from(right.width));
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .style(Style::new().fg(theme.sparkline)),
        right,
    );
}
