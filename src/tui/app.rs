//! The dashboard's event loop: terminal keys, pipeline events, log lines, command results
//! and a one-second tick all become `Msg`s for the reducer; its effects are carried out
//! here, off the loop (pipeline commands answer on their own tasks). Frames are drawn only
//! when the state changed, at most `MAX_FPS` a second, after draining whatever events
//! arrived together.

use super::audio::Player;
use super::cuts;
use super::logring::LogItem;
use super::reduce::{Effect, Msg, update};
use super::state::{NoticeLevel, UiState};
use super::system::SystemSampler;
use super::view;
use crate::pipeline::events::now_ms;
use crate::pipeline::{Event, PipelineHandle, Stage};
use crate::store::{StageStatus, Store};
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::{Instant, MissedTickBehavior};

pub const MAX_FPS: u64 = 15;
const FRAME: Duration = Duration::from_millis(1000 / MAX_FPS);

/// What the loop needs from the rest of the program.
pub struct Wiring {
    pub store: Store,
    pub pipeline: PipelineHandle,
    pub logs: UnboundedReceiver<LogItem>,
}

/// Runs until the user quits; returns the paths asked for with `o`, to print afterwards.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    mut state: UiState,
    mut wiring: Wiring,
) -> anyhow::Result<Vec<String>>
where
    B::Error: Send + Sync + 'static,
{
    let mut pipeline_events = wiring.pipeline.subscribe().await?;
    let (results_tx, mut results) = unbounded_channel::<Msg>();
    let records = wiring.store.tasks.list()?;
    update(&mut state, Msg::Records(records));
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sampler = SystemSampler::new();
    let mut player = Player::new();
    let mut printed = Vec::new();
    let mut last_frame = Instant::now()
        .checked_sub(FRAME)
        .unwrap_or_else(Instant::now);
    let mut terminate = shutdown_signals()?;

    while !state.quit {
        let redraw_at = last_frame + FRAME;
        let mut inbox: Vec<Msg> = Vec::new();
        tokio::select! {
            event = pipeline_events.recv() => match event {
                Some(event) => {
                    inbox.push(Msg::Pipeline(event));
                    drain(&mut pipeline_events, &mut inbox);
                }
                None => anyhow::bail!("the pipeline stopped unexpectedly"),
            },
            Some(key) = keys.next() => match key? {
                TermEvent::Key(key) => inbox.push(Msg::Key(key)),
                TermEvent::Resize(..) => inbox.push(Msg::Resize),
                _ => {}
            },
            Some(msg) = results.recv() => inbox.push(msg),
            Some((task, line)) = wiring.logs.recv() => inbox.push(Msg::Log { task, line }),
            _ = tick.tick() => {
                inbox.push(Msg::Tick { now_ms: now_ms() });
                inbox.push(Msg::System(sampler.sample()));
                if state.playing.is_some() && !player.is_playing() {
                    inbox.push(Msg::PlaybackStopped);
                }
            }
            _ = tokio::time::sleep_until(redraw_at), if state.dirty => {}
            _ = terminate.recv() => {
                state.quit = true;
            }
        }
        for msg in inbox {
            for effect in update(&mut state, msg) {
                carry_out(effect, &wiring, &results_tx, &mut player, &mut printed);
            }
        }
        if state.dirty && Instant::now() >= last_frame + FRAME {
            state.now_ms = now_ms();
            terminal.draw(|frame| view::draw(frame, &state))?;
            state.dirty = false;
            last_frame = Instant::now();
        }
    }
    player.stop();
    stop_running_tasks(&state, &wiring.pipeline, &mut pipeline_events).await;
    Ok(printed)
}

/// Bursts of events (a download's progress, many tasks at once) become one frame.
fn drain(events: &mut UnboundedReceiver<Event>, inbox: &mut Vec<Msg>) {
    while inbox.len() < 10_000 {
        match events.try_recv() {
            Ok(event) => inbox.push(Msg::Pipeline(event)),
            Err(_) => break,
        }
    }
}

fn report(results: &UnboundedSender<Msg>, level: NoticeLevel, text: String) {
    let _ = results.send(Msg::Notice { level, text });
}

