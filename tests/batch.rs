//! `reelforge batch FILE` end to end: every bad entry reported with its line and key before
//! anything starts; JSON Lines and TOML batches making every video with at most N tasks at
//! once and a JSON summary; a task failing at run time named with its stage; and a batch
//! killed with SIGKILL that `--resume` finishes without redoing a finished stage.
//! Needs ffmpeg and espeak-ng (installed by scripts/setup.sh); no network.

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{ffprobe, reelforge, text};
use reelforge::pipeline::Stage;
use reelforge::store::{StageStatus, Store, TaskState};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

const SENTENCES: [&str; 4] = [
    "Cats purr when they are calm.",
    "The sound helps them heal.",
    "Owls hunt at night.",
    "Their wings make no sound.",
];

/// A short, quick task: two sentences, square frame, generated footage.
fn entry(n: usize) -> Value {
    serde_json::json!({
        "subject": format!("task {n}"),
        "script": format!("{} {}", SENTENCES[n % 4], SENTENCES[(n + 1) % 4]),
        "aspect": "1:1",
        "sources": ["generated"],
    })
}

fn write_jsonl(path: &Path, entries: &[Value]) {
    let lines: Vec<String> = entries.iter().map(Value::to_string).collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn parse_events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is one JSON event"))
        .collect()
}

/// `reelforge batch FILE ARGS --json --summary SUMMARY`, which must succeed: its events
/// and its output.
fn batch_ok(data: &Path, file: &Path, args: &[&str], summary: &Path) -> (Vec<Value>, String) {
    let output = reelforge(data)
        .arg("batch")
        .arg(file)
        .args(args)
        .args(["--json", "--summary"])
        .arg(summary)
        .output()
        .unwrap();
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    (parse_events(&output.stdout), log)
}

