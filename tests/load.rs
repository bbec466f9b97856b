//! Load test: twelve tasks at once in one process against an OpenAI-compatible server and a
//! Pexels-shaped server + CDN on 127.0.0.1 with latency and occasional 429 / 500 / cut
//! transfers. Every task must finish with a valid video, every fault must have been met and
//! retried, memory stays under a bound, and nothing is left behind: no open files, no
//! `*.part` files, no child processes.

#[path = "support/cli.rs"]
mod cli_support;
#[path = "support/files.rs"]
mod files;
#[path = "support/load.rs"]
mod load;
#[path = "support/stock.rs"]
mod stock;

use reelforge::pipeline::{EventKind, Stage};
use reelforge::procstat::peak_rss_bytes;
use reelforge::store::{StageStatus, Store};
use std::path::Path;
use std::time::Duration;

/// The process may hold all twelve tasks' work at once, MiniLM included; well under this.
const MEMORY_BOUND: u64 = 1536 * 1024 * 1024;

#[test]
fn twelve_tasks_at_once_all_finish_despite_faults_and_leave_nothing_behind() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let servers = runtime.block_on(load::start_servers(load::Faults::realistic()));
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let pipeline = runtime
        .block_on(async { load::start_pipeline(load::config(&servers, data.path()), &store) });
    let files_before = open_regular_files();

    let specs = (0..load::TASKS).map(load::spec).collect();
    let (outcomes, makespan) =
        runtime.block_on(load::run(&pipeline, specs, true, Duration::from_secs(600)));
    println!(
        "{} tasks in {:.1} s, {} retried stage failures",
        outcomes.len(),
        makespan.as_secs_f64(),
        outcomes.iter().map(|o| o.retries).sum::<usize>()
    );

    // Every task finished on its own merits: done, every stage done, a real video.
    assert_eq!(outcomes.len(), load::TASKS);
    for outcome in &outcomes {
        let EventKind::TaskDone {
            output: Some(video),
            ..
        } = &outcome.last
        else {
            panic!("task {} did not finish: {:?}", outcome.task, outcome.last);
        };
        let probe = cli_support::ffprobe(Path::new(video));
        assert_eq!((probe.width, probe.height), (1920, 1080), "{video}");
        assert!(probe.duration > 2.0, "{video}: {} s", probe.duration);
        assert_eq!((probe.video_streams, probe.audio_streams), (1, 1));
        let record = store.tasks.get(&outcome.task).unwrap();
        for stage in Stage::ALL {
            assert_eq!(
                record.stage(stage).status,
                StageStatus::Done,
                "{} {stage}",
                outcome.task
            );
        }
    }

    // Every fault was met, and since every task is done, got past.
    let llm_faults = servers
        .llm
        .faults_served
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(llm_faults >= 4, "only {llm_faults} LLM faults were served");
    let retried: usize = outcomes.iter().map(|o| o.retries).sum();
    assert!(
        retried as u64 >= llm_faults,
        "{retried} retried failures for {llm_faults} LLM faults"
    );
    let search_errors = servers
        .pexels
        .requests()
        .iter()
        .filter(|seen| seen.status == 429 || seen.status == 500)
        .count();
    assert_eq!(search_errors, servers.search_faults, "search faults served");
    for clip in &servers.faulted_clips {
        assert!(
            servers.cdn.requests_for(clip) >= 2,
            "{clip} failed once and was fetched again"
        );
    }

    // Bounded memory.
    let peak = peak_rss_bytes();
    println!(
        "peak RSS {:.0} MiB (bound {:.0} MiB)",
        mib(peak),
        mib(MEMORY_BOUND)
    );
    assert!(peak < MEMORY_BOUND, "peak RSS {:.0} MiB", mib(peak));

    // Nothing left behind: files closed, no part files, no children.
    let files_after = open_regular_files();
    let leaked: Vec<&String> = files_after
        .iter()
        .filter(|f| !files_before.contains(f))
        .collect();
    assert!(leaked.is_empty(), "files still open: {leaked:?}");
    let parts = part_files(data.path());
    assert!(parts.is_empty(), "part files left: {parts:?}");
    let children = child_processes();
    assert!(children.is_empty(), "child processes left: {children:?}");
    let timings = store.timings.all().unwrap();
    assert_eq!(timings.len(), load::TASKS * Stage::ALL.len());
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Regular files this process holds open (sockets, pipes and event fds are the runtime's).
fn open_regular_files() -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(entry.path()) {
            let target = target.display().to_string();
            if target.starts_with('/') && !target.starts_with("/dev/") {
                files.push(target);
            }
        }
    }
    files
}

fn part_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".part") {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// Processes whose parent is this one (zombies included: a child not waited for).
fn child_processes() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((name, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1) == Some(&me.as_str()) {
            children.push(format!("{name}) state {}", fields[0]));
        }
    }
    children
}
