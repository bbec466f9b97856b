//! Dashboard cost: 10 000 pipeline events a second fed to the reducer while frames are
//! drawn to a `TestBackend` at the dashboard's frame rate (CPU time per frame, frames per
//! second, share of one core), the reducer's and the renderer's capacity on their own, and
//! the CPU use of the real binary sitting idle in tmux.
//! Run with `cargo bench --bench dashboard`; `cargo test --all-targets` runs it briefly.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use reelforge::pipeline::events::DownloadState;
use reelforge::pipeline::{Event, EventKind, Stage};
use reelforge::tui::app::MAX_FPS;
use reelforge::tui::reduce::{Msg, update};
use reelforge::tui::state::{GpuSample, SystemSample, UiState};
use reelforge::tui::theme::Theme;
use reelforge::tui::view;
use std::process::Command;
use std::time::{Duration, Instant};

const EVENTS_PER_SEC: u64 = 10_000;
const CLIPS: u64 = 48;

fn test_mode() -> bool {
    std::env::args().all(|a| a != "--bench")
}

/// CPU time of this thread (all the work below runs on it).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant libc knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The n-th event of a busy task: mostly download progress over many clips, some stage
/// progress, cache hits and log lines, as the footage and render stages send them.
fn event(n: u64, now_ms: u64) -> Msg {
    let (stage, kind) = match n % 20 {
        0..=15 => {
            let clip = n % CLIPS;
            (
                Stage::Footage,
                EventKind::Download {
                    clip: format!("pexels-{clip}.mp4"),
                    source: "pexels".into(),
                    state: if clip.is_multiple_of(11) {
                        DownloadState::Retrying
                    } else {
                        DownloadState::Downloading
                    },
                    done_bytes: (n * 4096) % 8_000_000,
                    total_bytes: Some(8_000_000),
                    bytes_per_sec: 1_500_000 + clip * 1000,
                    detail: None,
                    retry_in_ms: (clip.is_multiple_of(11)).then_some(2_000),
                },
            )
        }
        16 | 17 => (
            Stage::Render,
            EventKind::Progress {
                fraction: Some((n % 1000) as f32 / 1000.0),
                message: format!("frame {n}"),
            },
        ),
        18 => (
            Stage::Footage,
            EventKind::CacheHit {
                kind: "search".into(),
                saved_ms: 120,
            },
        ),
        _ => (
            Stage::Footage,
            EventKind::Log {
                level: reelforge::pipeline::LogLevel::Info,
                message: format!("clip {} accepted", n % CLIPS),
            },
        ),
    };
    Msg::Pipeline(Event {
        task: format!("20261127-1200{:02}-bench", n % 3),
        stage: Some(stage),
        at_ms: now_ms,
        kind,
    })
}

fn started_state() -> UiState {
    let mut state = UiState::new(Theme::dark(), 1_000);
    for t in 0..3 {
        for stage in [Stage::Script, Stage::Footage, Stage::Render] {
            update(
                &mut state,
                Msg::Pipeline(Event {
                    task: format!("20261127-1200{t:02}-bench"),
                    stage: Some(stage),
                    at_ms: 1_000,
                    kind: EventKind::Started { attempt: 1 },
                }),
            );
        }
    }
    update(
        &mut state,
        Msg::System(SystemSample {
            cpu_percent: 150.0,
            rss_bytes: 600 << 20,
            cores: 2,
            gpu: Ok(GpuSample::default()),
        }),
    );
    state
}

