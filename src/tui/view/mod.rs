//! Draws `UiState` as a pure function: panes laid out for the terminal's size, collapsing
//! below 80×24 down to 40×12, overlays (help, form, confirm) on top.
//!
//! Nothing here reads a clock or the terminal: `state.now_ms` is the time and
//! `frame.area()` the size, so a resize is just the next frame and snapshots are stable.
//! Every size is reached by saturating arithmetic and ratatui's `Layout`, so no terminal
//! size (0×0 included) can panic.

mod downloads;
mod form;
mod overlay;
mod pipeline;
mod system;
mod tasks;
pub mod text;

use super::state::{NoticeLevel, Pane, UiState};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};

/// The smallest size that gets the full dashboard (every pane at once).
pub const FULL_WIDTH: u16 = 80;
pub const FULL_HEIGHT: u16 = 24;
/// Below this, tasks and pipeline no longer fit side by side: one pane at a time.
const SPLIT_WIDTH: u16 = 60;
const SPLIT_HEIGHT: u16 = 16;

/// The key hint shown when there is no notice.
const KEY_HINT: &str = "? help  n new  q quit";
const KEY_HINT_WIDE: &str = "? help  n new  tab pane  c cancel  r retry  q quit";

/// What a layout puts in one rectangle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Tasks,
    Pipeline,
    Downloads,
    Logs,
    System,
    Cache,
}

pub fn draw(frame: &mut Frame, state: &UiState) {
    let area = frame.area();
    // A 1-cell terminal cannot say anything useful; drawing nothing beats drawing noise.
    if area.width < 2 || area.height < 2 {
        return;
    }
    let theme = &state.theme;
    frame.render_widget(Block::new().style(base_style(theme)), area);
    let [main, bottom] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    if area.width >= FULL_WIDTH && area.height >= FULL_HEIGHT {
        full_layout(frame, main, state);
    } else if area.width >= SPLIT_WIDTH && area.height >= SPLIT_HEIGHT {
        split_layout(frame, main, state);
    } else if main.height >= 3 && main.width >= 10 {
        // One pane: the one with the focus (tab moves through them), else the task list.
        let part = match state.focus {
            Pane::Tasks => Part::Tasks,
            Pane::Pipeline => Part::Pipeline,
            Pane::Downloads => Part::Downloads,
            Pane::Logs => Part::Logs,
        };
        draw_part(frame, main, state, part);
    }
    bottom_line(frame, bottom, state);
    overlay::draw(frame, area, state);
}

/// Every pane: tasks, system and cache on the left; pipeline, downloads and logs right.
fn full_layout(frame: &mut Frame, area: Rect, state: &UiState) {
    let left_width = (area.width.saturating_mul(32) / 100).clamp(28, 44);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(area);
    let [tasks, sys, cache] = Layout::vertical([
        Constraint::Min(4),
        Constraint::Length(system::system_height(state)),
        Constraint::Length(system::cache_height(state)),
    ])
    .areas(left);
    draw_part(frame, tasks, state, Part::Tasks);
    draw_part(frame, sys, state, Part::System);
    draw_part(frame, cache, state, Part::Cache);
    let [pipe, down, logs] = Layout::vertical([
        Constraint::Length(pipeline::height(state, right.width, true)),
        Constraint::Length(downloads::height(state)),
        Constraint::Min(3),
    ])
    .areas(right);
    draw_part(frame, pipe, state, Part::Pipeline);
    draw_part(frame, down, state, Part::Downloads);
    draw_part(frame, logs, state, Part::Logs);
}

/// Tasks beside the pipeline, and below it downloads or logs (whichever has the focus).
fn split_layout(frame: &mut Frame, area: Rect, state: &UiState) {
    let left_width = (area.width.saturating_mul(38) / 100).clamp(22, 34);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(area);
    draw_part(frame, left, state, Part::Tasks);
    let [pipe, rest] = Layout::vertical([
        Constraint::Length(pipeline::height(state, right.width, false)),
        Constraint::Min(3),
    ])
    .areas(right);
    draw_part(frame, pipe, state, Part::Pipeline);
    let below = if state.focus == Pane::Logs {
        Part::Logs
    } else {
        Part::Downloads
    };
    draw_part(frame, rest, state, below);
}

fn draw_part(frame: &mut Frame, area: Rect, state: &UiState, part: Part) {
    if area.width < 2 || area.height < 2 {
        return;
    }
    let focused = |pane: Pane| state.focus == pane;
    match part {
        Part::Tasks => tasks::draw_tasks(frame, area, state, focused(Pane::Tasks)),
        Part::Pipeline => pipeline::draw(frame, area, state, focused(Pane::Pipeline)),
        Part::Downloads => downloads::draw(frame, area, state, focused(Pane::Downloads)),
        Part::Logs => tasks::draw_logs(frame, area, state, focused(Pane::Logs)),
        Part::System => system::draw_system(frame, area, state),
        Part::Cache => system::draw_cache(frame, area, state),
    }
}

/// The notice if there is one, else the key hint; the running count on the right.
fn bottom_line(frame: &mut Frame, area: Rect, state: &UiState) {
    let theme = &state.theme;
    let width = usize::from(area.width);
    let (body, colour) = match &state.notice {
        Some(notice) => {
            let (symbol, colour) = match notice.level {
                NoticeLevel::Info => ("•", theme.accent),
                NoticeLevel::Warn => ("⚠", theme.status.cancelled),
                NoticeLevel::Error => ("✖", theme.status.failed),
            };
            (format!("{symbol} {}", notice.text), colour)
        }
        None if width >= text::width(KEY_HINT_WIDE) + 12 => (KEY_HINT_WIDE.into(), theme.muted),
        None => (KEY_HINT.into(), theme.muted),
    };
    let body = text::truncate(&body, width);
    let right = match state.running_count() {
        0 => String::new(),
        n => format!("{n} running "),
    };
    let gap = width.saturating_sub(text::width(&body) + text::width(&right));
    let mut spans = vec![Span::styled(body, Style::new().fg(colour))];
    // The count only where it fits beside the message, never over it.
    if !right.is_empty() && gap >= 2 {
        spans.push(Span::raw(" ".repeat(gap)));
        spans.push(Span::styled(right, Style::new().fg(theme.status.running)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn base_style(theme: &Theme) -> Style {
    Style::new().fg(theme.foreground).bg(theme.background)
}

/// A pane's frame; the focused one has a thick accent border and a "▶" before its title,
/// so focus shows without colour too.
fn pane_block<'a>(theme: &Theme, title: String, focused: bool) -> Block<'a> {
    let block = Block::bordered().style(base_style(theme));
    if focused {
        block
            .border_type(BorderType::Thick)
            .border_style(Style::new().fg(theme.accent))
            .title(Span::styled(
                format!("▶ {title} "),
                Style::new().fg(theme.accent).add_modifier(Modifier::BOLD),
            ))
    } else {
        block
            .border_style(Style::new().fg(theme.border))
            .title(Span::styled(
                format!(" {title} "),
                Style::new().fg(theme.foreground),
            ))
    }
}

/// A line in the muted colour (placeholders such as "no downloads yet").
fn muted_line<'a>(theme: &Theme, s: impl Into<String>) -> Line<'a> {
    Line::from(Span::styled(s.into(), Style::new().fg(theme.muted)))
}

/// Converts a cell count back to `u16` for `Rect` math (sizes came from a `u16` area).
fn cells(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}