/// Pipeline commands run on their own tasks so a busy supervisor never stalls the screen;
/// their outcome comes back as a message.
fn carry_out(
    effect: Effect,
    wiring: &Wiring,
    results: &UnboundedSender<Msg>,
    player: &mut Player,
    printed: &mut Vec<String>,
) {
    let pipeline = wiring.pipeline.clone();
    let tx = results.clone();
    match effect {
        Effect::Submit(spec) => {
            tokio::spawn(async move {
                match pipeline.submit(*spec).await {
                    Ok(id) => report(&tx, NoticeLevel::Info, format!("task {id} started")),
                    Err(e) => report(&tx, NoticeLevel::Error, format!("not started: {e}")),
                }
            });
        }
        Effect::Cancel { task, stage } => {
            tokio::spawn(async move {
                let what = stage.map_or(format!("task {task}"), |s| format!("stage {s}"));
                match pipeline.cancel(&task, stage).await {
                    Ok(()) => report(&tx, NoticeLevel::Info, format!("cancelling {what}")),
                    Err(e) => report(&tx, NoticeLevel::Error, e.to_string()),
                }
                refresh(&pipeline, &task, &tx).await;
            });
        }
        Effect::Retry { task, stage } => {
            tokio::spawn(async move {
                match pipeline.retry(&task, stage).await {
                    Ok(()) => report(&tx, NoticeLevel::Info, format!("retrying stage {stage}")),
                    Err(e) => report(&tx, NoticeLevel::Error, e.to_string()),
                }
                refresh(&pipeline, &task, &tx).await;
            });
        }
        Effect::Resume(task) => {
            tokio::spawn(async move {
                match pipeline.resume(&task).await {
                    Ok(()) => report(&tx, NoticeLevel::Info, format!("task {task} resumed")),
                    Err(e) => report(&tx, NoticeLevel::Error, e.to_string()),
                }
            });
        }
        Effect::Refresh(task) => {
            let dir = wiring.store.tasks.task_dir(&task);
            tokio::spawn(async move {
                if refresh(&pipeline, &task, &tx).await == Some(StageStatus::Done) {
                    let cuts = tokio::task::spawn_blocking(move || cuts::load(&dir))
                        .await
                        .unwrap_or_default();
                    let _ = tx.send(Msg::Cuts { task, cuts });
                }
            });
        }
        Effect::Delete(task) => {
            let store = wiring.store.clone();
            tokio::task::spawn_blocking(move || match store.tasks.remove(&task) {
                Ok(()) => {
                    let _ = tx.send(Msg::Removed(task));
                }
                Err(e) => report(&tx, NoticeLevel::Error, format!("not deleted: {e}")),
            });
        }
        Effect::Play(task) => match narration_path(&wiring.store, &task) {
            Some(path) => {
                if let Err(e) = player.play(&path) {
                    report(results, NoticeLevel::Warn, e.to_string());
                    let _ = results.send(Msg::PlaybackStopped);
                } else {
                    report(
                        results,
                        NoticeLevel::Info,
                        format!("playing {}", path.display()),
                    );
                }
            }
            None => {
                report(
                    results,
                    NoticeLevel::Warn,
                    format!("task {task} has no narration file"),
                );
                let _ = results.send(Msg::PlaybackStopped);
            }
        },
        Effect::StopPlayback => player.stop(),
        Effect::PrintOnExit(path) => printed.push(path),
        Effect::Quit => {}
    }
}

/// Sends the task's record; returns the status of its select stage (whose choices the
/// pipeline pane shows once it is done).
async fn refresh(
    pipeline: &PipelineHandle,
    task: &str,
    tx: &UnboundedSender<Msg>,
) -> Option<StageStatus> {
    let record = pipeline.record(task).await.ok()?;
    let select = record.stage(Stage::Select).status;
    let _ = tx.send(Msg::Records(vec![record]));
    Some(select)
}

/// The narration the voice stage wrote (or the user's recording).
fn narration_path(store: &Store, task: &str) -> Option<std::path::PathBuf> {
    let record = store.tasks.get(task).ok()?;
    let dir = store.tasks.task_dir(task);
    record
        .stage(Stage::Voice)
        .outputs
        .iter()
        .map(|name| dir.join(name))
        .find(|p| {
            p.extension()
                .is_some_and(|e| ["wav", "mp3", "m4a", "flac", "ogg"].iter().any(|x| e == *x))
                && p.is_file()
        })
        .or_else(|| record.spec.narration.clone())
}

/// Quitting cancels what runs so child processes stop and nothing half-written stays;
/// every cancelled task can be resumed (`R`, or `reelforge tasks resume`).
async fn stop_running_tasks(
    state: &UiState,
    pipeline: &PipelineHandle,
    events: &mut UnboundedReceiver<Event>,
) {
    let running: Vec<String> = state
        .tasks
        .iter()
        .filter(|t| t.status.is_active())
        .map(|t| t.id.clone())
        .collect();
    for task in &running {
        let _ = pipeline.cancel(task, None).await;
    }
    let mut left = running.len();
    let deadline = Instant::now() + Duration::from_secs(5);
    while left > 0 {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) if event.ends_task() && running.contains(&event.task) => left -= 1,
            Ok(Some(_)) => {}
            _ => break,
        }
    }
}

/// SIGTERM and SIGHUP (the SSH connection dropped) end the dashboard like `q`.
fn shutdown_signals() -> anyhow::Result<UnboundedReceiver<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = unbounded_channel();
    for kind in [
        SignalKind::terminate(),
        SignalKind::hangup(),
        SignalKind::interrupt(),
    ] {
        let mut stream = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            if stream.recv().await.is_some() {
                let _ = tx.send(());
            }
        });
    }
    Ok(rx)
}
