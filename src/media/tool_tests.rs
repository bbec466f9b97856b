use super::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[test]
fn finds_sh_and_names_the_package_for_missing_tools() {
    assert!(find_tool("sh").unwrap().is_absolute());
    match find_tool("ffprobe-that-does-not-exist") {
        Err(MediaError::ToolMissing { tool, hint }) => {
            assert_eq!(tool, "ffprobe-that-does-not-exist");
            assert!(hint.contains("apt-get install"));
        }
        other => panic!("expected ToolMissing, got {other:?}"),
    }
    let MediaError::ToolMissing { hint, .. } = missing("ffprobe") else {
        panic!("missing() must build ToolMissing");
    };
    assert_eq!(hint, "install it with: apt-get install ffmpeg");
}

#[test]
fn parses_progress_lines() {
    assert_eq!(parse_progress_time("out_time_us=2500000"), Some(2.5));
    assert_eq!(parse_progress_time("out_time_ms=1000000"), Some(1.0));
    assert_eq!(parse_progress_time("out_time_us=N/A"), None);
    assert_eq!(parse_progress_time("out_time_us=-5"), None);
    assert_eq!(parse_progress_time("frame=12"), None);
}

#[test]
fn prefix_skips_flags_already_given() {
    let prefix = ffmpeg_prefix(&["-loglevel".into(), "info".into()]);
    assert!(!prefix.iter().any(|a| a == "-loglevel"));
    assert!(prefix.iter().any(|a| a == "-progress"));
}

#[tokio::test]
async fn output_on_success_and_stderr_tail_on_failure() {
    let mut ok = Command::new("sh");
    ok.arg("-c").arg("printf hello");
    let out = run_tool(&mut ok, "sh", &CancellationToken::new()).await;
    assert_eq!(out.unwrap().stdout, b"hello");

    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("for i in $(seq 1 40); do echo line$i >&2; echo >&2; done; exit 3");
    let err = run_tool(&mut cmd, "sh", &CancellationToken::new())
        .await
        .unwrap_err();
    let MediaError::Failed {
        status,
        stderr_tail,
        ..
    } = err
    else {
        panic!("expected Failed, got {err:?}");
    };
    assert_eq!(status, "exit code 3");
    let lines: Vec<&str> = stderr_tail.lines().collect();
    assert_eq!(lines.len(), TAIL_LINES);
    assert_eq!(lines.first(), Some(&"line26"));
    assert_eq!(lines.last(), Some(&"line40"));
}

#[tokio::test]
async fn cancel_kills_the_child_quickly() {
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let mut cmd = Command::new("sleep");
    cmd.arg("30");
    let err = run_tool(&mut cmd, "sleep", &cancel).await.unwrap_err();
    assert!(matches!(err, MediaError::Cancelled), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn ffmpeg_progress_reports_time_and_errors_keep_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.nut");
    let seen = Mutex::new(Vec::new());
    let args: Vec<OsString> = [
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=64x64:r=10:d=1",
        "-f",
        "nut",
    ]
    .iter()
    .map(OsString::from)
    .chain([out.clone().into_os_string()])
    .collect();
    run_ffmpeg_with_progress(&args, &CancellationToken::new(), &|p| {
        seen.lock().unwrap().push(p)
    })
    .await
    .unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(seen.iter().any(|p| p.out_secs > 0.5), "progress: {seen:?}");
    assert!(
        seen.iter().any(|p| p.speed.is_some_and(|s| s > 0.0)),
        "{seen:?}"
    );
    assert!(out.metadata().unwrap().len() > 0);

    let bad: Vec<OsString> = ["-i", "/nonexistent/input.mp4", "-f", "null", "-"]
        .iter()
        .map(OsString::from)
        .collect();
    let err = run_ffmpeg_with_progress(&bad, &CancellationToken::new(), &|_| {})
        .await
        .unwrap_err();
    let MediaError::Failed { stderr_tail, .. } = err else {
        panic!("expected Failed, got {err:?}");
    };
    assert!(
        stderr_tail.contains("/nonexistent/input.mp4"),
        "{stderr_tail}"
    );
}
