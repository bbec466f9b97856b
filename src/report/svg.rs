//! The report's chart as one hand-written SVG file: on top a Gantt of the tasks (one row a
//! task, one bar a stage run, on a shared axis of seconds since each task's first start),
//! below the spread of each stage's wall time (box p25–p75, median line, min–max whiskers).
//!
//! Hand-written because it is a few dozen elements of one fixed layout; a plotting crate
//! would add more code to the build than this file has.

use super::ReportError;
use super::spans::Span;
use super::stats::{Summary, TaskSpans};
use crate::pipeline::Stage;
use std::path::Path;

const WIDTH: f64 = 960.0;
/// Room for the row labels on the left, and on the right for the median note after the
/// longest whisker.
const LEFT: f64 = 190.0;
const RIGHT: f64 = 100.0;
const LANE: f64 = 12.0;
const BAR: f64 = 10.0;
const ROW_PAD: f64 = 8.0;
const BOX_ROW: f64 = 26.0;
/// At most this many ticks on an axis, so their labels never touch.
const TICKS: u64 = 8;

/// Writes the chart atomically: an interrupted write never leaves a half chart.
pub fn write(path: &Path, summary: &Summary) -> Result<(), ReportError> {
    crate::fsutil::write_atomic(path, render(summary).as_bytes()).map_err(|source| {
        ReportError::Chart {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// The whole SVG document.
pub fn render(summary: &Summary) -> String {
    let mut body = String::new();
    let mut y = 28.0;
    let title = format!(
        "reelforge report: {} tasks, {} stage runs",
        summary.tasks, summary.records
    );
    body.push_str(&text(16.0, y, "start", "title", &title));
    y += 28.0;
    body.push_str(&text(
        16.0,
        y,
        "start",
        "heading",
        "Stage Gantt: seconds since each task's first stage started (outlined: critical path)",
    ));
    y = gantt(&mut body, &summary.timeline, y + 12.0);
    y = legend(&mut body, y + 8.0);
    body.push_str(&text(
        16.0,
        y + 24.0,
        "start",
        "heading",
        "Stage wall time per run: box p25–p75, line median, whiskers min–max",
    ));
    y = distribution(&mut body, summary, y + 36.0);
    let height = y + 16.0;
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h:.0}\" ",
            "viewBox=\"0 0 {w} {h:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n",
            "<style>.title{{font-size:16px;font-weight:bold}} ",
            ".heading{{font-size:13px;font-weight:bold}} .tick{{fill:#555}}</style>\n",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
        ),
        w = WIDTH,
        h = height,
        body = body
    )
}

/// One row per task, stacked lanes where its stages overlapped; returns the y below it.
fn gantt(out: &mut String, timeline: &[TaskSpans], top: f64) -> f64 {
    let longest = timeline
        .iter()
        .flat_map(|t| t.runs.iter().map(move |r| r.end.saturating_sub(t.start)))
        .max()
        .unwrap_or(0);
    let axis = Axis::new(longest);
    let mut y = top;
    for (i, task) in timeline.iter().enumerate() {
        let lanes = lanes(&task.runs);
        let count = lanes.iter().copied().max().map_or(1, |l| l + 1);
        let height = count as f64 * LANE + ROW_PAD;
        if i % 2 == 0 {
            out.push_str(&format!(
                "<rect x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{height:.1}\" fill=\"#f4f4f4\"/>\n"
            ));
        }
        out.push_str(&text(
            LEFT - 8.0,
            y + height / 2.0 + 4.0,
            "end",
            "",
            &task.task,
        ));
        for (run, lane) in task.runs.iter().zip(lanes) {
            bar(
                out,
                &axis,
                task,
                run,
                y + ROW_PAD / 2.0 + lane as f64 * LANE,
            );
        }
        y += height;
    }
    axis.draw(out, y + 4.0, "seconds")
}

fn bar(out: &mut String, axis: &Axis, task: &TaskSpans, run: &Span, y: f64) {
    let x = axis.x(run.start.saturating_sub(task.start));
    // A sub-pixel run still gets a visible sliver.
    let w = (axis.x(run.end.saturating_sub(task.start)) - x).max(1.0);
    let critical = task.critical.contains(run);
    let tip = format!(
        "{} · {} · {}{}",
        task.task,
        run.stage,
        seconds(run.len()),
        if critical { " · critical path" } else { "" }
    );
    // The critical path's runs are outlined, so the chain that set the task's end shows.
    let outline = if critical {
        " stroke=\"#222\" stroke-width=\"1.5\""
    } else {
        ""
    };
    out.push_str(&format!(
        "<rect class=\"bar\" data-task=\"{task}\" data-stage=\"{stage}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{BAR}\" fill=\"{fill}\"{outline}><title>{tip}</title></rect>\n",
        task = escape(&task.task),
        stage = run.stage,
        fill = colour(run.stage),
        tip = escape(&tip),
    ));
}

/// The lane of each run (same order): the first lane free by the run's start, so stages
/// that ran at the same time sit one above the other instead of hiding each other.
fn lanes(runs: &[Span]) -> Vec<usize> {
    let mut ends: Vec<u64> = Vec::new();
    runs.iter()
        .map(|run| match ends.iter().position(|&end| end <= run.start) {
            Some(lane) => {
                ends[lane] = run.end;
                lane
            }
            None => {
                ends.push(run.end);
                ends.len() - 1
            }
        })
        .collect()
}

fn legend(out: &mut String, top: f64) -> f64 {
    for (i, stage) in Stage::ALL.into_iter().enumerate() {
        let x = LEFT + i as f64 * 100.0;
        out.push_str(&format!(
            "<rect class=\"swatch\" x=\"{x:.1}\" y=\"{top:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n",
            colour(stage)
        ));
        out.push_str(&text(x + 16.0, top + 10.0, "start", "", stage.name()));
    }
    top + 16.0
}

/// A box plot row per stage that ran; returns the y below the axis.
fn distribution(out: &mut String, summary: &Summary, top: f64) -> f64 {
    let longest = summary.stages.iter().map(|s| s.wall_ms.max).max();
    let axis = Axis::new(longest.unwrap_or(0));
    let mut y = top;
    for s in &summary.stages {
        let d = &s.wall_ms;
        let mid = y + BOX_ROW / 2.0;
        let label = format!("{} ({} runs)", s.stage, s.runs);
        out.push_str(&text(LEFT - 8.0, mid + 4.0, "end", "", &label));
        let (lo, hi) = (axis.x(d.min), axis.x(d.max));
        let (q1, q3, med) = (axis.x(d.p25), axis.x(d.p75), axis.x(d.median));
        let whisker = |x1: f64, y1: f64, x2: f64, y2: f64| {
            format!(
                "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#333\"/>\n"
            )
        };
        out.push_str(&whisker(lo, mid, hi, mid));
        out.push_str(&whisker(lo, mid - 5.0, lo, mid + 5.0));
        out.push_str(&whisker(hi, mid - 5.0, hi, mid + 5.0));
        out.push_str(&format!(
            "<rect class=\"box\" data-stage=\"{stage}\" x=\"{q1:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"16\" fill=\"{fill}\" fill-opacity=\"0.45\" stroke=\"{fill}\"/>\n",
            stage = s.stage,
            top = mid - 8.0,
            w = (q3 - q1).max(1.0),
            fill = colour(s.stage),
        ));
        out.push_str(&format!(
            "<line class=\"median\" x1=\"{med:.1}\" y1=\"{:.1}\" x2=\"{med:.1}\" y2=\"{:.1}\" stroke=\"#000\" stroke-width=\"2\"/>\n",
            mid - 8.0,
            mid + 8.0
        ));
        let note = format!("median {}", seconds(d.median));
        out.push_str(&text(hi + 6.0, mid + 4.0, "start", "tick", &note));
        y += BOX_ROW;
    }
    axis.draw(out, y + 4.0, "seconds of wall time")
}

/// A time axis from 0 to a round number of ticks past the longest value.
struct Axis {
    step_ms: u64,
    max_ms: u64,
}

impl Axis {
    fn new(longest_ms: u64) -> Axis {
        let longest = longest_ms.max(1);
        // 1, 2, 5 × 10^k ms: the smallest step that needs at most TICKS ticks.
        let mut step: u64 = 1;
        'search: for _ in 0..20 {
            for m in [1, 2, 5] {
                if step.saturating_mul(m * TICKS) >= longest {
                    step *= m;
                    break 'search;
                }
            }
            step = step.saturating_mul(10);
        }
        Axis {
            step_ms: step,
            max_ms: longest.div_ceil(step).saturating_mul(step),
        }
    }

    fn x(&self, ms: u64) -> f64 {
        LEFT + ms as f64 / self.max_ms as f64 * (WIDTH - LEFT - RIGHT)
    }

    /// The axis line, its ticks and labels at `y`; returns the y below them.
    fn draw(&self, out: &mut String, y: f64, caption: &str) -> f64 {
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#333\"/>\n",
            self.x(self.max_ms)
        ));
        for tick in (0..=self.max_ms).step_by(usize::try_from(self.step_ms).unwrap_or(1)) {
            let x = self.x(tick);
            out.push_str(&format!(
                "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>\n",
                y + 4.0
            ));
            let label = format!("{}", tick as f64 / 1000.0);
            out.push_str(&text(x, y + 16.0, "middle", "tick", &label));
        }
        out.push_str(&text(LEFT - 8.0, y + 16.0, "end", "tick", caption));
        y + 22.0
    }
}

