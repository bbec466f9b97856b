//! The system pane (process CPU and memory, GPU utilisation, memory and encoder, each with
//! a sparkline of its recent samples) and the cache pane (hits, misses, hit rate and time
//! saved per cache kind, for the selected task and over every task).

use super::{muted_line, pane_block, text};
use crate::tui::state::{CacheCount, Ring, UiState};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use std::collections::BTreeMap;

/// Cells for a metric's label and value; its sparkline takes the rest of the row.
const LABEL: usize = 14;
/// Inner width from which the cache pane adds the all-task columns to each kind.
const CACHE_WIDE: usize = 45;

/// Rows the system pane wants: CPU and RSS, and three GPU rows or one saying why none.
pub(super) fn system_height(state: &UiState) -> u16 {
    let rows = match &state.system.latest {
        None => 1,
        Some(s) if s.gpu.is_ok() => 5,
        Some(_) => 3,
    };
    super::cells(2 + rows)
}

pub(super) fn draw_system(frame: &mut Frame, area: Rect, state: &UiState) {
    let theme = &state.theme;
    let sys = &state.system;
    let title = match &sys.latest {
        Some(s) => format!("System · {} cores", s.cores),
        None => "System".to_string(),
    };
    let block = pane_block(theme, title, false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(latest) = &sys.latest else {
        frame.render_widget(
            Paragraph::new(muted_line(theme, "waiting for a sample")),
            inner,
        );
        return;
    };
    let mut rows: Vec<(String, Option<&Ring>)> = vec![
        (format!("CPU {:>6.0}%", latest.cpu_percent), Some(&sys.cpu)),
        (
            format!("RSS {:>8}", text::size(latest.rss_bytes)),
            Some(&sys.rss),
        ),
    ];
    match &latest.gpu {
        Ok(gpu) => {
            rows.push((
                format!("GPU {:>6}%", gpu.utilization_percent),
                Some(&sys.gpu_util),
            ));
            let mem = format!(
                "mem {}/{} GB",
                gigabytes(gpu.memory_used_bytes),
                gigabytes(gpu.memory_total_bytes)
            );
            rows.push((mem, Some(&sys.gpu_mem)));
            rows.push((
                format!("enc {:>3}% · {}", gpu.encoder_percent, gpu.name),
                None,
            ));
        }
        Err(why) => rows.push((format!("GPU {why}"), None)),
    }
    let areas = Layout::vertical(vec![Constraint::Length(1); rows.len()]).split(inner);
    for ((label, ring), row) in rows.into_iter().zip(areas.iter().copied()) {
        metric_row(frame, row, theme, &label, ring);
    }
}

/// GPU memory in GB, short enough for the label column: "12", "3.2".
fn gigabytes(bytes: u64) -> String {
    let gb = bytes as f64 / 1e9;
    if gb >= 10.0 {
        format!("{gb:.0}")
    } else {
        format!("{gb:.1}")
    }
}

/// A label and value, then the sparkline of its ring in what is left of the row.
fn metric_row(frame: &mut Frame, area: Rect, theme: &Theme, label: &str, ring: Option<&Ring>) {
    let Some(ring) = ring else {
        let line = text::truncate(label, usize::from(area.width));
        frame.render_widget(Paragraph::new(line), area);
        return;
    };
    let label_w = super::cells(LABEL + 1).min(area.width);
    let [left, right] =
        Layout::horizontal([Constraint::Length(label_w), Constraint::Min(0)]).areas(area);
    let label = text::pad(label, usize::from(left.width));
    frame.render_widget(Paragraph::new(label), left);
    let data = ring.tail(usize::from(right.width));
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .style(Style::new().fg(theme.sparkline)),
        right,
    );
}

/// Every kind seen by the selected task or any other, in name order.
fn kinds(state: &UiState, totals: &BTreeMap<String, CacheCount>) -> Vec<String> {
    let mut kinds: Vec<String> = totals.keys().cloned().collect();
    if let Some(task) = state.selected_task() {
        kinds.extend(task.cache.keys().cloned());
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

/// Rows the cache pane wants: borders, a header, one per kind and the all-task total.
pub(super) fn cache_height(state: &UiState) -> u16 {
    let kinds = kinds(state, &state.cache_totals()).len();
    let body = if kinds == 0 { 1 } else { kinds + 2 };
    super::cells(2 + body)
}

fn rate(c: &CacheCount) -> String {
    match c.hits + c.misses {
        0 => "—".into(),
        n => format!("{:.0}%", c.hits as f64 * 100.0 / n as f64),
    }
}

/// "hits/misses rate saved" in fixed columns (17 cells; 26 with the kind, which is what
/// the narrowest left column holds).
fn counts(c: &CacheCount) -> String {
    format!(
        "{:>6} {:>4} {:>5}",
        format!("{}/{}", c.hits, c.misses),
        rate(c),
        text::duration(c.saved_ms)
    )
}

pub(super) fn draw_cache(frame: &mut Frame, area: Rect, state: &UiState) {
    let theme = &state.theme;
    let totals = state.cache_totals();
    let kinds = kinds(state, &totals);
    let block = pane_block(theme, "Cache · selected task".into(), false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if kinds.is_empty() {
        frame.render_widget(Paragraph::new(muted_line(theme, "no cache use yet")), inner);
        return;
    }
    let w = usize::from(inner.width);
    let wide = w >= CACHE_WIDE;
    let head = Style::new().fg(theme.muted).add_modifier(Modifier::BOLD);
    let mut header = format!("{:<8} {:>6} {:>4} {:>5}", "task", "h/m", "rate", "saved");
    if wide {
        header.push_str(&format!("  {:>6} {:>4} {:>5}", "all", "rate", "saved"));
    }
    let mut lines = vec![Line::from(Span::styled(text::truncate(&header, w), head))];
    let none = CacheCount::default();
    let task_cache = state.selected_task().map(|t| &t.cache);
    for kind in &kinds {
        let mine = task_cache.and_then(|c| c.get(kind)).unwrap_or(&none);
        let mut row = format!("{:<8} {}", text::truncate(kind, 8), counts(mine));
        if wide {
            row.push_str(&format!("  {}", counts(totals.get(kind).unwrap_or(&none))));
        }
        lines.push(Line::from(text::truncate(&row, w)));
    }
    // One row over every task and kind: what the cache saved for all tasks shown.
    let all = totals
        .values()
        .fold(CacheCount::default(), |acc, c| CacheCount {
            hits: acc.hits + c.hits,
            misses: acc.misses + c.misses,
            saved_ms: acc.saved_ms + c.saved_ms,
        });
    let total = format!("{:<8} {}", "all", counts(&all));
    lines.push(Line::from(Span::styled(
        text::truncate(&total, w),
        Style::new().fg(theme.status.done),
    )));
    frame.render_widget(Paragraph::new(lines), inner);
}
