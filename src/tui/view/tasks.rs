//! The task list (every task: subject, status, progress, elapsed, output) and the logs pane
//! (the selected task's lines merged with the process-wide ones, newest at the bottom).
//! Both are plain lists of lines, scrolled so the line that matters stays in view.

use super::{muted_line, pane_block, text};
use crate::pipeline::events::LogLevel;
use crate::tui::state::{LogLine, TaskStatus, TaskView, UiState};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn task_colour(theme: &Theme, status: TaskStatus) -> Color {
    match status {
        TaskStatus::Queued => theme.status.queued,
        TaskStatus::Running => theme.status.running,
        TaskStatus::Done => theme.status.done,
        TaskStatus::Failed => theme.status.failed,
        TaskStatus::Cancelled | TaskStatus::Interrupted => theme.status.cancelled,
    }
}

pub(super) fn draw_tasks(frame: &mut Frame, area: Rect, state: &UiState, focused: bool) {
    let theme = &state.theme;
    let block = pane_block(theme, format!("Tasks ({})", state.tasks.len()), focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = usize::from(inner.width);
    if state.tasks.is_empty() {
        let lines: Vec<Line> = text::wrap("no tasks yet: press n to start one", w, 3)
            .into_iter()
            .map(|l| muted_line(theme, l))
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let blocks: Vec<Vec<Line>> = state
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let mut lines = task_lines(state, task, i == state.selected, w);
            // The tasks of a batch are sorted together: a header opens each group, and
            // travels with its first task when the list scrolls.
            let opens_group = task.batch.as_ref().is_some_and(|b| {
                i == 0
                    || state.tasks[i - 1]
                        .batch
                        .as_ref()
                        .is_none_or(|p| p.id != b.id)
            });
            if let (true, Some(batch)) = (opens_group, &task.batch) {
                lines.insert(0, batch_header(state, &batch.id, w));
            }
            lines
        })
        .collect();
    // Skip tasks from the top until the selected one fits, so it is always in view.
    let height = usize::from(inner.height);
    let selected = state.selected.min(blocks.len().saturating_sub(1));
    let mut first = 0;
    while first < selected && blocks[first..=selected].iter().map(Vec::len).sum::<usize>() > height
    {
        first += 1;
    }
    let lines: Vec<Line> = blocks.into_iter().skip(first).flatten().collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `batch tasks-1a2b… 5/12 done` (and how many failed): the id is cut to leave the counts.
fn batch_header<'a>(state: &UiState, id: &str, w: usize) -> Line<'a> {
    let (done, failed, all) = state.batch_counts(id);
    let mut counts = format!(" {done}/{all} done");
    if failed > 0 {
        counts += &format!(", {failed} failed");
    }
    let room = w.saturating_sub(text::width(&counts) + "batch ".len());
    let line = format!("batch {}{counts}", text::truncate(id, room));
    Line::from(Span::styled(
        text::truncate(&line, w),
        Style::new()
            .fg(state.theme.accent)
            .add_modifier(Modifier::BOLD),
    ))
}

/// Two lines per task (three when it has an output path or an error to show).
fn task_lines<'a>(state: &UiState, task: &TaskView, selected: bool, w: usize) -> Vec<Line<'a>> {
    let theme = &state.theme;
    let colour = task_colour(theme, task.status);
    let row = if selected {
        Style::new().bg(theme.selection_bg)
    } else {
        Style::new()
    };
    // The marker shows the selection without colour; the pane's border shows the focus.
    let marker = if selected { "▸ " } else { "  " };
    let subject = text::pad(&task.subject, w.saturating_sub(4));
    let mut title = Style::new().fg(theme.foreground);
    if selected {
        title = title.add_modifier(Modifier::BOLD);
    }
    let first = Line::from(vec![
        Span::styled(marker, Style::new().fg(theme.accent)),
        Span::styled(
            format!("{} ", task.status.symbol()),
            Style::new().fg(colour),
        ),
        Span::styled(subject, title),
    ])
    .style(row);
    let pct = (task.progress() * 100.0).round().clamp(0.0, 100.0) as u32;
    // 22 cells: what the narrowest task list (80×24) holds after the indent.
    let detail = format!(
        "{:<9} {pct:>3}% {}",
        task.status.word(),
        text::clock(task.elapsed_ms(state.now_ms))
    );
    let second = Line::from(vec![
        Span::raw("    "),
        Span::styled(
            text::pad(&detail, w.saturating_sub(4)),
            Style::new().fg(colour),
        ),
    ])
    .style(row);
    let mut lines = vec![first, second];
    let third = match (&task.output, &task.error) {
        (Some(out), _) if task.status == TaskStatus::Done => Some((
            format!("→ {}", text::truncate_left(out, w.saturating_sub(6))),
            theme.muted,
        )),
        (_, Some(err)) if !task.status.is_active() => Some((
            format!("✖ {}", text::truncate(err, w.saturating_sub(6))),
            theme.status.failed,
        )),
        _ => None,
    };
    if let Some((body, fg)) = third {
        lines.push(
            Line::from(vec![
                Span::raw("    "),
                Span::styled(text::pad(&body, w.saturating_sub(4)), Style::new().fg(fg)),
            ])
            .style(row),
        );
    }
    lines
}

fn level_word(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

pub(super) fn draw_logs(frame: &mut Frame, area: Rect, state: &UiState, focused: bool) {
    let theme = &state.theme;
    let task = state.selected_task();
    // One stream, oldest first: the task's lines and the process's, merged by time (the
    // sort is stable, so lines of the same millisecond keep their order).
    let mut lines: Vec<&LogLine> = task.map(|t| t.logs.iter().collect()).unwrap_or_default();
    lines.extend(state.logs.iter());
    lines.sort_by_key(|l| l.at_ms);
    let height = usize::from(area.height.saturating_sub(2));
    let scroll = state.logs_scroll.min(lines.len().saturating_sub(height));
    let end = lines.len().saturating_sub(scroll);
    let start = end.saturating_sub(height);
    let title = match scroll {
        0 => "Logs".to_string(),
        n => format!("Logs ↑{n}"),
    };
    let block = pane_block(theme, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = usize::from(inner.width);
    if lines.is_empty() {
        frame.render_widget(Paragraph::new(muted_line(theme, "no log lines yet")), inner);
        return;
    }
    let wide = w >= 60;
    let rows: Vec<Line> = lines[start..end]
        .iter()
        .map(|line| log_row(theme, line, wide, w))
        .collect();
    frame.render_widget(Paragraph::new(rows), inner);
}

fn log_row<'a>(theme: &Theme, line: &LogLine, wide: bool, w: usize) -> Line<'a> {
    let colour = match line.level {
        LogLevel::Info => theme.foreground,
        LogLevel::Warn => theme.status.cancelled,
        LogLevel::Error => theme.status.failed,
    };
    let mut spans = Vec::new();
    if wide {
        spans.push(Span::styled(
            format!("{} ", text::time_of_day(line.at_ms)),
            Style::new().fg(theme.muted),
        ));
    }
    spans.push(Span::styled(
        format!("{:<5} ", level_word(line.level)),
        Style::new().fg(colour).add_modifier(Modifier::BOLD),
    ));
    let stage = line.stage.map_or("", |s| s.name());
    spans.push(Span::styled(
        format!("{stage:<9} "),
        Style::new().fg(theme.muted),
    ));
    let used: usize = spans.iter().map(Span::width).sum();
    spans.push(Span::styled(
        text::truncate(&line.text, w.saturating_sub(used)),
        Style::new().fg(colour),
    ));
    Line::from(spans)
}
