//! The dashboard states the snapshot tests draw (`tests/tui_snapshots.rs` includes this
//! file): built from `UiState`'s public fields with fixed timestamps and a fixed `now_ms`,
//! so every screen is the same on every run.

use reelforge::pipeline::Stage;
use reelforge::pipeline::events::{DownloadState, LogLevel};
use reelforge::store::StageStatus;
use reelforge::tui::form::{self, TaskForm};
use reelforge::tui::state::{
    CacheCount, DownloadView, GpuSample, LogLine, Notice, NoticeLevel, Overlay, Pane, StageView,
    SystemSample, TaskStatus, TaskView, UiState,
};
use reelforge::tui::theme::Theme;

/// 2023-11-14 22:13:20 UTC: every timestamp is an offset from here.
pub const T0: u64 = 1_700_000_000_000;

/// `T0` moved by `offset` ms (negative: before it).
fn at(offset: i64) -> u64 {
    T0.checked_add_signed(offset)
        .expect("test offsets are small")
}

fn stage(status: StageStatus, start: i64, end: Option<i64>, message: &str) -> StageView {
    StageView {
        status,
        attempt: 1,
        started_ms: Some(at(start)),
        finished_ms: end.map(at),
        fraction: None,
        message: message.into(),
        error: None,
        retry_at_ms: None,
    }
}

fn log(offset: i64, level: LogLevel, stage: Option<Stage>, text: &str) -> LogLine {
    LogLine {
        at_ms: at(offset),
        level,
        stage,
        text: text.into(),
    }
}

fn cache(hits: u64, misses: u64, saved_ms: u64) -> CacheCount {
    CacheCount {
        hits,
        misses,
        saved_ms,
    }
}

/// A task that finished every stage a minute before the others started.
fn done_task() -> TaskView {
    let mut t = TaskView::new(
        "20231114-cats".into(),
        "Why do cats purr?".into(),
        T0 - 90_000,
    );
    let times = [
        (Stage::Script, 0, 3_100, "7 sentences"),
        (Stage::Terms, 3_100, 4_000, "21 terms"),
        (Stage::Voice, 3_100, 9_800, "41.2 s of narration"),
        (Stage::Subtitles, 9_800, 14_300, "212 words timed"),
        (Stage::Footage, 4_000, 31_000, "9 clips"),
        (Stage::Select, 31_000, 31_400, "9 cuts"),
        (Stage::Render, 31_400, 52_600, "1080×1920, 41.2 s"),
    ];
    for (s, start, end, msg) in times {
        *t.stage_mut(s) = stage(StageStatus::Done, start - 90_000, Some(end - 90_000), msg);
    }
    t.status = TaskStatus::Done;
    t.finished_ms = Some(T0 - 90_000 + 52_600);
    t.output = Some("/home/ana/videos/tasks/20231114-cats/final.mp4".into());
    t.cache.insert("llm".into(), cache(2, 0, 6_400));
    t.cache.insert("voice".into(), cache(0, 1, 0));
    t
}

fn base_state(now: u64) -> UiState {
    let mut s = UiState::new(Theme::dark(), T0 + now);
    s.system.latest = Some(SystemSample {
        cpu_percent: 153.0,
        rss_bytes: 412_000_000,
        cores: 2,
        gpu: Err("no GPU".into()),
    });
    for i in 0..40u64 {
        s.system.cpu.push(400 + (i * 37) % 1200);
        s.system.rss.push(300_000_000 + i * 2_000_000);
    }
    s.logs
        .push_back(log(-5_000, LogLevel::Info, None, "theme dark"));
    s
}

pub fn idle() -> UiState {
    let mut s = base_state(0);
    s.tasks.push(done_task());
    s.logs.push_back(log(
        0,
        LogLevel::Info,
        None,
        "ready: press n for a new task",
    ));
    s
}

