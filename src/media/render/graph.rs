//! The ffmpeg arguments and filter graph of a [`RenderPlan`]: one invocation, one encode.
//!
//! Inputs, in order: one per cut that owns a frame (a window of a video file, a still, a lavfi
//! source), the narration, the music (looped) and the SRT of the soft subtitle track. The
//! graph: each cut's chain (`video`), the joins with transitions (`transition`), the burned-in
//! ASS subtitles on the joined picture, and the sound (`audio`). Only file paths ever go into
//! the graph text, each through [`escape_filter_path`]; subtitle text lives in the ASS file.

use super::timeline::{self, frame_secs};
use super::video::{self, Frame};
use super::{RenderPlan, audio, transition};
use crate::fsutil::part_path;
use crate::media::{ClipSource, encoder};
use std::ffi::OsString;
// `let _ = write!(graph, …)`: writing to a String cannot fail.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Seconds as ffmpeg reads them on the command line; microseconds, trailing zeros dropped.
fn secs(value: f64) -> String {
    timeline::decimal(value.max(0.0), 6)
}

/// Escapes a value for one level of ffmpeg's filter syntax: each char in `special` and the
/// backslash get a backslash in front.
fn escape_level(value: &str, special: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if c == '\\' || special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A file path as a filter option value inside a filter graph. Two levels, innermost first:
/// the filter's option parser splits on `:` and unquotes `'` and `\`; the graph parser,
/// which sees the text first, splits on `[],;` and also unquotes. So `/a:b` is written
/// `/a\\:b` and `/it's` is written `/it\\\'s`. `%` is not special to either level.
pub fn escape_filter_path(path: &Path) -> String {
    let option_level = escape_level(&path.to_string_lossy(), "':");
    escape_level(&option_level, "'[],;")
}

/// A path as an ffmpeg input or output argument. ffmpeg reads `name:` at the start of a URL
/// as a protocol, so a relative path whose first part has a colon gets `./` in front.
fn file_arg(path: &Path) -> OsString {
    let text = path.to_string_lossy();
    let first = text.split('/').next().unwrap_or_default();
    if path.is_relative() && first.contains(':') {
        Path::new(".").join(path).into()
    } else {
        path.into()
    }
}

/// An image whose name ffmpeg's image2 reader would take for a numbered sequence
/// (`shot%03d.jpg`); it is then read as one file by name. Only for image extensions: the
/// `-f image2` this needs would not read a still stored as a one-frame video.
fn is_pattern_like(path: &Path) -> bool {
    const IMAGE2: [&str; 8] = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"];
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    name.contains('%') && ext.is_some_and(|e| IMAGE2.contains(&e.as_str()))
}

/// Checks what `build_args` relies on beyond the basics `render` checks itself: finite
/// numbers in their documented ranges, and at least one frame of picture.
pub(super) fn validate(plan: &RenderPlan) -> Result<(), String> {
    if !(1..=240).contains(&plan.fps) {
        return Err(format!("bad frame rate {}", plan.fps));
    }
    for (i, s) in plan.segments.iter().enumerate() {
        if !(s.duration.is_finite() && s.duration >= 0.0) {
            return Err(format!("segment {i}: bad duration {}", s.duration));
        }
        if !(s.start_in.is_finite() && s.start_in >= 0.0) {
            return Err(format!("segment {i}: bad start {}", s.start_in));
        }
        if !(s.speed.is_finite() && (0.5 - 1e-9..=2.0 + 1e-9).contains(&s.speed)) {
            return Err(format!("segment {i}: speed {} is not in 0.5–2.0", s.speed));
        }
    }
    if !(plan.transition_secs.is_finite() && plan.transition_secs >= 0.0) {
        return Err(format!("bad transition length {}", plan.transition_secs));
    }
    if timeline::total_frames(plan) == 0 {
        return Err("the render plan is shorter than one frame".into());
    }
    if let Some(m) = &plan.music {
        if !(m.volume.is_finite() && (0.0..=1.0).contains(&m.volume)) {
            return Err(format!("music volume {} is not in 0–1", m.volume));
        }
        let fade_ok = |secs: f64| secs.is_finite() && secs >= 0.0;
        if !(fade_ok(m.fade_in) && fade_ok(m.fade_out)) {
            return Err(format!("bad music fades {} / {}", m.fade_in, m.fade_out));
        }
    }
    if let Some(lufs) = plan.loudness_lufs {
        // loudnorm's own range for I.
        if !(lufs.is_finite() && (-70.0..=-5.0).contains(&lufs)) {
            return Err(format!("loudness {lufs} LUFS is not in -70 to -5"));
        }
    }
    Ok(())
}

/// The ffmpeg arguments (without the global flags `run_ffmpeg_with_progress` adds) and the
/// filter graph text that belongs in `graph_path`.
pub fn build_args(plan: &RenderPlan, graph_path: &Path) -> (Vec<OsString>, String) {
    let fps = plan.fps.max(1);
    let frame = Frame {
        width: plan.width,
        height: plan.height,
        fps,
        fill: plan.fill,
    };
    let cuts = timeline::layout(plan);
    let frames: u64 = cuts.iter().map(|c| c.frames).sum();
    let mut args: Vec<OsString> = vec!["-y".into()];
    // A hardware encoder's device comes before the inputs (VAAPI's `-vaapi_device`).
    args.extend(
        encoder::device_args(&plan.encoder.codec)
            .into_iter()
            .map(OsString::from),
    );
    let mut graph = String::new();

    for (i, cut) in cuts.iter().enumerate() {
        let (start, length) = cut.source_window(fps);
        match &cut.segment.source {
            ClipSource::Video(path) => {
                // Looped: should the source run out after all, it restarts rather than
                // freezing on its last frame or ending the cut early (which would shift every
                // later cut against the narration).
                push(
                    &mut args,
                    &[
                        "-stream_loop",
                        "-1",
                        "-ss",
                        &secs(start),
                        "-t",
                        &secs(length),
                    ],
                );
                push_path(&mut args, path);
            }
            // One picture; zoompan makes the frames.
            ClipSource::Image(path) => {
                if is_pattern_like(path) {
                    push(&mut args, &["-f", "image2", "-pattern_type", "none"]);
                }
                push_path(&mut args, path);
            }
            ClipSource::Lavfi(spec) => {
                push(&mut args, &["-f", "lavfi", "-t", &secs(length), "-i", spec]);
            }
        }
        video::write_cut(&mut graph, frame, i, cut);
    }
    let joined = transition::write_joins(&mut graph, &cuts, fps);
    let video_out = match &plan.subtitles {
        Some(ass) => {
            // On the joined picture, so text stays put through transitions.
            let mut filter = format!("ass=filename={}", escape_filter_path(ass));
            if let Some(dir) = &plan.subtitles_fonts_dir {
                let _ = write!(filter, ":fontsdir={}", escape_filter_path(dir));
            }
            let _ = writeln!(graph, "[{joined}]{filter}[v];");
            "v".to_string()
        }
        None => joined,
    };
    // VAAPI encodes frames in GPU memory: the picture is uploaded as the graph's last step.
    let video_out = match encoder::needs_hw_upload(&plan.encoder.codec) {
        Some(upload) => {
            let _ = writeln!(graph, "[{video_out}]{upload}[vhw];");
            "vhw".to_string()
        }
        None => video_out,
    };

    let narration = cuts.len();
    push_path(&mut args, &plan.narration);
    let music = plan.music.as_ref().map(|m| {
        push(&mut args, &["-stream_loop", "-1"]);
        push_path(&mut args, &m.path);
        narration + 1
    });
    let samples = frames * u64::from(audio::SAMPLE_RATE) / u64::from(fps);
    let audio_out = audio::write_audio(&mut graph, plan, narration, music, samples);
    let soft = plan.soft_subtitles.as_ref().map(|srt| {
        push_path(&mut args, srt);
        narration + 1 + usize::from(music.is_some())
    });
    // The graph file ends with its last statement, not with a dangling separator.
    let trimmed = graph.trim_end().trim_end_matches(';').len();
    graph.truncate(trimmed);
    graph.push('\n');

    args.push("-filter_complex_script".into());
    args.push(graph_path.into());
    push(
        &mut args,
        &[
            "-map",
            &format!("[{video_out}]"),
            "-map",
            &format!("[{audio_out}]"),
        ],
    );
    if let Some(input) = soft {
        push(
            &mut args,
            &[
                "-map",
                &format!("{input}:s:0"),
                "-c:s",
                "mov_text",
                "-metadata:s:s:0",
                "language=und",
            ],
        );
    }
    // The codec, its preset and quality flags and its pixel format.
    args.extend(
        encoder::encoder_args(&plan.encoder)
            .into_iter()
            .map(OsString::from),
    );
    push(&mut args, &["-r", &fps.to_string()]);
    push(
        &mut args,
        &["-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-ac", "2"],
    );
    push(
        &mut args,
        &["-movflags", "+faststart", "-t", &frame_secs(frames, fps)],
    );
    push(&mut args, &["-f", "mp4"]);
    args.push(file_arg(&part_path(&plan.out)));
    (args, graph)
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

fn push_path(args: &mut Vec<OsString>, path: &Path) {
    args.push("-i".into());
    args.push(file_arg(path));
}

/// `<out>.filtergraph`, kept beside the output so a failed render can be rerun by hand.
pub fn graph_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".filtergraph");
    out.with_file_name(name)
}

#[cfg(test)]
#[path = "graph_tests.rs"]
mod tests;
