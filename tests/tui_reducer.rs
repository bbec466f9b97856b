//! The dashboard's reducer, fed scripted pipeline events and keys: timings, overlap,
//! critical path and bottleneck, cache counts, statuses, and the effects keys ask for.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use reelforge::pipeline::events::DownloadState;
use reelforge::pipeline::{Event, EventKind, Stage};
use reelforge::store::{BatchRef, StageStatus, TaskRecord, TaskSpec, TaskState};
use reelforge::tui::analysis::{bottleneck, critical_path, overlaps, spans};
use reelforge::tui::reduce::{Effect, Msg, update};
use reelforge::tui::state::{Confirm, Overlay, Pane, TaskStatus, UiState};
use reelforge::tui::theme::Theme;

const TASK: &str = "20261127-120000-abcd";

fn at(ms: u64, stage: Option<Stage>, kind: EventKind) -> Msg {
    Msg::Pipeline(Event {
        task: TASK.into(),
        stage,
        at_ms: ms,
        kind,
    })
}

fn run_stage(ms: u64, end: u64, stage: Stage) -> Vec<Msg> {
    vec![
        at(ms, Some(stage), EventKind::Queued),
        at(ms, Some(stage), EventKind::Started { attempt: 1 }),
        at(
            end,
            Some(stage),
            EventKind::Finished {
                elapsed_ms: end - ms,
            },
        ),
    ]
}

