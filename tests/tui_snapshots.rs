//! Full-screen snapshots of the dashboard (`TestBackend`) at 120×40, 80×24 and 40×12 for
//! five states built directly from `UiState`'s fields (fixed clock, fixed timestamps), plus
//! checks of what each screen must say and that no size, however small, panics.
//!
//! Snapshots live in `tests/snapshots/<name>_<w>x<h>.txt`, one line per terminal row.
//! `REELFORGE_UPDATE_SNAPSHOTS=1 cargo test --test tui_snapshots` (re)writes them; a missing
//! snapshot is written too but fails the run, so a new screen is always looked at once.

#[path = "snapshots/states.rs"]
mod states;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use reelforge::tui::cuts::CutView;
use reelforge::tui::state::{Confirm, Overlay, UiState};
use reelforge::tui::theme::Theme;
use states::{T0, failed, help, idle, mid_download, new_task_form, states};
use std::path::PathBuf;

const SIZES: [(u16, u16); 3] = [(120, 40), (80, 24), (40, 12)];

/// The screen as text: each cell's symbol, one line per row, trailing blanks trimmed.
fn render(state: &UiState, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test backend never fails");
    terminal
        .draw(|f| reelforge::tui::view::draw(f, state))
        .expect("drawing to a test backend never fails");
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let row: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

fn snapshot_path(name: &str, w: u16, h: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}_{w}x{h}.txt"))
}

