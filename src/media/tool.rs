//! Running external tools (ffmpeg, ffprobe, espeak-ng): PATH lookup with an install hint,
//! cancellation that really kills the child, and errors that keep the tool's stderr tail.

use super::MediaError;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// How many non-empty stderr lines an error keeps: enough for ffmpeg's "which input, which
/// filter, why", short enough to show in a status line.
const TAIL_LINES: usize = 15;

/// Finds `name` on PATH (or checks it directly when it contains a slash).
pub fn find_tool(name: &str) -> Result<PathBuf, MediaError> {
    let direct = Path::new(name);
    if direct.components().count() > 1 {
        return if is_executable(direct) {
            Ok(direct.to_path_buf())
        } else {
            Err(missing(name))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| missing(name))
}

fn missing(name: &str) -> MediaError {
    let tool = Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string());
    // ffprobe ships in the ffmpeg package; everything else we call is its own package.
    let package = match tool.as_str() {
        "ffprobe" | "ffplay" => "ffmpeg",
        other => other,
    };
    MediaError::ToolMissing {
        tool: tool.clone(),
        hint: format!("install it with: apt-get install {package}"),
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs `cmd` to completion, collecting stdout and stderr. Cancelling kills the child and
/// waits for it, so no orphan keeps writing after `Cancelled` is returned.
pub async fn run_tool(
    cmd: &mut Command,
    tool: &str,
    cancel: &CancellationToken,
) -> Result<Output, MediaError> {
    if cancel.is_cancelled() {
        return Err(MediaError::Cancelled);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = spawn(cmd, tool)?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let finished = tokio::select! {
        _ = cancel.cancelled() => None,
        // Both pipes are drained while waiting: a tool that fills a pipe buffer would
        // otherwise block forever.
        result = async {
            tokio::join!(read_all(stdout), read_all(stderr), child.wait())
        } => Some(result),
    };
    let Some((out, err, status)) = finished else {
        kill(&mut child).await;
        return Err(MediaError::Cancelled);
    };
    let status = status.map_err(|source| MediaError::Io {
        context: format!("waiting for {tool}"),
        source,
    })?;
    let stderr = err.unwrap_or_default();
    if !status.success() {
        let text = String::from_utf8_lossy(&stderr);
        return Err(failed(tool, status, tail_of(text.lines())));
    }
    Ok(Output {
        status,
        stdout: out.unwrap_or_default(),
        stderr,
    })
}

/// One `-progress` report of ffmpeg.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FfmpegProgress {
    /// Seconds of output written.
    pub out_secs: f64,
    /// Frames encoded per second.
    pub fps: Option<f64>,
    /// Output seconds per wall-clock second.
    pub speed: Option<f64>,
}

/// Runs ffmpeg with machine-readable progress on stdout, calling `on_time` with the output
/// position, encoding fps and speed as it advances. stderr is read at the same time (ffmpeg stalls if it
/// is not) and its last lines become the error message.
pub async fn run_ffmpeg_with_progress(
    args: &[OsString],
    cancel: &CancellationToken,
    on_time: &(dyn Fn(FfmpegProgress) + Send + Sync),
) -> Result<(), MediaError> {
    if cancel.is_cancelled() {
        return Err(MediaError::Cancelled);
    }
    let ffmpeg = find_tool("ffmpeg")?;
    let mut cmd = Command::new(ffmpeg);
    cmd.args(ffmpeg_prefix(args))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = spawn(&mut cmd, "ffmpeg")?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let progress = async {
        let Some(stdout) = stdout else { return };
        // Bytes, not lines(): a decoding error would stop the reading, and ffmpeg would
        // then block on a full pipe.
        let mut lines = BufReader::new(stdout).split(b'\n');
        // A block is `key=value` lines ending with `progress=…`; it repeats the time
        // (out_time_us and out_time_ms): report a block once, and only forwards.
        let mut last = -1.0;
        let mut block = FfmpegProgress::default();
        while let Ok(Some(raw)) = lines.next_segment().await {
            let line = String::from_utf8_lossy(&raw);
            if let Some(seconds) = parse_progress_time(&line) {
                block.out_secs = seconds;
            } else if let Some(fps) = line.trim().strip_prefix("fps=") {
                block.fps = fps.parse().ok().filter(|f: &f64| *f > 0.0);
            } else if let Some(speed) = line.trim().strip_prefix("speed=") {
                block.speed = speed.trim_end_matches('x').trim().parse().ok();
            } else if line.starts_with("progress=") && block.out_secs > last {
                last = block.out_secs;
                on_time(block);
            }
        }
    };
    let errors = async {
        let mut ring = VecDeque::with_capacity(TAIL_LINES);
        let Some(stderr) = stderr else { return ring };
        // Non-UTF-8 file names in messages are shown lossily rather than ending the read.
        let mut reader = BufReader::new(stderr).split(b'\n');
        while let Ok(Some(raw)) = reader.next_segment().await {
            let line = String::from_utf8_lossy(&raw).trim_end().to_string();
            if line.is_empty() {
                continue;
            }
            if ring.len() == TAIL_LINES {
                ring.pop_front();
            }
            ring.push_back(line);
        }
        ring
    };

    let finished = tokio::select! {
        _ = cancel.cancelled() => None,
        (_, ring, status) = async { tokio::join!(progress, errors, child.wait()) } => {
            Some((ring, status))
        }
    };
    let Some((ring, status)) = finished else {
        kill(&mut child).await;
        return Err(MediaError::Cancelled);
    };
    let status = status.map_err(|source| MediaError::Io {
        context: "waiting for ffmpeg".into(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(
            "ffmpeg",
            status,
            ring.into_iter().collect::<Vec<_>>().join("\n"),
        ))
    }
}

/// The global options every progress run needs, minus those the caller already gave.
fn ffmpeg_prefix(args: &[OsString]) -> Vec<OsString> {
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let mut prefix: Vec<OsString> = Vec::new();
    for flag in ["-nostdin", "-hide_banner", "-nostats"] {
        if !has(flag) {
            prefix.push(flag.into());
        }
    }
    if !has("-loglevel") && !has("-v") {
        prefix.extend(["-loglevel".into(), "error".into()]);
    }
    if !has("-progress") {
        prefix.extend(["-progress".into(), "pipe:1".into()]);
    }
    prefix
}

/// `out_time_us=1234567` → 1.234567. `out_time_ms` is also in microseconds (a long-standing
/// ffmpeg quirk), and early lines may say `N/A` or be negative.
fn parse_progress_time(line: &str) -> Option<f64> {
    let value = line
        .strip_prefix("out_time_us=")
        .or_else(|| line.strip_prefix("out_time_ms="))?;
    let micros: i64 = value.trim().parse().ok()?;
    (micros >= 0).then(|| micros as f64 / 1_000_000.0)
}

fn spawn(cmd: &mut Command, tool: &str) -> Result<Child, MediaError> {
    cmd.spawn().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            missing(tool)
        } else {
            MediaError::Io {
                context: format!("starting {tool}"),
                source,
            }
        }
    })
}

async fn kill(child: &mut Child) {
    // start_kill + wait reaps the process; an error means it already exited.
    let _ = child.start_kill();
    let _ = child.wait().await;
}

async fn read_all<R: AsyncRead + Unpin>(reader: Option<R>) -> Option<Vec<u8>> {
    let mut reader = reader?;
    let mut buf = Vec::new();
    reader.read_to_end(&mut buf).await.ok()?;
    Some(buf)
}

fn failed(tool: &str, status: ExitStatus, stderr_tail: String) -> MediaError {
    MediaError::Failed {
        tool: tool.to_string(),
        status: describe_status(status),
        stderr_tail,
    }
}

fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

/// The last `TAIL_LINES` non-empty lines, in order.
fn tail_of<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let kept: Vec<&str> = lines.map(str::trim_end).filter(|l| !l.is_empty()).collect();
    kept[kept.len().saturating_sub(TAIL_LINES)..].join("\n")
}

#[cfg(test)]
#[path = "tool_tests.rs"]
mod tests;