fn download(ms: u64, clip: &str, state: DownloadState, done: u64, retry: Option<u64>) -> Msg {
    at(
        ms,
        Some(Stage::Footage),
        EventKind::Download {
            clip: clip.into(),
            source: "pexels".into(),
            state,
            done_bytes: done,
            total_bytes: Some(8_000_000),
            bytes_per_sec: 2_000_000,
            detail: None,
            retry_in_ms: retry,
        },
    )
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn apply(state: &mut UiState, msgs: Vec<Msg>) -> Vec<Effect> {
    msgs.into_iter().flat_map(|m| update(state, m)).collect()
}

/// A whole task: script → (terms ∥ voice) → footage ∥ subtitles → select → render, with
/// a retried footage attempt, downloads and cache hits. Times in ms from 1 000.
fn finished_task() -> UiState {
    let mut state = UiState::new(Theme::dark(), 1_000);
    let mut msgs = vec![at(
        1_000,
        None,
        EventKind::Submitted {
            subject: "Why do cats purr?".into(),
        },
    )];
    msgs.extend(run_stage(1_000, 3_000, Stage::Script));
    msgs.push(at(
        2_900,
        Some(Stage::Script),
        EventKind::CacheHit {
            kind: "llm".into(),
            saved_ms: 1_500,
        },
    ));
    msgs.extend(run_stage(3_000, 4_000, Stage::Terms));
    msgs.extend(run_stage(3_000, 9_000, Stage::Voice));
    msgs.extend([
        at(4_000, Some(Stage::Footage), EventKind::Queued),
        at(
            4_000,
            Some(Stage::Footage),
            EventKind::Started { attempt: 1 },
        ),
        download(
            4_500,
            "cat-1.mp4",
            DownloadState::Downloading,
            1_000_000,
            None,
        ),
        download(5_000, "cat-2.mp4", DownloadState::Retrying, 0, Some(3_000)),
        at(
            5_500,
            Some(Stage::Footage),
            EventKind::Failed {
                error: "pexels answered 500".into(),
                will_retry: true,
                retry_in_ms: Some(500),
            },
        ),
        at(
            6_000,
            Some(Stage::Footage),
            EventKind::Started { attempt: 2 },
        ),
        download(7_000, "cat-1.mp4", DownloadState::Done, 8_000_000, None),
        download(7_500, "cat-2.mp4", DownloadState::Done, 8_000_000, None),
    ]);
    for ms in [6_100, 6_200] {
        msgs.push(at(
            ms,
            Some(Stage::Footage),
            EventKind::CacheHit {
                kind: "search".into(),
                saved_ms: 200,
            },
        ));
    }
    msgs.push(at(
        12_000,
        Some(Stage::Footage),
        EventKind::Finished { elapsed_ms: 6_000 },
    ));
    msgs.extend(run_stage(9_000, 9_500, Stage::Subtitles));
    msgs.extend(run_stage(12_000, 12_500, Stage::Select));
    msgs.extend(run_stage(12_500, 20_000, Stage::Render));
    msgs.push(at(
        20_000,
        None,
        EventKind::TaskDone {
            output: Some("/videos/cats.mp4".into()),
            elapsed_ms: 19_000,
        },
    ));
    let effects = apply(&mut state, msgs);
    assert!(effects.contains(&Effect::Refresh(TASK.into())));
    state
}

#[test]
fn a_scripted_task_gives_timings_overlap_bottleneck_and_cache_counts() {
    let state = finished_task();
    let task = state.task(TASK).expect("the task is shown");
    assert_eq!(task.status, TaskStatus::Done);
    assert_eq!(task.output.as_deref(), Some("/videos/cats.mp4"));
    assert!(
        task.stages.values().all(|s| s.status == StageStatus::Done),
        "{:?}",
        task.stages
    );
    assert_eq!(task.progress(), 1.0);
    assert_eq!(task.elapsed_ms(99_000), 19_000);
    // The retried footage stage keeps the start of its first attempt.
    let footage = task.stage(Stage::Footage);
    assert_eq!(footage.attempt, 2);
    assert_eq!(footage.elapsed_ms(99_000), Some(8_000));
    assert_eq!(footage.retry_at_ms, None);
    assert_eq!(task.stage(Stage::Voice).elapsed_ms(99_000), Some(6_000));

    let now = 20_000;
    assert_eq!(spans(task, now).len(), 7);
    let mut shared = overlaps(task, now);
    shared.sort();
    assert_eq!(
        shared,
        vec![
            (Stage::Terms, Stage::Voice, 1_000),
            (Stage::Voice, Stage::Footage, 5_000),
            (Stage::Subtitles, Stage::Footage, 500),
        ]
    );
    assert_eq!(
        critical_path(task, now),
        vec![
            Stage::Script,
            Stage::Terms,
            Stage::Footage,
            Stage::Select,
            Stage::Render
        ]
    );
    let slowest = bottleneck(task, now).expect("a bottleneck");
    assert_eq!(slowest.stage, Stage::Footage);
    assert_eq!(slowest.ms, 8_000);
    assert!(
        (slowest.share - 8.0 / 19.0).abs() < 1e-9,
        "{}",
        slowest.share
    );

    let llm = task.cache["llm"];
    assert_eq!((llm.hits, llm.misses, llm.saved_ms), (1, 0, 1_500));
    let search = task.cache["search"];
    assert_eq!((search.hits, search.saved_ms), (2, 400));
    assert_eq!(state.cache_totals()["search"].hits, 2);

    assert_eq!(task.downloads.len(), 2);
    assert!(
        task.downloads
            .iter()
            .all(|d| d.state == DownloadState::Done)
    );
    // The failed attempt is in the task's log, as a warning.
    assert!(
        task.logs
            .iter()
            .any(|l| l.text.contains("attempt 1 failed: pexels answered 500"))
    );
}

#[test]
fn a_failing_stage_stops_the_task_with_its_error_and_retry_resets_what_follows() {
    let mut state = finished_task();
    // The user retries footage: it and everything after it start over.
    let effects = apply(
        &mut state,
        vec![at(30_000, Some(Stage::Footage), EventKind::Queued)],
    );
    assert!(effects.is_empty());
    let task = state.task(TASK).unwrap();
    assert_eq!(task.status, TaskStatus::Queued);
    assert!(task.downloads.is_empty(), "old downloads are cleared");
    for stage in [Stage::Select, Stage::Render] {
        assert_eq!(task.stage(stage).status, StageStatus::Pending, "{stage}");
        assert_eq!(task.stage(stage).started_ms, None);
    }
    assert_eq!(task.stage(Stage::Voice).status, StageStatus::Done);
    assert_eq!(task.stage(Stage::Footage).status, StageStatus::Queued);

    let mut msgs = vec![at(
        30_000,
        Some(Stage::Footage),
        EventKind::Started { attempt: 3 },
    )];
    msgs.push(at(
        31_000,
        Some(Stage::Footage),
        EventKind::Failed {
            error: "stage footage failed: every source refused the keys".into(),
            will_retry: false,
            retry_in_ms: None,
        },
    ));
    msgs.push(at(
        31_000,
        None,
        EventKind::TaskStopped {
            reason: "stage footage failed".into(),
        },
    ));
    apply(&mut state, msgs);
    let task = state.task(TASK).unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(task.error.as_deref(), Some("stage footage failed"));
    let footage = task.stage(Stage::Footage);
    assert_eq!(footage.status, StageStatus::Failed);
    assert_eq!(footage.elapsed_ms(99_000), Some(1_000));
    assert!(
        footage
            .error
            .as_deref()
            .unwrap()
            .contains("refused the keys")
    );
    assert!(task.logs.back().unwrap().text.contains("refused the keys"));
}

#[test]
fn keys_ask_for_cancel_retry_quit_and_delete_with_confirmation() {
    let mut state = UiState::new(Theme::dark(), 1_000);
    let mut msgs = vec![at(
        1_000,
        None,
        EventKind::Submitted {
            subject: "Volcanoes".into(),
        },
    )];
    msgs.extend(run_stage(1_000, 2_000, Stage::Script));
    msgs.push(at(2_000, Some(Stage::Voice), EventKind::Queued));
    msgs.push(at(
        2_000,
        Some(Stage::Voice),
        EventKind::Started { attempt: 1 },
    ));
    apply(&mut state, msgs);

    // Move to the pipeline pane and down to the voice stage.
    apply(&mut state, vec![key(KeyCode::Tab)]);
    assert_eq!(state.focus, Pane::Pipeline);
    apply(
        &mut state,
        vec![key(KeyCode::Char('j')), key(KeyCode::Down)],
    );
    assert_eq!(state.selected_stage, Stage::Voice);
    assert_eq!(
        apply(&mut state, vec![key(KeyCode::Char('c'))]),
        vec![Effect::Cancel {
            task: TASK.into(),
            stage: Some(Stage::Voice)
        }]
    );
    // Retrying a running stage is refused with a reason, not sent.
    assert!(apply(&mut state, vec![key(KeyCode::Char('r'))]).is_empty());
    assert!(
        state
            .notice
            .as_ref()
            .unwrap()
            .text
            .contains("cancel it first")
    );
    // Deleting a running task is refused too.
    assert!(apply(&mut state, vec![key(KeyCode::Char('d'))]).is_empty());
    assert_eq!(state.overlay, Overlay::None);

    // Quit asks while a task runs; `n` keeps the dashboard, `y` quits.
    assert!(apply(&mut state, vec![key(KeyCode::Char('q'))]).is_empty());
    assert_eq!(
        state.overlay,
        Overlay::Confirm(Confirm::Quit { running: 1 })
    );
    apply(&mut state, vec![key(KeyCode::Char('n'))]);
    assert!(!state.quit);
    apply(&mut state, vec![key(KeyCode::Char('q'))]);
    assert_eq!(
        apply(&mut state, vec![key(KeyCode::Char('y'))]),
        vec![Effect::Quit]
    );
    assert!(state.quit);

    // Once cancelled: retry the stage, delete after confirming.
    let mut state = state.clone();
    state.quit = false;
    apply(
        &mut state,
        vec![
            at(3_000, Some(Stage::Voice), EventKind::Cancelled),
            at(
                3_000,
                None,
                EventKind::TaskStopped {
                    reason: "cancelled".into(),
                },
            ),
        ],
    );
    assert_eq!(state.task(TASK).unwrap().status, TaskStatus::Cancelled);
    assert_eq!(
        apply(&mut state, vec![key(KeyCode::Char('r'))]),
        vec![Effect::Retry {
            task: TASK.into(),
            stage: Stage::Voice
        }]
    );
    assert_eq!(
        apply(&mut state, vec![key(KeyCode::Char('R'))]),
        vec![Effect::Resume(TASK.into())]
    );
    apply(&mut state, vec![key(KeyCode::Char('d'))]);
    assert_eq!(
        state.overlay,
        Overlay::Confirm(Confirm::DeleteTask(TASK.into()))
    );
    assert_eq!(
        apply(&mut state, vec![key(KeyCode::Char('y'))]),
        vec![Effect::Delete(TASK.into())]
    );
    apply(&mut state, vec![Msg::Removed(TASK.into())]);
    assert!(state.tasks.is_empty());
}

#[test]
fn the_form_submits_a_valid_task_and_selects_it_when_it_appears() {
    let mut state = finished_task();
    apply(&mut state, vec![key(KeyCode::Char('n'))]);
    assert!(matches!(state.overlay, Overlay::Form(_)));
    // Enter on an empty form: refused in place, the form stays open.
    assert!(apply(&mut state, vec![key(KeyCode::Enter)]).is_empty());
    assert!(matches!(state.overlay, Overlay::Form(_)));
    assert!(state.notice.as_ref().unwrap().text.starts_with("Subject:"));
    let mut msgs: Vec<Msg> = "Deep sea fish"
        .chars()
        .map(|c| key(KeyCode::Char(c)))
        .collect();
    msgs.push(key(KeyCode::Enter));
    let effects = apply(&mut state, msgs);
    let [Effect::Submit(spec)] = effects.as_slice() else {
        panic!("expected one submit, got {effects:?}");
    };
    assert_eq!(spec.subject, "Deep sea fish");
    assert_eq!(state.overlay, Overlay::None);
    update(
        &mut state,
        Msg::Pipeline(Event {
            task: "20261127-130000-ef01".into(),
            stage: None,
            at_ms: 40_000,
            kind: EventKind::Submitted {
                subject: "Deep sea fish".into(),
            },
        }),
    );
    assert_eq!(state.selected_task().unwrap().subject, "Deep sea fish");
}

#[test]
fn records_from_an_earlier_run_show_interrupted_tasks_that_resume() {
    let mut state = UiState::new(Theme::dark(), 1_000);
    let spec = TaskSpec {
        subject: "Old task".into(),
        aspect: "9:16".into(),
        stop_at: Some(Stage::Voice),
        ..TaskSpec::default()
    };
    let mut record = TaskRecord::new(TASK.into(), spec);
    record.stage_mut(Stage::Script).status = StageStatus::Done;
    record.state = TaskState::Running;
    update(&mut state, Msg::Records(vec![record]));
    let task = state.task(TASK).unwrap();
    assert_eq!(task.status, TaskStatus::Interrupted);
    assert_eq!(task.stage(Stage::Render).status, StageStatus::Skipped);
    assert_eq!(task.stage(Stage::Script).status, StageStatus::Done);
    assert_eq!(task.progress(), 0.5);
    assert_eq!(
        update(&mut state, key(KeyCode::Char('R'))),
        vec![Effect::Resume(TASK.into())]
    );
}

#[test]
fn idle_ticks_draw_nothing_and_live_ones_sample_throughput() {
    let mut state = finished_task();
    state.dirty = false;
    update(&mut state, Msg::Tick { now_ms: 50_000 });
    assert!(!state.dirty, "a finished task needs no redraw on a tick");

    apply(
        &mut state,
        vec![
            at(60_000, Some(Stage::Footage), EventKind::Queued),
            at(
                60_000,
                Some(Stage::Footage),
                EventKind::Started { attempt: 3 },
            ),
            download(60_500, "a.mp4", DownloadState::Downloading, 10, None),
            download(60_600, "b.mp4", DownloadState::Queued, 0, None),
        ],
    );
    state.dirty = false;
    update(&mut state, Msg::Tick { now_ms: 61_000 });
    assert!(state.dirty);
    let task = state.task(TASK).unwrap();
    assert_eq!(task.throughput.last(), Some(2_000_000));
    assert_eq!(task.stage(Stage::Footage).elapsed_ms(61_000), Some(1_000));
}

fn batch_record(id: &str, batch: Option<(&str, usize)>, state: TaskState) -> TaskRecord {
    let spec = TaskSpec {
        subject: format!("subject of {id}"),
        aspect: "9:16".into(),
        batch: batch.map(|(batch, entry)| BatchRef {
            id: batch.into(),
            entry,
        }),
        ..TaskSpec::default()
    };
    let mut record = TaskRecord::new(id.into(), spec);
    record.state = state;
    record
}

#[test]
fn batch_tasks_are_grouped_under_a_header_after_the_tasks_started_alone() {
    let mut state = UiState::new(Theme::dark(), 1_000);
    // A live task of a batch appears by its events first; its record then says its batch.
    update(
        &mut state,
        Msg::Pipeline(Event {
            task: "20261127-120001-b002".into(),
            stage: None,
            at_ms: 1_000,
            kind: EventKind::Submitted {
                subject: "subject of 20261127-120001-b002".into(),
            },
        }),
    );
    update(
        &mut state,
        Msg::Records(vec![
            batch_record("20261127-130000-solo", None, TaskState::Done),
            batch_record(
                "20261127-120000-b001",
                Some(("cats-1a2b3c4d-1", 5)),
                TaskState::Done,
            ),
            batch_record(
                "20261127-120001-b002",
                Some(("cats-1a2b3c4d-1", 2)),
                TaskState::Running,
            ),
            batch_record(
                "20261127-110000-c001",
                Some(("dogs-99aa88bb-1", 1)),
                TaskState::Failed,
            ),
        ]),
    );
    let order: Vec<&str> = state.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        order,
        [
            "20261127-130000-solo",
            "20261127-110000-c001",
            "20261127-120001-b002",
            "20261127-120000-b001"
        ],
        "alone first, then each batch together in entry order, batches by start"
    );
    assert_eq!(state.batch_counts("cats-1a2b3c4d-1"), (1, 0, 2));

    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40))
        .expect("a test backend never fails");
    terminal
        .draw(|f| reelforge::tui::view::draw(f, &state))
        .expect("drawing to a test backend never fails");
    let buffer = terminal.backend().buffer();
    // The task list is the left column (the pipeline pane's title names a task too).
    let rows: Vec<String> = (0..buffer.area.height)
        .map(|y| (0..38).map(|x| buffer[(x, y)].symbol()).collect())
        .collect();
    let row_of = |needle: &str| {
        rows.iter()
            .position(|r| r.contains(needle))
            .unwrap_or_else(|| panic!("no row shows {needle:?}:\n{}", rows.join("\n")))
    };
    let solo = row_of("subject of 20261127-130000-solo");
    // The id is cut to leave room for the counts in a narrow pane.
    let dogs = row_of("batch dogs-");
    assert_eq!(dogs, row_of("0/1 done, 1 failed"));
    let cats = row_of("batch cats-1a2b3c4d-1 1/2 done");
    let entry_2 = row_of("subject of 20261127-120001-b002");
    assert!(
        solo < dogs && dogs < cats && cats < entry_2,
        "{}",
        rows.join("\n")
    );
    assert_eq!(rows.iter().filter(|r| r.contains("batch cats")).count(), 1);
}