/// Compares with the stored snapshot; writes it when asked to or when it is missing.
fn check_snapshot(name: &str, w: u16, h: u16, screen: &str) -> Result<(), String> {
    let path = snapshot_path(name, w, h);
    let update = std::env::var("REELFORGE_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    let stored = std::fs::read_to_string(&path).ok();
    if update || stored.is_none() {
        std::fs::create_dir_all(path.parent().expect("the snapshot path has a folder"))
            .and_then(|()| std::fs::write(&path, screen))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if update {
            return Ok(());
        }
        return Err(format!(
            "{} was missing; it has been written now: review it, then rerun (or create every \
             snapshot with REELFORGE_UPDATE_SNAPSHOTS=1 cargo test --test tui_snapshots)",
            path.display()
        ));
    }
    let stored = stored.unwrap_or_default();
    if stored == screen {
        return Ok(());
    }
    let first = stored
        .lines()
        .zip(screen.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| stored.lines().count().min(screen.lines().count()));
    Err(format!(
        "{} differs from the screen (first at row {first}); if the change is intended, rerun \
         with REELFORGE_UPDATE_SNAPSHOTS=1\n--- stored\n{stored}--- drawn\n{screen}",
        path.display()
    ))
}

#[test]
fn screens_match_their_snapshots() {
    let mut failures = Vec::new();
    for (name, state) in states() {
        for (w, h) in SIZES {
            if let Err(e) = check_snapshot(name, w, h, &render(&state, w, h)) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn assert_has(screen: &str, what: &[&str]) {
    for s in what {
        assert!(screen.contains(s), "missing {s:?} in\n{screen}");
    }
}

#[test]
fn mid_download_shows_stages_downloads_and_system() {
    let screen = render(&mid_download(), 120, 40);
    assert_has(
        &screen,
        &[
            "footage",
            "subtitles",
            "running",
            "done",
            "retry in 4s",
            "MB/s",
            "12.3/40.0 MB",
            "rejected",
            "an HTML page, not a video",
            "throughput",
            "NVIDIA H100",
            "CPU",
            "▶ Pipeline",
            "Volcanoes of Iceland",
            "glacier: HTTP 503",
            "search",
        ],
    );
    // The pipeline is focused, so the selected stage carries the marker.
    assert!(
        screen.lines().any(|l| l.contains("▸ ▶ footage")),
        "{screen}"
    );
    let small = render(&mid_download(), 80, 24);
    assert_has(
        &small,
        &["footage", "retry in 4s", "geyser-01", "throughput"],
    );
    let tiny = render(&mid_download(), 40, 12);
    assert_has(&tiny, &["footage", "running", "Pipeline"]);
}

#[test]
fn a_done_select_stage_lists_the_clip_chosen_for_each_cut() {
    let mut state = idle();
    let cut = |sentence: usize, start: f64, clip: &str, score: f32, text: &str| CutView {
        sentence,
        start,
        clip: clip.into(),
        score: Some(score),
        text: text.into(),
    };
    state.tasks[0].cuts = vec![
        cut(
            0,
            0.0,
            "lava flowing at night",
            0.91,
            "Lava glows as it flows.",
        ),
        cut(
            1,
            4.2,
            "geyser erupting",
            0.74,
            "Geysers erupt every few minutes.",
        ),
    ];
    let screen = render(&state, 120, 40);
    assert_has(
        &screen,
        &[
            "footage chosen (2 cuts)",
            "0.91  lava flowing at night · “Lava glows as it flows.”",
            "4.2s  0.74  geyser erupting",
        ],
    );
    // Without cuts (select not done or no timeline yet) the pane is as before.
    assert!(!render(&idle(), 120, 40).contains("footage chosen"));
}

#[test]
fn failed_stage_shows_its_error() {
    let screen = render(&failed(), 120, 40);
    assert_has(
        &screen,
        &[
            "failed",
            "render",
            "Unknown encoder 'h264_nvenc'",
            "libx264",
            "#2",
            "no GPU",
        ],
    );
    for (w, h) in [(80, 24), (40, 12)] {
        assert_has(&render(&failed(), w, h), &["failed", "Unknown encoder"]);
    }
}

#[test]
fn help_lists_every_key_at_every_size() {
    let keys = [
        "j/k/↑/↓",
        "tab",
        "n ",
        "c ",
        "C ",
        "r ",
        "R ",
        "p ",
        "o ",
        "d ",
        "? ",
        "q ",
        "Esc",
    ];
    for (w, h) in SIZES {
        let screen = render(&help(), w, h);
        assert_has(&screen, &keys);
        assert_has(
            &screen,
            &["cancel", "retry", "resume", "quit", "delete", "play"],
        );
    }
}

#[test]
fn form_shows_fields_choices_and_the_error_in_place() {
    let screen = render(&new_task_form(), 120, 40);
    assert_has(
        &screen,
        &[
            "New task",
            "Subject",
            "Why do cats purr?",
            "◀ 9:16 ▶",
            "◀ folder ▶",
            "✖ /nope/clips is not a folder",
            "▶ Footage folder",
            "Enter submit",
            "Esc cancel",
            "optional: your narration",
        ],
    );
    let tiny = render(&new_task_form(), 40, 12);
    assert_has(&tiny, &["Footage folder", "✖", "Enter submit"]);
}

#[test]
fn idle_and_confirm_screens_say_what_to_do() {
    let empty = UiState::new(Theme::dark(), T0);
    assert_has(
        &render(&empty, 80, 24),
        &["no tasks yet", "? help", "q quit"],
    );
    let screen = render(&idle(), 80, 24);
    assert_has(
        &screen,
        &["Why do cats purr?", "done", "final.mp4", "no GPU"],
    );
    let mut quit = mid_download();
    quit.overlay = Overlay::Confirm(Confirm::Quit { running: 2 });
    assert_has(
        &render(&quit, 80, 24),
        &["2 tasks are running", "resumable", "y/n"],
    );
    let mut delete = idle();
    delete.overlay = Overlay::Confirm(Confirm::DeleteTask("20231114-cats".into()));
    assert_has(&render(&delete, 40, 12), &["Delete task", "files? y/n"]);
}

#[test]
fn no_size_panics_and_tiny_ones_stay_blank() {
    let mut all = states();
    all.push(("empty", UiState::new(Theme::dark(), T0)));
    let mut quit = mid_download();
    quit.overlay = Overlay::Confirm(Confirm::Quit { running: 1 });
    all.push(("quit", quit));
    for (name, state) in &all {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (0, 5),
            (5, 0),
            (2, 2),
            (10, 3),
            (1, 40),
            (200, 1),
        ] {
            let screen = render(state, w, h);
            assert!(
                w >= 2 && h >= 2 || screen.trim().is_empty(),
                "{name} {w}x{h}"
            );
        }
        for (w, h) in [
            (20, 6),
            (39, 11),
            (59, 15),
            (60, 16),
            (79, 23),
            (81, 25),
            (250, 70),
        ] {
            render(state, w, h);
        }
    }
}
