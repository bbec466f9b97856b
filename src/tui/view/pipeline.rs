//! The pipeline pane of the selected task: one row per stage with its status (symbol and
//! word), attempt, live timer and a Gantt bar. Every bar shares one time axis, from the
//! task's first start to now (or its end), so stages that ran at the same time overlap on
//! screen. The bottleneck from `analysis::bottleneck` is marked with "◆" and its share, and
//! a failed stage's error is printed under its row. Once select is done, the full layout
//! lists the clip chosen for each cut, with its relevance score in semantic mode.

use super::{muted_line, pane_block, text};
use crate::pipeline::Stage;
use crate::store::StageStatus;
use crate::tui::analysis::{self, Bottleneck};
use crate::tui::state::{StageView, TaskView, UiState, stage_symbol, stage_word};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Cells before the bar: marker 2, symbol 2, name 10, bottleneck flag 2, word 10, timer 8
/// (plus the attempt). Below ~50 cells the bar is dropped and the rest still fits.
const FIXED: usize = 34;
const ATTEMPT: usize = 3;
/// A bar narrower than this says nothing; the row drops it instead.
const MIN_BAR: usize = 8;
/// Inner width from which each row also gets a note (bottleneck share, countdown, message).
const NOTE_FROM: usize = 70;
const NOTE: usize = 20;

pub(super) fn stage_colour(theme: &Theme, status: StageStatus) -> Color {
    match status {
        StageStatus::Pending => theme.status.pending,
        StageStatus::Queued => theme.status.queued,
        StageStatus::Running => theme.status.running,
        StageStatus::Done => theme.status.done,
        StageStatus::Failed => theme.status.failed,
        StageStatus::Cancelled => theme.status.cancelled,
        StageStatus::Skipped => theme.status.skipped,
    }
}

/// Column widths for an inner width of `w` cells.
struct Columns {
    bar: usize,
    note: usize,
}

impl Columns {
    fn for_width(w: usize) -> Columns {
        let note = if w >= NOTE_FROM { NOTE } else { 0 };
        let bar = w.saturating_sub(FIXED + ATTEMPT + note);
        Columns {
            bar: if bar >= MIN_BAR { bar } else { 0 },
            note,
        }
    }
}

/// Lines of a failed stage's error under its row (at most `max`).
fn error_lines(view: &StageView, w: usize, max: usize) -> Vec<String> {
    match (&view.error, view.status) {
        (Some(err), StageStatus::Failed) => text::wrap(err, w.saturating_sub(6), max),
        _ => Vec::new(),
    }
}

fn error_max(full: bool) -> usize {
    if full { 3 } else { 2 }
}

/// Rows the pane wants: borders, seven stages, error lines and (full layout) the time axis.
pub(super) fn height(state: &UiState, width: u16, full: bool) -> u16 {
    let w = usize::from(width.saturating_sub(2));
    let errors: usize = state.selected_task().map_or(0, |task| {
        task.stages
            .values()
            .map(|v| error_lines(v, w, error_max(full)).len())
            .sum()
    });
    let axis = usize::from(full && Columns::for_width(w).bar > 0);
    let cuts = match state.selected_task() {
        Some(task) if full => cut_rows(task),
        _ => 0,
    };
    super::cells(2 + Stage::ALL.len() + errors + axis + cuts)
}

/// Cuts listed in the full layout; the rest are in the task's timeline.json.
const MAX_CUTS: usize = 6;

/// Rows for the chosen clips: a heading and one per cut, once select is done.
fn cut_rows(task: &TaskView) -> usize {
    if task.stage(Stage::Select).status != StageStatus::Done || task.cuts.is_empty() {
        return 0;
    }
    1 + task.cuts.len().min(MAX_CUTS)
}

/// "  3  0.82  forest river at dawn · “Rivers carry their leaves…”", fitted to `w` cells.
fn cut_lines<'a>(theme: &Theme, task: &TaskView, w: usize) -> Vec<Line<'a>> {
    if cut_rows(task) == 0 {
        return Vec::new();
    }
    let mut lines = vec![muted_line(
        theme,
        format!("footage chosen ({} cuts)", task.cuts.len()),
    )];
    for cut in task.cuts.iter().take(MAX_CUTS) {
        let score = cut
            .score
            .map_or_else(|| "  –  ".to_string(), |s| format!("{s:>5.2}"));
        let said = if cut.text.is_empty() {
            String::new()
        } else {
            format!(" · “{}”", cut.text)
        };
        let row = format!(
            "{:>3} {:>6.1}s {score}  {}{said}",
            cut.sentence + 1,
            cut.start,
            cut.clip
        );
        lines.push(Line::from(text::truncate(&row, w)));
    }
    lines
}