fn text(x: f64, y: f64, anchor: &str, class: &str, content: &str) -> String {
    let class = if class.is_empty() {
        String::new()
    } else {
        format!(" class=\"{class}\"")
    };
    format!(
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\"{class}>{}</text>\n",
        escape(content)
    )
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// One colour per stage (Tableau 10), the same in the Gantt, legend and box plots.
fn colour(stage: Stage) -> &'static str {
    match stage {
        Stage::Script => "#4e79a7",
        Stage::Terms => "#f28e2b",
        Stage::Voice => "#e15759",
        Stage::Subtitles => "#76b7b2",
        Stage::Footage => "#59a14f",
        Stage::Select => "#edc948",
        Stage::Render => "#b07aa1",
    }
}

/// Text and attribute values for XML: task ids come from the store and may hold anything.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even when escaped.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::stats::summarize;
    use crate::report::stats::tests::rec;

    #[test]
    fn the_chart_is_well_formed_with_a_bar_per_run() {
        let records = vec![
            rec("a<&>\"'", Stage::Script, 0, 1_000),
            rec("a<&>\"'", Stage::Terms, 1_000, 2_000),
            rec("a<&>\"'", Stage::Voice, 1_000, 4_000),
            rec("b", Stage::Script, 50_000, 50_300),
        ];
        let svg = render(&summarize(&records));
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let bars: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("bar"))
            .collect();
        assert_eq!(bars.len(), 4);
        assert_eq!(bars[0].attribute("data-task"), Some("a<&>\"'"));
        // Terms and voice overlapped: they sit in two lanes, not on top of each other.
        assert_ne!(bars[1].attribute("y"), bars[2].attribute("y"));
        let boxes = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("box"))
            .count();
        assert_eq!(boxes, 3);
    }

    #[test]
    fn axes_step_by_one_two_five() {
        let axis = Axis::new(9_000);
        assert_eq!((axis.step_ms, axis.max_ms), (2_000, 10_000));
        let axis = Axis::new(0);
        assert_eq!((axis.step_ms, axis.max_ms), (1, 1));
        let axis = Axis::new(u64::MAX);
        assert!(axis.max_ms >= u64::MAX / 2);
        assert_eq!(lanes(&[]), Vec::<usize>::new());
    }

    #[test]
    fn escaping_covers_markup_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c'\u{7}"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{fffd}"
        );
    }
}