fn read_summary(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The most tasks between their `submitted` and their end at any point of the stream.
fn most_in_flight(events: &[Value]) -> usize {
    let mut running = BTreeSet::new();
    let mut most = 0;
    for e in events {
        let task = e["task"].as_str().unwrap_or_default().to_string();
        match e["event"].as_str() {
            Some("submitted") => {
                running.insert(task);
            }
            Some("task_done" | "task_stopped") => {
                running.remove(&task);
            }
            _ => {}
        }
        most = most.max(running.len());
    }
    most
}

fn no_tasks_stored(data: &Path) -> bool {
    let tasks = data.join("tasks");
    let no_folders = !tasks.exists() || std::fs::read_dir(&tasks).unwrap().next().is_none();
    let no_records =
        !data.join("db").exists() || Store::open(data).unwrap().tasks.list().unwrap().is_empty();
    no_folders && no_records
}

#[test]
fn bad_entries_are_all_reported_with_line_and_key_and_nothing_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("tasks.jsonl");
    let text_of = |file: &Path| {
        let output = reelforge(&data).arg("batch").arg(file).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        text(&output)
    };
    std::fs::write(
        &file,
        [
            "# a comment, then a good entry",
            &entry(1).to_string(),
            r#"{"subject": "x", "voice": "robot"}"#,
            "",
            r#"{"subject": "x", "voise": "espeak", "videos": 9}"#,
            "not json",
            r#"{"script": "  ", "aspect": "4:3", "footage_dirs": ["no-such-folder"]}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let log = text_of(&file);
    for expected in [
        "tasks.jsonl line 3: \"voice\": \"robot\" is not allowed",
        "tasks.jsonl line 5: unknown key \"voise\": an entry takes subject, script",
        "tasks.jsonl line 5: \"videos\": 9 is not allowed",
        "tasks.jsonl line 6: not valid JSON",
        "tasks.jsonl line 7: \"aspect\" \"4:3\" is not allowed",
        "tasks.jsonl line 7: \"script\" is empty",
        "tasks.jsonl line 7: \"footage_dirs\"",
        "4 of 5 entries are wrong",
    ] {
        assert!(log.contains(expected), "{expected:?} in:\n{log}");
    }
    assert!(
        !log.contains("line 2:"),
        "the good entry is not blamed: {log}"
    );
    assert!(
        no_tasks_stored(&data),
        "nothing starts while an entry is wrong"
    );

    write_jsonl(&file, &vec![entry(1); 1001]);
    let log = text_of(&file);
    assert!(
        log.contains("1001 tasks") && log.contains("at most 1 000"),
        "{log}"
    );

    std::fs::write(&file, "\n# nothing here\n").unwrap();
    assert!(text_of(&file).contains("has no tasks"));

    let toml = tmp.path().join("tasks.toml");
    std::fs::write(
        &toml,
        "[[task]]\nsubject = \"a\"\nsources = [\"generated\"]\n\n# the second\n[[task]]\nsubject = \"b\"\nsubtitle_style = \"comic\"\n",
    )
    .unwrap();
    let log = text_of(&toml);
    assert!(
        log.contains("tasks.toml line 6: \"subtitle_style\": \"comic\" is not allowed"),
        "{log}"
    );
    assert!(no_tasks_stored(&data));
}

#[test]
fn jsonl_and_toml_batches_make_every_video_with_at_most_n_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = tmp.path().join("videos").join("first.mp4");
    let mut first = entry(0);
    first["out"] = Value::from(out.display().to_string());
    let jsonl = tmp.path().join("cats.jsonl");
    write_jsonl(&jsonl, &[first, entry(1), entry(2)]);
    let toml = tmp.path().join("owls.toml");
    let tables: Vec<String> = (0..3)
        .map(|n| {
            format!(
                "[[task]]\nsubject = \"owls {n}\"\nscript = {:?}\naspect = \"1:1\"\nsources = [\"generated\"]\n",
                format!("{} {}", SENTENCES[(n + 2) % 4], SENTENCES[(n + 3) % 4])
            )
        })
        .collect();
    std::fs::write(&toml, tables.join("\n")).unwrap();

    for file in [&jsonl, &toml] {
        let summary_path = tmp.path().join("summary.json");
        let (events, log) = batch_ok(&data, file, &["--max-concurrent", "2"], &summary_path);
        assert_eq!(most_in_flight(&events), 2, "{log}");
        assert!(
            events
                .iter()
                .filter(|e| e["task"].is_string())
                .all(|e| e["entry"].as_u64().is_some()),
            "every task event says its entry"
        );
        let last = events.last().unwrap();
        assert_eq!(last["event"], "batch_summary");
        let summary = read_summary(&summary_path);
        assert_eq!(summary, {
            let mut last = last.clone();
            let object = last.as_object_mut().unwrap();
            object.remove("event");
            object.remove("summary_path");
            last
        });
        assert_eq!(summary["counts"]["done"], 3, "{summary}");
        assert_eq!(summary["counts"]["failed"], 0);
        let entries = summary["entries"].as_array().unwrap();
        for e in entries {
            assert_eq!(e["state"], "done");
            let video = PathBuf::from(e["output"].as_str().unwrap());
            let probe = ffprobe(&video);
            assert_eq!((probe.width, probe.height), (1080, 1080), "{e}");
            assert_eq!((probe.video_streams, probe.audio_streams), (1, 1));
        }
        if file == &jsonl {
            assert_eq!(entries[0]["output"], out.display().to_string());
            assert_eq!(entries[0]["line"], 1);
        } else {
            let lines: Vec<&Value> = entries.iter().map(|e| &e["line"]).collect();
            assert_eq!(lines, [1, 7, 13], "the [[task]] header lines");
        }
    }
    let store = Store::open(&data).unwrap();
    let batches: BTreeSet<String> = store
        .tasks
        .list()
        .unwrap()
        .into_iter()
        .map(|t| t.spec.batch.expect("batch tasks say their batch").id)
        .collect();
    assert_eq!(batches.len(), 2, "one batch id per run: {batches:?}");
}

#[test]
fn a_task_failing_at_run_time_is_named_with_its_stage_and_the_others_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // An empty folder passes the checks (it is a folder) and fails the footage stage.
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let failing = serde_json::json!({
        "subject": "no clips",
        "script": "Fish swim in schools. They turn as one.",
        "aspect": "1:1",
        "footage_dirs": ["empty"],
    });
    let file = tmp.path().join("mixed.jsonl");
    write_jsonl(&file, &[entry(0), failing, entry(1)]);
    let summary_path = tmp.path().join("summary.json");
    let output = reelforge(&data)
        .arg("batch")
        .arg(&file)
        .arg("--summary")
        .arg(&summary_path)
        .output()
        .unwrap();
    let log = text(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    let summary = read_summary(&summary_path);
    assert_eq!(
        (
            summary["counts"]["done"].as_u64(),
            summary["counts"]["failed"].as_u64()
        ),
        (Some(2), Some(1)),
        "{summary}"
    );
    let failed = &summary["entries"][1];
    assert_eq!(failed["line"], 2);
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["failed_stage"], "footage");
    assert!(
        failed["error"].as_str().unwrap().contains("has no videos"),
        "{failed}"
    );
    // The printed table says the same, and how to go on.
    let table_row = log
        .lines()
        .find(|l| l.starts_with("2 ") && l.contains("no clips"))
        .unwrap_or_else(|| panic!("a summary row for line 2: {log}"));
    assert!(
        table_row.contains("failed") && table_row.contains("footage"),
        "{table_row}"
    );
    assert!(log.contains("--resume"), "{log}");
    assert!(
        log.contains("[line 2]"),
        "progress lines name the entry: {log}"
    );
}