/// The shared time axis: first start to now (running) or to the task's end.
fn axis(task: &TaskView, spans: &[(Stage, u64, u64)], now_ms: u64) -> Option<(u64, u64)> {
    let start = spans.iter().map(|s| s.1).min()?;
    let end = if task.status.is_active() {
        now_ms
    } else {
        spans.iter().map(|s| s.2).max().unwrap_or(now_ms)
    };
    Some((start, end.max(start + 1)))
}

/// Each started stage's interval: the analysis's, or the stage's own start and finish for
/// any stage the analysis leaves out.
fn intervals(task: &TaskView, now_ms: u64) -> Vec<(Stage, u64, u64)> {
    let from_analysis = analysis::spans(task, now_ms);
    let stop = if task.status.is_active() {
        now_ms
    } else {
        task.finished_ms.unwrap_or(now_ms)
    };
    Stage::ALL
        .into_iter()
        .filter_map(|stage| {
            if let Some(s) = from_analysis.iter().find(|s| s.stage == stage) {
                return Some((stage, s.start, s.end));
            }
            let view = task.stage(stage);
            let start = view.started_ms?;
            Some((stage, start, view.finished_ms.unwrap_or(stop).max(start)))
        })
        .collect()
}

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &UiState, focused: bool) {
    let theme = &state.theme;
    let Some(task) = state.selected_task() else {
        let block = pane_block(theme, "Pipeline".into(), focused);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let hint = muted_line(theme, "no task selected: press n to start one");
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    };
    let now = state.now_ms;
    let w = usize::from(area.width.saturating_sub(2));
    // "▶ Pipeline ·  · 00:00.0 " and the corners take 26 cells; the subject gets the rest.
    let title = format!(
        "Pipeline · {} · {}",
        text::truncate(&task.subject, w.saturating_sub(24).max(4)),
        text::clock(task.elapsed_ms(now))
    );
    let bottleneck = analysis::bottleneck(task, now);
    let mut block = pane_block(theme, title, focused);
    if let Some(b) = bottleneck {
        let label = format!(" ◆ bottleneck {} {:.0}% ", b.stage, b.share * 100.0);
        block = block.title_bottom(Span::styled(
            label,
            Style::new().fg(theme.status.bottleneck),
        ));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let full = area.height >= height(state, area.width, true);
    let cols = Columns::for_width(w);
    let spans = intervals(task, now);
    let axis = axis(task, &spans, now);
    let mut lines: Vec<Line> = Vec::new();
    let mut anchor = 0;
    for stage in Stage::ALL {
        let view = task.stage(stage);
        let selected = focused && state.selected_stage == stage;
        if selected || (!focused && view.status == StageStatus::Failed) {
            anchor = lines.len();
        }
        let interval = spans.iter().find(|s| s.0 == stage).map(|s| (s.1, s.2));
        let row = RowCtx {
            theme,
            now,
            cols: &cols,
            axis,
            bottleneck,
        };
        lines.push(row.line(stage, view, interval, selected));
        for (n, err) in error_lines(view, w, error_max(full))
            .into_iter()
            .enumerate()
        {
            let mark = if n == 0 { "✖" } else { " " };
            lines.push(Line::from(vec![
                Span::raw("    "),
                Span::styled(
                    format!("{mark} {err}"),
                    Style::new().fg(theme.status.failed),
                ),
            ]));
            if !focused && view.status == StageStatus::Failed {
                anchor = lines.len() - 1;
            }
        }
    }
    if let Some((start, end)) = axis.filter(|_| full && cols.bar > 0) {
        lines.push(axis_line(theme, &cols, end.saturating_sub(start)));
    }
    if full {
        lines.extend(cut_lines(theme, task, w));
    }
    // Keep the selected stage (or the failure) in view when the pane is short.
    let skip = (anchor + 1).saturating_sub(usize::from(inner.height));
    let visible: Vec<Line> = lines.into_iter().skip(skip).collect();
    frame.render_widget(Paragraph::new(visible), inner);
}

struct RowCtx<'t> {
    theme: &'t Theme,
    now: u64,
    cols: &'t Columns,
    axis: Option<(u64, u64)>,
    bottleneck: Option<Bottleneck>,
}

