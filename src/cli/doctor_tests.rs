//! Tests of `reelforge doctor`: report layout, fixes, PATH lookups, secrets.
use super::*;
use crate::config::Secret;

fn config_in(dir: &Path) -> Config {
    let mut cfg = Config::default();
    cfg.paths.data_dir = Some(dir.join("data"));
    cfg
}

fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check named {name}: {checks:?}"))
}

#[test]
fn report_marks_with_words_and_gives_fixes() {
    let checks = vec![
        Check::pass("ffmpeg", "ffmpeg version 6.1"),
        Check::fail(
            "espeak-ng",
            "not found on PATH",
            "apt-get install espeak-ng",
        ),
        Check::fail("LLM endpoint", "no LLM endpoint", "set [llm] base_url").advisory(),
    ];
    let report = render_report(&checks);
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines[0].starts_with("✓ ok") && lines[0].contains("ffmpeg version 6.1"));
    assert!(lines[1].starts_with("✗ missing") && lines[1].contains("espeak-ng"));
    assert!(
        lines[2]
            .trim_start()
            .starts_with("fix: apt-get install espeak-ng")
    );
    assert!(lines[3].contains("LLM endpoint (optional)"));
    // Details line up in one column.
    let col = |l: &str, text: &str| l[..l.find(text).unwrap()].chars().count();
    assert_eq!(col(lines[0], "ffmpeg version"), col(lines[1], "not found"));
    assert_eq!(col(lines[0], "ffmpeg version"), col(lines[2], "fix:"));
    assert!(report.contains("1 required check failed"), "{report}");
    assert!(report.contains("1 optional item is not set up"), "{report}");
    assert!(!all_ok(&checks));
    assert!(all_ok(&checks[..1]) && all_ok(&[checks[0].clone(), checks[2].clone()]));
    assert!(render_report(&checks[..1]).contains("All required checks passed"));
}

#[test]
fn path_without_ffmpeg_names_the_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("bin");
    std::fs::create_dir_all(&empty).unwrap();
    let checks = run_checks_with_path(&config_in(dir.path()), empty.as_os_str());
    let ffmpeg = find(&checks, "ffmpeg");
    assert!(!ffmpeg.ok && ffmpeg.required);
    assert!(
        ffmpeg
            .fix
            .as_deref()
            .unwrap()
            .contains("apt-get install ffmpeg")
    );
    assert!(
        find(&checks, "espeak-ng")
            .fix
            .as_deref()
            .unwrap()
            .contains("apt-get install espeak-ng")
    );
    assert!(find(&checks, "data folder").ok, "{checks:?}");
    let llm = find(&checks, "LLM endpoint");
    assert!(!llm.ok && !llm.required);
    assert_eq!(
        llm.detail,
        "no LLM endpoint: the local model writes the script"
    );
    assert!(!all_ok(&checks));
    assert!(render_report(&checks).contains("fix: apt-get install ffmpeg"));
}

#[cfg(unix)]
#[test]
fn fake_tools_on_path_are_found_and_parsed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = "#!/bin/sh\ncase \"$*\" in\n\
        *-filters*) echo ' ... subtitles         V->V       Render text subtitles' ;;\n\
        *) echo 'ffmpeg version 9.9-test Copyright (c) 2000 the FFmpeg developers' ;;\nesac\n";
    let ffmpeg = bin.join("ffmpeg");
    std::fs::write(&ffmpeg, script).unwrap();
    std::fs::set_permissions(&ffmpeg, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Not executable: must not count as installed.
    std::fs::write(bin.join("ffprobe"), "#!/bin/sh\n").unwrap();

    assert_eq!(find_on_path("ffmpeg", bin.as_os_str()), Some(ffmpeg));
    assert_eq!(find_on_path("ffprobe", bin.as_os_str()), None);
    let checks = run_checks_with_path(&config_in(dir.path()), bin.as_os_str());
    assert_eq!(find(&checks, "ffmpeg").detail, "ffmpeg version 9.9-test");
    assert!(find(&checks, "ffmpeg subtitles filter").ok, "{checks:?}");
    assert!(!find(&checks, "ffprobe").ok);
}

#[test]
fn api_key_is_reported_as_set_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_in(dir.path());
    cfg.llm.api_key = Secret::new("sk-doctor-secret-77");
    cfg.llm.base_url = "https://user:pw@example.com/v1".into();
    let checks = run_checks_with_path(&cfg, OsStr::new(""));
    assert_eq!(find(&checks, "LLM API key").detail, "set");
    let report = render_report(&checks);
    assert!(
        !report.contains("sk-doctor-secret-77") && !report.contains("pw@"),
        "{report}"
    );
    assert!(
        report.contains("https://<redacted>@example.com/v1"),
        "{report}"
    );
}

#[test]
fn missing_footage_folder_and_unwritable_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_in(dir.path());
    cfg.footage.local_dirs = vec![dir.path().join("my clips")];
    // A file where the data folder should be: it cannot be created.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    cfg.paths.data_dir = Some(blocker.join("data"));
    let checks = run_checks_with_path(&cfg, OsStr::new(""));
    let footage = find(&checks, "local footage");
    assert!(!footage.ok && footage.fix.as_deref().unwrap().starts_with("mkdir -p '"));
    let data = find(&checks, "data folder");
    assert!(!data.ok && data.fix.as_deref().unwrap().contains("REELFORGE_DATA_DIR"));
}

#[test]
fn clip_weights_are_checked_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_in(dir.path());
    assert!(clip_check(&cfg).is_none());
    cfg.select.clip_model = dir.path().join("clip").display().to_string();
    let check = clip_check(&cfg).unwrap();
    assert!(!check.ok, "{check:?}");
    assert!(check.detail.contains("clip"), "{check:?}");
    assert!(
        check
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("clip_model")),
        "{check:?}"
    );
}