/// Events at 10 000/s in real time, a frame every 1/MAX_FPS s when something changed.
fn live_load(seconds: f64) {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    let mut state = started_state();
    let frame = Duration::from_secs_f64(1.0 / MAX_FPS as f64);
    let per_frame = EVENTS_PER_SEC / MAX_FPS;
    let frames = (seconds * MAX_FPS as f64).ceil() as u64;
    let (wall, cpu) = (Instant::now(), thread_cpu());
    let (mut n, mut drawn, mut frame_cpu) = (0u64, 0u64, Duration::ZERO);
    for f in 0..frames {
        let now_ms = 1_000 + f * 1000 / MAX_FPS;
        for _ in 0..per_frame {
            update(&mut state, event(n, now_ms));
            n += 1;
        }
        if f.is_multiple_of(MAX_FPS) {
            update(&mut state, Msg::Tick { now_ms });
        }
        if state.dirty {
            let before = thread_cpu();
            state.now_ms = now_ms;
            terminal
                .draw(|fr| view::draw(fr, &state))
                .expect("draw to the test backend");
            frame_cpu += thread_cpu() - before;
            state.dirty = false;
            drawn += 1;
        }
        let next = wall + frame * (f as u32 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let (wall, cpu) = (wall.elapsed(), thread_cpu() - cpu);
    println!(
        "live load: {n} events in {:.2} s ({:.0} events/s), {drawn} frames ({:.1} frames/s)",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        drawn as f64 / wall.as_secs_f64()
    );
    println!(
        "  CPU per frame (draw) {:.2} ms, CPU per frame (events + draw) {:.2} ms, {:.1} % of one core",
        frame_cpu.as_secs_f64() * 1000.0 / drawn.max(1) as f64,
        cpu.as_secs_f64() * 1000.0 / drawn.max(1) as f64,
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0
    );
}

/// How fast the reducer and the renderer go flat out.
fn capacity(events: u64, frames: u64) {
    let mut state = started_state();
    let cpu = thread_cpu();
    for n in 0..events {
        update(&mut state, event(n, 2_000));
    }
    let reduce = thread_cpu() - cpu;
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    let cpu = thread_cpu();
    for _ in 0..frames {
        terminal
            .draw(|fr| view::draw(fr, &state))
            .expect("draw to the test backend");
    }
    let draw = thread_cpu() - cpu;
    println!(
        "capacity: reducer {:.0} events/s; renderer {:.2} ms CPU per 120x40 frame ({:.0} frames/s)",
        events as f64 / reduce.as_secs_f64(),
        draw.as_secs_f64() * 1000.0 / frames as f64,
        frames as f64 / draw.as_secs_f64()
    );
}

/// CPU ticks (utime + stime) of a process, from /proc.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn tmux(socket: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .expect("tmux runs (./scripts/setup.sh installs it)")
}

/// The real binary, idle in a 120×40 tmux pane: its CPU share over `seconds`.
fn idle_dashboard(seconds: u64) {
    let data = tempfile::tempdir().expect("temp dir");
    let socket = format!("reelforge-bench-{}", std::process::id());
    let command = format!(
        "exec env XDG_CONFIG_HOME={0}/none TERM=xterm-256color {1} --data-dir {0}",
        data.path().display(),
        env!("CARGO_BIN_EXE_reelforge")
    );
    let started = tmux(
        &socket,
        &["new-session", "-d", "-x", "120", "-y", "40", &command],
    );
    assert!(started.status.success(), "tmux: {started:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&tmux(&socket, &["capture-pane", "-p"]).stdout).contains("help")
    {
        assert!(Instant::now() < deadline, "the dashboard did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = String::from_utf8_lossy(&tmux(&socket, &["list-panes", "-F", "#{pane_pid}"]).stdout)
        .trim()
        .to_string();
    // Let start-up settle before measuring.
    std::thread::sleep(Duration::from_secs(1));
    let before = process_ticks(&pid).expect("the dashboard's /proc stat");
    let wall = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let after = process_ticks(&pid).expect("the dashboard's /proc stat");
    let wall = wall.elapsed().as_secs_f64();
    tmux(&socket, &["kill-server"]);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let percent = (after - before) as f64 / hz / wall * 100.0;
    println!(
        "idle dashboard (real binary in tmux, {seconds} s): {percent:.2} % of one core (target < 1 %)"
    );
}

fn main() {
    let quick = test_mode();
    live_load(if quick { 0.4 } else { 10.0 });
    capacity(
        if quick { 5_000 } else { 200_000 },
        if quick { 10 } else { 300 },
    );
    idle_dashboard(if quick { 2 } else { 20 });
}