#[test]
fn a_batch_killed_mid_way_is_finished_by_resume_without_redoing_finished_stages() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("twelve.jsonl");
    write_jsonl(&file, &(0..12).map(entry).collect::<Vec<_>>());
    let mut child = reelforge(&data)
        .arg("batch")
        .arg(&file)
        .args(["--max-concurrent", "4", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut done = BTreeSet::new();
    let mut finished_stage_of = BTreeSet::new();
    for line in stdout.lines() {
        let event: Value = serde_json::from_str(&line.unwrap()).expect("one JSON event a line");
        let task = event["task"].as_str().unwrap_or_default().to_string();
        match event["event"].as_str() {
            Some("task_done") => {
                done.insert(task);
            }
            Some("finished") => {
                finished_stage_of.insert(task);
            }
            _ => {}
        }
        // Three tasks done and another part-way through: kill now.
        if done.len() >= 3 && finished_stage_of.iter().any(|t| !done.contains(t)) {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // What the store says was finished when the process died.
    let (finished, done_at_kill) = {
        let store = Store::open(&data).unwrap();
        let records = store.tasks.list().unwrap();
        assert!(
            records.len() < 12,
            "the kill came before every task started"
        );
        let finished: BTreeMap<String, Vec<Stage>> = records
            .iter()
            .map(|r| {
                let stages = Stage::ALL
                    .into_iter()
                    .filter(|s| r.stage(*s).status == StageStatus::Done)
                    .collect();
                (r.id.clone(), stages)
            })
            .collect();
        let done = records
            .iter()
            .filter(|r| r.state == TaskState::Done)
            .count();
        (finished, done)
    };
    assert!(done_at_kill >= 3);

    let summary_path = tmp.path().join("summary.json");
    let (events, _) = batch_ok(&data, &file, &["--resume"], &summary_path);
    for e in events.iter().filter(|e| e["event"] == "started") {
        let task = e["task"].as_str().unwrap();
        let stage: Stage = e["stage"].as_str().unwrap().parse().unwrap();
        assert!(
            !finished.get(task).is_some_and(|s| s.contains(&stage)),
            "stage {stage} of {task} was done before the kill and ran again"
        );
    }
    let kept = events.iter().filter(|e| e["event"] == "entry_kept").count();
    assert_eq!(kept, done_at_kill, "finished tasks are kept, not redone");
    // Unfinished tasks continue as themselves, not as new tasks.
    let resumed: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["event"] == "submitted")
        .filter_map(|e| e["task"].as_str())
        .collect();
    assert_eq!(
        resumed
            .iter()
            .filter(|t| finished.contains_key(**t))
            .count(),
        finished.len() - done_at_kill,
        "every unfinished task was resumed"
    );

    let summary = read_summary(&summary_path);
    assert_eq!(summary["counts"]["done"], 12, "{summary}");
    assert_eq!(summary["resumed"], true);
    for e in summary["entries"].as_array().unwrap() {
        let video = PathBuf::from(e["output"].as_str().unwrap());
        assert_eq!(ffprobe(&video).video_streams, 1, "{e}");
    }
    let store = Store::open(&data).unwrap();
    let records = store.tasks.list().unwrap();
    assert_eq!(records.len(), 12, "one task per entry, none made twice");
    let ids: BTreeSet<String> = records
        .into_iter()
        .map(|r| r.spec.batch.unwrap().id)
        .collect();
    assert_eq!(ids.len(), 1, "the resumed run is the same batch: {ids:?}");
}
