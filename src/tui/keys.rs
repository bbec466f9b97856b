//! What each key does, given the overlay and the focused pane. Part of the reducer: it
//! changes `UiState` and returns the effects a key asks for.

use super::form::TaskForm;
use super::reduce::{Effect, notify};
use super::state::{Confirm, NoticeLevel, Overlay, Pane, TaskStatus, UiState};
use crate::pipeline::Stage;
use crate::store::StageStatus;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

pub fn handle(state: &mut UiState, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    // Ctrl-C leaves at once from anywhere; running tasks stay resumable.
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        state.quit = true;
        return vec![Effect::Quit];
    }
    match std::mem::replace(&mut state.overlay, Overlay::None) {
        Overlay::None => main_keys(state, key),
        Overlay::Help => {
            if !matches!(key.code, KeyCode::Esc | KeyCode::Char('?' | 'q')) {
                state.overlay = Overlay::Help;
            }
            Vec::new()
        }
        Overlay::Confirm(confirm) => confirm_keys(state, confirm, key),
        Overlay::Form(form) => form_keys(state, form, key),
    }
}

fn confirm_keys(state: &mut UiState, confirm: Confirm, key: KeyEvent) -> Vec<Effect> {
    match key.code {
        KeyCode::Char('y' | 'Y') => match confirm {
            Confirm::Quit { .. } => {
                state.quit = true;
                vec![Effect::Quit]
            }
            Confirm::DeleteTask(task) => vec![Effect::Delete(task)],
        },
        KeyCode::Char('n' | 'N') | KeyCode::Esc => Vec::new(),
        _ => {
            state.overlay = Overlay::Confirm(confirm);
            Vec::new()
        }
    }
}

fn form_keys(state: &mut UiState, mut form: Box<TaskForm>, key: KeyEvent) -> Vec<Effect> {
    match key.code {
        KeyCode::Esc => return Vec::new(),
        KeyCode::Enter => match form.validate() {
            Ok(spec) => {
                state.follow_new = true;
                notify(
                    state,
                    NoticeLevel::Info,
                    format!("submitting \"{}\"", spec.subject),
                );
                return vec![Effect::Submit(Box::new(spec))];
            }
            Err(message) => notify(state, NoticeLevel::Error, message),
        },
        KeyCode::Tab | KeyCode::Down => form.next_field(),
        KeyCode::BackTab | KeyCode::Up => form.previous_field(),
        KeyCode::Left => form.cycle(false),
        KeyCode::Right => form.cycle(true),
        KeyCode::Backspace => form.backspace(),
        KeyCode::Char(c) => form.type_char(c),
        _ => {}
    }
    state.overlay = Overlay::Form(form);
    Vec::new()
}

fn step(index: usize, len: usize, down: bool) -> usize {
    if len == 0 {
        0
    } else if down {
        (index + 1).min(len - 1)
    } else {
        index.saturating_sub(1)
    }
}

fn move_selection(state: &mut UiState, down: bool) {
    match state.focus {
        Pane::Tasks => state.selected = step(state.selected, state.tasks.len(), down),
        Pane::Pipeline => {
            let at = step(state.selected_stage.index(), Stage::ALL.len(), down);
            state.selected_stage = Stage::ALL[at];
        }
        // Scroll offsets count from the newest line: "down" goes towards it.
        Pane::Downloads => {
            state.downloads_scroll = if down {
                state.downloads_scroll.saturating_sub(1)
            } else {
                state.downloads_scroll + 1
            }
        }
        Pane::Logs => {
            state.logs_scroll = if down {
                state.logs_scroll.saturating_sub(1)
            } else {
                state.logs_scroll + 1
            }
        }
    }
}

fn cycle_focus(state: &mut UiState, forward: bool) {
    let order = Pane::ORDER;
    let at = order.iter().position(|p| *p == state.focus).unwrap_or(0);
    let next = if forward {
        (at + 1) % order.len()
    } else {
        (at + order.len() - 1) % order.len()
    };
    state.focus = order[next];
}

