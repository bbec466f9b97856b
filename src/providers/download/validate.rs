//! Checks a finished `*.part` file before it may take its final name: not an HTML page,
//! readable by ffprobe with a video stream, long enough, and (for videos) a decodable end.
//!
//! The tail decode is what catches a truncated "faststart" MP4: its index (moov) sits at the
//! front and describes the whole clip, so ffprobe is satisfied even when the end is missing;
//! decoding the last second reads exactly the samples that are gone.

use crate::media::MediaError;
use crate::media::probe::{MediaInfo, probe};
use crate::media::tool::{find_tool, run_tool};
use crate::providers::footage::MediaKind;
use std::path::Path;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// Shorter "videos" are thumbnails or broken encodes; a cut needs more than a blink.
const MIN_VIDEO_SECS: f64 = 0.5;

/// How much of the file's start is sniffed for an HTML page.
const SNIFF_BYTES: usize = 512;

/// Why a file is not kept.
#[derive(Debug)]
pub(super) enum Invalid {
    /// The file is unusable: another candidate is taken.
    Rejected(String),
    /// Validation could not run (ffprobe missing, unreadable disk): no candidate will do better.
    Local(String),
    Cancelled,
}

/// True when `head` (the first bytes of a body) starts like an HTML page: `<!doctype` or
/// `<html`, any case, after optional whitespace (and a UTF-8 byte-order mark).
pub(super) fn looks_like_html(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = &head[start..];
    [&b"<!doctype"[..], b"<html"]
        .iter()
        .any(|tag| head.len() >= tag.len() && head[..tag.len()].eq_ignore_ascii_case(tag))
}

/// Validates `path` as a clip of `kind`; returns what ffprobe found.
pub(super) async fn validate(
    path: &Path,
    kind: MediaKind,
    cancel: &CancellationToken,
) -> Result<MediaInfo, Invalid> {
    if looks_like_html(&read_head(path).await?) {
        return Err(Invalid::Rejected("an HTML page, not a video".into()));
    }
    let info = probe(path, cancel).await.map_err(media_error)?;
    if !info.has_video {
        return Err(Invalid::Rejected("no video stream".into()));
    }
    if kind == MediaKind::Video {
        if info.is_still {
            return Err(Invalid::Rejected("a still image, not a video".into()));
        }
        let secs = info.duration.unwrap_or(0.0);
        if secs < MIN_VIDEO_SECS {
            return Err(Invalid::Rejected(format!(
                "only {secs:.2} s long (under {MIN_VIDEO_SECS} s)"
            )));
        }
        decode_tail(path, cancel).await?;
    }
    Ok(info)
}

/// Probes a file already stored under its final name (validated when it was stored) whose
/// cache record is missing.
pub(super) async fn probe_stored(
    path: &Path,
    cancel: &CancellationToken,
) -> Result<MediaInfo, Invalid> {
    probe(path, cancel).await.map_err(media_error)
}

async fn read_head(path: &Path) -> Result<Vec<u8>, Invalid> {
    let local = |e: std::io::Error| Invalid::Local(format!("cannot read {}: {e}", path.display()));
    let file = tokio::fs::File::open(path).await.map_err(local)?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    file.take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .await
        .map_err(local)?;
    Ok(head)
}

/// Decodes the last second; any error (or a failed run) means the end of the file is damaged.
async fn decode_tail(path: &Path, cancel: &CancellationToken) -> Result<(), Invalid> {
    let ffmpeg = find_tool("ffmpeg").map_err(media_error)?;
    let mut cmd = Command::new(ffmpeg);
    cmd.args(["-nostdin", "-v", "error", "-xerror", "-sseof", "-1", "-i"])
        .arg(path)
        .args(["-f", "null", "-"]);
    let output = run_tool(&mut cmd, "ffmpeg", cancel)
        .await
        .map_err(|e| match e {
            MediaError::Failed { stderr_tail, .. } => damaged(&stderr_tail),
            other => media_error(other),
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.trim().is_empty() {
        Ok(())
    } else {
        Err(damaged(&stderr))
    }
}

fn damaged(stderr: &str) -> Invalid {
    // ffmpeg prefixes lines with the file path; the last line says what went wrong.
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    let what = last.map_or("decoding failed", |l| l.rsplit(": ").next().unwrap_or(l));
    Invalid::Rejected(format!("truncated or damaged at the end ({})", what.trim()))
}

fn media_error(e: MediaError) -> Invalid {
    match e {
        MediaError::Unreadable { message, .. } => {
            let first = message.lines().rev().find(|l| !l.trim().is_empty());
            let why = first.map_or("unknown format", |l| l.rsplit(": ").next().unwrap_or(l));
            Invalid::Rejected(format!("not a readable video or image ({})", why.trim()))
        }
        MediaError::Failed { stderr_tail, .. } => damaged(&stderr_tail),
        MediaError::Cancelled => Invalid::Cancelled,
        other @ (MediaError::ToolMissing { .. } | MediaError::Io { .. }) => {
            Invalid::Local(other.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_sniffed_case_insensitively_after_whitespace() {
        assert!(looks_like_html(b"<!DOCTYPE html><html>"));
        assert!(looks_like_html(b"\r\n  <HTML lang=en>"));
        assert!(looks_like_html(b"\xEF\xBB\xBF<!doctype html>"));
        assert!(!looks_like_html(b"\x00\x00\x00\x20ftypisom"));
        assert!(!looks_like_html(b"<ht"));
        assert!(!looks_like_html(b""));
    }
}
