//! Overlays drawn over the panes: the help (every key), the yes/no questions (quit while
//! tasks run, delete a task) and, through `form`, the new-task form. Each is centred and
//! shrinks to the terminal, down to 40×12, choosing a denser layout rather than cutting
//! keys off.

use super::{base_style, form, text};
use crate::tui::state::{Confirm, Overlay, UiState};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

/// Every key: (key, what it does, the short form for small terminals).
pub const KEYS: [(&str, &str, &str); 13] = [
    (
        "j/k/↑/↓",
        "select a task, or a stage in the pipeline pane",
        "select",
    ),
    (
        "tab",
        "next pane (tasks, pipeline, downloads, logs)",
        "next pane",
    ),
    ("n", "new task (opens the form)", "new task"),
    ("c", "cancel the selected stage", "cancel stage"),
    ("C", "cancel the whole task", "cancel task"),
    (
        "r",
        "retry the selected stage and what follows",
        "retry stage",
    ),
    ("R", "resume an interrupted task", "resume task"),
    ("p", "play / stop the narration", "play/stop"),
    ("o", "print the output path", "output path"),
    ("d", "delete a finished task (asks first)", "delete task"),
    ("?", "this help", "help"),
    (
        "q",
        "quit (asks when tasks run; they stay resumable)",
        "quit",
    ),
    ("Esc", "close this help or a dialog", "close"),
];

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &UiState) {
    match &state.overlay {
        Overlay::None => {}
        Overlay::Help => help(frame, area, &state.theme),
        Overlay::Form(f) => form::draw(frame, area, &state.theme, f),
        Overlay::Confirm(c) => confirm(frame, area, state, c),
    }
}

/// A centred rectangle of at most `w`×`h`, never larger than `area`.
pub(super) fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Clears `rect` and draws the overlay's frame: a double border so it stands apart from
/// the panes below it even without colour.
pub(super) fn frame_block(
    frame: &mut Frame,
    rect: Rect,
    theme: &Theme,
    title: &str,
    footer: Option<String>,
) -> Rect {
    let mut block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(theme.accent))
        .style(base_style(theme))
        .title(Span::styled(
            format!(" {title} "),
            Style::new().fg(theme.accent).add_modifier(Modifier::BOLD),
        ));
    if let Some(footer) = footer {
        block = block.title_bottom(Span::styled(footer, Style::new().fg(theme.muted)));
    }
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    inner
}

fn help(frame: &mut Frame, area: Rect, theme: &Theme) {
    let key_style = Style::new().fg(theme.accent).add_modifier(Modifier::BOLD);
    let long_w = KEYS
        .iter()
        .map(|(_, what, _)| text::width(what))
        .max()
        .unwrap_or(0)
        + 10;
    let rows = KEYS.len();
    // Long descriptions when they fit; else two columns of short ones (40×12 holds them).
    let long = usize::from(area.width.saturating_sub(4)) >= long_w
        && usize::from(area.height.saturating_sub(2)) >= rows;
    let (w, h, lines) = if long {
        let lines: Vec<Line> = KEYS
            .iter()
            .map(|(key, what, _)| {
                Line::from(vec![
                    Span::styled(format!(" {} ", text::pad(key, 8)), key_style),
                    Span::raw(*what),
                ])
            })
            .collect();
        (long_w + 2, rows + 2, lines)
    } else {
        let half = rows.div_ceil(2);
        let col = usize::from(area.width.saturating_sub(2)) / 2;
        let cell = |i: usize| -> Vec<Span<'static>> {
            KEYS.get(i).map_or_else(Vec::new, |(key, _, short)| {
                let rest = col.saturating_sub(text::width(key) + 2);
                vec![
                    Span::styled(format!(" {key} "), key_style),
                    Span::raw(text::pad(short, rest)),
                ]
            })
        };
        let lines: Vec<Line> = (0..half)
            .map(|i| {
                let mut spans = cell(i);
                spans.extend(cell(i + half));
                Line::from(spans)
            })
            .collect();
        (col * 2 + 2, half + 2, lines)
    };
    let rect = popup(area, super::cells(w), super::cells(h));
    let footer = (rect.width >= 20).then(|| " Esc close ".to_string());
    let inner = frame_block(frame, rect, theme, "Help · keys", footer);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn confirm(frame: &mut Frame, area: Rect, state: &UiState, question: &Confirm) {
    let theme = &state.theme;
    // What happens, then the question: the question gets a line of its own when it can.
    let paragraphs: Vec<String> = match question {
        Confirm::Quit { running } => {
            let (n, verb) = if *running == 1 {
                ("1 task".to_string(), "is")
            } else {
                (format!("{running} tasks"), "are")
            };
            vec![
                format!("{n} {verb} running; they stay resumable."),
                "Quit? y/n".into(),
            ]
        }
        Confirm::DeleteTask(id) => match state.task(id) {
            Some(task) => vec![format!(
                "Delete task {id} (\"{}\") and its files? y/n",
                text::truncate(&task.subject, 30)
            )],
            None => vec![format!("Delete task {id} and its files? y/n")],
        },
    };
    let inner_w = usize::from(area.width.saturating_sub(4)).clamp(1, 50);
    let max_lines = usize::from(area.height.saturating_sub(2));
    let lines: Vec<String> = paragraphs
        .iter()
        .flat_map(|p| text::wrap(p, inner_w, max_lines))
        .collect();
    let w = lines.iter().map(|l| text::width(l)).max().unwrap_or(0) + 4;
    let rect = popup(area, super::cells(w), super::cells(lines.len() + 2));
    let inner = frame_block(frame, rect, theme, "Confirm", None);
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| Line::from(format!(" {l}")))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