fn main_keys(state: &mut UiState, key: KeyEvent) -> Vec<Effect> {
    match key.code {
        KeyCode::Char('q') => {
            let running = state.running_count();
            if running > 0 {
                state.overlay = Overlay::Confirm(Confirm::Quit { running });
                Vec::new()
            } else {
                state.quit = true;
                vec![Effect::Quit]
            }
        }
        KeyCode::Char('?') => {
            state.overlay = Overlay::Help;
            Vec::new()
        }
        KeyCode::Char('n') => {
            state.overlay = Overlay::Form(Box::new(TaskForm::new(&state.default_aspect)));
            Vec::new()
        }
        KeyCode::Tab => {
            cycle_focus(state, true);
            Vec::new()
        }
        KeyCode::BackTab => {
            cycle_focus(state, false);
            Vec::new()
        }
        KeyCode::Down | KeyCode::Char('j') => {
            move_selection(state, true);
            Vec::new()
        }
        KeyCode::Up | KeyCode::Char('k') => {
            move_selection(state, false);
            Vec::new()
        }
        KeyCode::Char(c) => task_key(state, c),
        _ => Vec::new(),
    }
}

/// Keys that act on the selected task (and its selected stage).
fn task_key(state: &mut UiState, c: char) -> Vec<Effect> {
    if !"cCrRpod".contains(c) {
        return Vec::new();
    }
    let Some(task) = state.selected_task() else {
        notify(
            state,
            NoticeLevel::Warn,
            "no task selected: press n to start one".into(),
        );
        return Vec::new();
    };
    let id = task.id.clone();
    let stage = state.selected_stage;
    let stage_status = task.stage(stage).status;
    let (status, output) = (task.status, task.output.clone());
    let voice_done = task.stage(Stage::Voice).status == StageStatus::Done;
    let refuse = |state: &mut UiState, text: String| {
        notify(state, NoticeLevel::Warn, text);
        Vec::new()
    };
    match c {
        'c' if matches!(stage_status, StageStatus::Running | StageStatus::Queued) => {
            vec![Effect::Cancel {
                task: id,
                stage: Some(stage),
            }]
        }
        'c' => refuse(
            state,
            format!("stage {stage} is not running; select a running stage (tab, j/k)"),
        ),
        'C' if status.is_active() => vec![Effect::Cancel {
            task: id,
            stage: None,
        }],
        'C' => refuse(state, format!("task {id} is not running")),
        'r' if stage_status == StageStatus::Skipped => {
            refuse(state, format!("stage {stage} is not part of this task"))
        }
        'r' if matches!(stage_status, StageStatus::Running | StageStatus::Queued) => refuse(
            state,
            format!("stage {stage} is still running; cancel it first (c), then retry"),
        ),
        'r' => vec![Effect::Retry { task: id, stage }],
        'R' if matches!(
            status,
            TaskStatus::Interrupted | TaskStatus::Failed | TaskStatus::Cancelled
        ) =>
        {
            vec![Effect::Resume(id)]
        }
        'R' => refuse(
            state,
            format!(
                "task {id} is {}: only interrupted, failed or cancelled tasks resume",
                status.word()
            ),
        ),
        'p' if state.playing.as_deref() == Some(id.as_str()) => {
            state.playing = None;
            vec![Effect::StopPlayback]
        }
        'p' if voice_done => {
            state.playing = Some(id.clone());
            vec![Effect::Play(id)]
        }
        'p' => refuse(
            state,
            "no narration yet: the voice stage has not finished".into(),
        ),
        'o' => match output {
            Some(path) => {
                notify(state, NoticeLevel::Info, format!("output: {path}"));
                vec![Effect::PrintOnExit(path)]
            }
            None => refuse(state, format!("task {id} has no video yet")),
        },
        'd' if status.is_active() => refuse(
            state,
            format!("task {id} is running: cancel it first (C), then delete"),
        ),
        'd' => {
            state.overlay = Overlay::Confirm(Confirm::DeleteTask(id));
            Vec::new()
        }
        _ => Vec::new(),
    }
}
