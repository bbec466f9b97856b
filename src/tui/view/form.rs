//! The new-task form overlay: each field's label and value (or its hint, greyed, when
//! empty), choices as "◀ value ▶", the focused field marked with "▶", and a field's error
//! in place under it with "✖". The keys are on the bottom border. When the terminal is too
//! short for every field, the form scrolls so the focused field and its error show.

use super::overlay::{frame_block, popup};
use super::text;
use crate::tui::form::{FieldKind, FormField, TaskForm};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

const FOOTER: &str = " Enter submit · Tab/↑↓ move · ←→ change · Esc cancel ";
const FOOTER_SHORT: &str = " Enter submit · Tab move · Esc cancel ";
/// The form's widest useful size: labels, and room to read a typed path.
const MAX_WIDTH: u16 = 72;
/// Lines an error may take under its field.
const ERROR_LINES: usize = 2;

/// Cells of the label column: the longest label, or less on a narrow terminal.
fn label_width(form: &TaskForm, inner_w: usize) -> usize {
    let longest = form
        .fields
        .iter()
        .map(|f| text::width(f.label))
        .max()
        .unwrap_or(0);
    longest.min(inner_w.saturating_sub(18)).max(4)
}

/// What the value column shows, and whether it is the hint (shown greyed).
fn shown_value(field: &FormField, width: usize) -> (String, bool) {
    match field.kind {
        FieldKind::Choice(_) | FieldKind::Number { .. } => (
            text::truncate(&format!("◀ {} ▶", field.value), width),
            false,
        ),
        FieldKind::Text if field.value.is_empty() => (text::truncate(field.hint, width), true),
        // The end of what was typed is where the cursor is: cut from the left.
        FieldKind::Text => (
            text::truncate_left(&field.value, width.saturating_sub(1)),
            false,
        ),
    }
}

pub(super) fn draw(frame: &mut Frame, area: Rect, theme: &Theme, form: &TaskForm) {
    let rect_w = area.width.min(MAX_WIDTH);
    let inner_w = usize::from(rect_w.saturating_sub(2));
    let label_w = label_width(form, inner_w);
    let value_w = inner_w.saturating_sub(label_w + 3);
    let mut lines: Vec<Line> = Vec::new();
    // The line range of the focused field, its error included.
    let mut focus_lines = (0, 0);
    let mut cursor_at: Option<(usize, usize)> = None;
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let start = lines.len();
        let (value, is_hint) = shown_value(field, value_w);
        let mut label_style = Style::new().fg(theme.foreground);
        let mut value_style = Style::new().fg(theme.foreground);
        if is_hint {
            value_style = Style::new().fg(theme.muted).add_modifier(Modifier::ITALIC);
        }
        if focused {
            label_style = label_style.fg(theme.accent).add_modifier(Modifier::BOLD);
            if matches!(field.kind, FieldKind::Text | FieldKind::Number { .. }) {
                let typed = if is_hint { 0 } else { text::width(&value) };
                cursor_at = Some((lines.len(), label_w + 3 + typed));
            }
        }
        if field.error.is_some() {
            label_style = label_style.fg(theme.status.failed);
        }
        let mut line = Line::from(vec![
            Span::styled(
                if focused { "▶ " } else { "  " },
                Style::new().fg(theme.accent),
            ),
            Span::styled(text::pad(field.label, label_w), label_style),
            Span::raw(" "),
            Span::styled(value, value_style),
        ]);
        if focused {
            line = line.style(Style::new().bg(theme.selection_bg));
        }
        lines.push(line);
        if let Some(err) = &field.error {
            // Under the value when the form is wide; near the edge when every cell counts.
            let indent = if inner_w >= 60 { label_w + 3 } else { 4 };
            let wrapped = text::wrap(err, inner_w.saturating_sub(indent + 2), ERROR_LINES);
            for (n, part) in wrapped.into_iter().enumerate() {
                let mark = if n == 0 { "✖ " } else { "  " };
                lines.push(Line::from(vec![
                    Span::raw(" ".repeat(indent)),
                    Span::styled(
                        format!("{mark}{part}"),
                        Style::new().fg(theme.status.failed),
                    ),
                ]));
            }
        }
        if focused {
            focus_lines = (start, lines.len());
        }
    }
    let rect = popup(area, rect_w, super::cells(lines.len() + 2));
    let footer = if usize::from(rect.width) >= text::width(FOOTER) + 2 {
        FOOTER
    } else {
        FOOTER_SHORT
    };
    let total = lines.len();
    let height = usize::from(rect.height.saturating_sub(2));
    // Scroll just enough that the focused field and its error are in view.
    let offset = focus_lines
        .1
        .saturating_sub(height)
        .min(focus_lines.0)
        .min(total.saturating_sub(height));
    let title = if offset > 0 || offset + height < total {
        "New task ↕"
    } else {
        "New task"
    };
    let inner = frame_block(frame, rect, theme, title, Some(footer.to_string()));
    let visible: Vec<Line> = lines.into_iter().skip(offset).collect();
    frame.render_widget(Paragraph::new(visible), inner);
    if let Some((line, col)) = cursor_at {
        let row = line.checked_sub(offset).filter(|&r| r < height);
        if let Some(row) = row.filter(|_| col < usize::from(inner.width)) {
            let x = inner.x.saturating_add(super::cells(col));
            let y = inner.y.saturating_add(super::cells(row));
            frame.set_cursor_position((x, y));
        }
    }
}