impl RowCtx<'_> {
    fn line<'a>(
        &self,
        stage: Stage,
        view: &StageView,
        interval: Option<(u64, u64)>,
        selected: bool,
    ) -> Line<'a> {
        let theme = self.theme;
        let colour = stage_colour(theme, view.status);
        let is_bottleneck = self.bottleneck.is_some_and(|b| b.stage == stage);
        let marker = if selected { "▸ " } else { "  " };
        let timer = match view.elapsed_ms(self.now) {
            Some(ms) => text::clock(ms),
            None => "--:--.-".to_string(),
        };
        let mut spans = vec![
            Span::styled(marker, Style::new().fg(theme.accent)),
            Span::styled(
                format!("{} ", stage_symbol(view.status)),
                Style::new().fg(colour),
            ),
            Span::styled(
                text::pad(stage.name(), 10),
                Style::new().fg(theme.foreground),
            ),
            Span::styled(
                if is_bottleneck { "◆ " } else { "  " },
                Style::new().fg(theme.status.bottleneck),
            ),
            Span::styled(
                text::pad(stage_word(view.status), 10),
                Style::new().fg(colour),
            ),
        ];
        let attempt = match view.attempt {
            0 => String::new(),
            n => format!("#{n}"),
        };
        spans.push(Span::styled(
            text::pad(&attempt, ATTEMPT),
            Style::new().fg(theme.muted),
        ));
        spans.push(Span::styled(
            format!("{timer} "),
            Style::new().fg(if view.started_ms.is_some() {
                theme.foreground
            } else {
                theme.muted
            }),
        ));
        if self.cols.bar > 0 {
            spans.push(self.bar(view.status, interval));
        }
        if self.cols.note > 0 {
            spans.push(self.note(view, is_bottleneck));
        }
        let line = Line::from(spans);
        if selected {
            line.style(
                Style::new()
                    .bg(theme.selection_bg)
                    .add_modifier(Modifier::BOLD),
            )
        } else {
            line
        }
    }

    /// The stage's interval drawn on the shared axis; never started: the empty baseline.
    fn bar<'a>(&self, status: StageStatus, interval: Option<(u64, u64)>) -> Span<'a> {
        let width = self.cols.bar;
        let fill = match status {
            StageStatus::Running | StageStatus::Queued => '▓',
            StageStatus::Cancelled => '▒',
            _ => '█',
        };
        let mut cells = vec!['·'; width];
        if let (Some((t0, t1)), Some((start, end))) = (self.axis, interval) {
            let span = u128::from(t1.saturating_sub(t0).max(1));
            let cell = |t: u64| -> usize {
                let at = u128::from(t.saturating_sub(t0)) * width as u128 / span;
                usize::try_from(at).unwrap_or(usize::MAX)
            };
            // At least one cell, so a stage of a few milliseconds still shows where it ran.
            let first = cell(start).min(width.saturating_sub(1));
            let last = cell(end).clamp(first + 1, width);
            for c in &mut cells[first..last] {
                *c = fill;
            }
        }
        let bar: String = cells.into_iter().collect();
        Span::styled(
            format!("{bar} "),
            Style::new().fg(stage_colour(self.theme, status)),
        )
    }

    fn note<'a>(&self, view: &StageView, is_bottleneck: bool) -> Span<'a> {
        let theme = self.theme;
        let width = self.cols.note;
        if let (true, Some(b)) = (is_bottleneck, self.bottleneck) {
            let body = format!("◆ bottleneck {:.0}%", b.share * 100.0);
            return Span::styled(
                text::pad(&body, width),
                Style::new().fg(theme.status.bottleneck),
            );
        }
        if let Some(at) = view.retry_at_ms.filter(|&at| at > self.now) {
            let body = format!("↻ retry in {}s", text::seconds_until(at, self.now));
            return Span::styled(
                text::pad(&body, width),
                Style::new().fg(theme.status.cancelled),
            );
        }
        let body = match (view.status, view.fraction) {
            (StageStatus::Running, Some(f)) => {
                format!("{:.0}% {}", (f * 100.0).clamp(0.0, 100.0), view.message)
            }
            _ => view.message.clone(),
        };
        Span::styled(text::pad(&body, width), Style::new().fg(theme.muted))
    }
}

/// "0s ───── 1m23s" under the bars: the axis the bars share.
fn axis_line<'a>(theme: &Theme, cols: &Columns, span_ms: u64) -> Line<'a> {
    let lead = FIXED + ATTEMPT;
    let end = text::duration(span_ms);
    let inner = cols.bar.saturating_sub(text::width(&end) + 4);
    let scale = if inner > 0 {
        format!("0s {} {end}", "─".repeat(inner))
    } else {
        text::pad_left(&end, cols.bar)
    };
    Line::from(vec![
        Span::raw(" ".repeat(lead)),
        Span::styled(scale, Style::new().fg(theme.muted)),
    ])
}