pub fn mid_download() -> UiState {
    let mut s = base_state(20_000);
    let mut t = TaskView::new("20231114-volcano".into(), "Volcanoes of Iceland".into(), T0);
    *t.stage_mut(Stage::Script) = stage(StageStatus::Done, 0, Some(4_200), "6 sentences");
    *t.stage_mut(Stage::Terms) = stage(StageStatus::Done, 4_200, Some(6_000), "18 terms");
    *t.stage_mut(Stage::Voice) = stage(StageStatus::Done, 4_200, Some(12_500), "38.0 s");
    let mut subs = stage(StageStatus::Running, 12_500, None, "aligning words");
    subs.fraction = Some(0.4);
    *t.stage_mut(Stage::Subtitles) = subs;
    let mut footage = stage(StageStatus::Running, 6_000, None, "clip 3 of 6");
    footage.fraction = Some(0.35);
    *t.stage_mut(Stage::Footage) = footage;
    t.status = TaskStatus::Running;
    let clip = |name: &str, state, done: u64, total: Option<u64>, bps: u64| DownloadView {
        clip: name.into(),
        source: "pexels".into(),
        state,
        done_bytes: done,
        total_bytes: total,
        bytes_per_sec: bps,
        detail: None,
        retry_at_ms: None,
    };
    t.downloads = vec![
        clip(
            "lava-flow",
            DownloadState::Done,
            8_400_000,
            Some(8_400_000),
            0,
        ),
        clip(
            "geyser-01",
            DownloadState::Downloading,
            12_300_000,
            Some(40_000_000),
            2_100_000,
        ),
        clip(
            "glacier",
            DownloadState::Retrying,
            3_100_000,
            Some(25_000_000),
            0,
        ),
        clip("ash-cloud", DownloadState::Rejected, 0, None, 0),
    ];
    t.downloads[2].retry_at_ms = Some(T0 + 23_200);
    t.downloads[2].detail = Some("HTTP 503".into());
    t.downloads[3].source = "pixabay".into();
    t.downloads[3].detail = Some("an HTML page, not a video".into());
    for v in [
        0u64, 0, 400, 1_200, 2_600, 3_100, 2_800, 1_900, 2_400, 2_100,
    ] {
        t.throughput.push(v * 1_000);
    }
    t.cache.insert("llm".into(), cache(1, 1, 2_100));
    t.cache.insert("search".into(), cache(3, 2, 1_800));
    t.push_log(log(
        4_300,
        LogLevel::Info,
        Some(Stage::Terms),
        "18 search terms",
    ));
    t.push_log(log(
        15_000,
        LogLevel::Warn,
        Some(Stage::Footage),
        "glacier: HTTP 503, retrying",
    ));
    t.push_log(log(
        16_500,
        LogLevel::Warn,
        Some(Stage::Footage),
        "ash-cloud rejected",
    ));
    s.tasks = vec![done_task(), t];
    s.selected = 1;
    s.focus = Pane::Pipeline;
    s.selected_stage = Stage::Footage;
    s.system.latest = Some(SystemSample {
        cpu_percent: 187.0,
        rss_bytes: 1_240_000_000,
        cores: 16,
        gpu: Ok(GpuSample {
            name: "NVIDIA H100".into(),
            utilization_percent: 37,
            memory_used_bytes: 12_300_000_000,
            memory_total_bytes: 80_000_000_000,
            encoder_percent: 12,
        }),
    });
    for i in 0..40u64 {
        s.system.gpu_util.push((i * 13) % 60);
        s.system.gpu_mem.push(10_000 + i * 50);
    }
    s
}

const RENDER_ERROR: &str = "ffmpeg exited with status 1: Unknown encoder 'h264_nvenc'; \
     set video.encoder = \"libx264\" or run reelforge doctor";

pub fn failed() -> UiState {
    let mut s = base_state(70_000);
    let mut t = done_task();
    t.id = "20231114-aurora".into();
    t.subject = "Northern lights".into();
    t.output = None;
    let mut render = stage(StageStatus::Failed, 31_400 - 90_000, Some(-37_000), "");
    render.attempt = 2;
    render.error = Some(RENDER_ERROR.into());
    *t.stage_mut(Stage::Render) = render;
    t.status = TaskStatus::Failed;
    t.finished_ms = Some(at(-37_000));
    t.error = Some("render failed: Unknown encoder 'h264_nvenc'".into());
    t.push_log(log(
        -37_000,
        LogLevel::Error,
        Some(Stage::Render),
        RENDER_ERROR,
    ));
    s.tasks = vec![t];
    s.notice = Some(Notice {
        level: NoticeLevel::Error,
        text: "render failed: press r on it to retry".into(),
        at_ms: at(-37_000),
    });
    s
}

pub fn help() -> UiState {
    let mut s = mid_download();
    s.overlay = Overlay::Help;
    s
}

pub fn new_task_form() -> UiState {
    let mut s = idle();
    let mut f = TaskForm::new("9:16");
    f.fields[form::SUBJECT].value = "Why do cats purr?".into();
    f.fields[form::FOOTAGE_SOURCE].value = "folder".into();
    f.fields[form::FOOTAGE_DIR].value = "/nope/clips".into();
    f.fields[form::FOOTAGE_DIR].error =
        Some("/nope/clips is not a folder: give a folder of videos or images".into());
    f.focus = form::FOOTAGE_DIR;
    s.overlay = Overlay::Form(Box::new(f));
    s
}

pub fn states() -> Vec<(&'static str, UiState)> {
    vec![
        ("idle", idle()),
        ("mid_download", mid_download()),
        ("failed", failed()),
        ("help", help()),
        ("form", new_task_form()),
    ]
}
