//! The filter graph and ffmpeg arguments of a [`RenderPlan`].

use super::RenderPlan;
use crate::fsutil::part_path;
use crate::media::ClipSource;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Seconds as ffmpeg reads them; millisecond precision is finer than any frame.
fn secs(value: f64) -> String {
    format!("{:.3}", value.max(0.0))
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
/// `/a\\:b` and `/it's` is written `/it\\\'s`.
pub fn escape_filter_path(path: &Path) -> String {
    let option_level = escape_level(&path.to_string_lossy(), "':");
    escape_level(&option_level, "'[],;")
}

/// The ffmpeg arguments (without the global flags `run_ffmpeg_with_progress` adds) and the
/// filter graph text that belongs in `graph_path`.
pub fn build_args(plan: &RenderPlan, graph_path: &Path) -> (Vec<OsString>, String) {
    let (w, h, fps) = (plan.width, plan.height, plan.fps.max(1));
    let mut args: Vec<OsString> = vec!["-y".into()];
    let mut graph = String::new();

    for (i, segment) in plan.segments.iter().enumerate() {
        let dur = secs(segment.duration);
        match &segment.source {
            ClipSource::Video(path) => {
                push(
                    &mut args,
                    &["-ss", &secs(segment.start_in), "-t", &dur, "-i"],
                );
                args.push(path.into());
            }
            ClipSource::Image(path) => {
                push(
                    &mut args,
                    &[
                        "-loop",
                        "1",
                        "-framerate",
                        &fps.to_string(),
                        "-t",
                        &dur,
                        "-i",
                    ],
                );
                args.push(path.into());
            }
            ClipSource::Lavfi(spec) => {
                push(&mut args, &["-f", "lavfi", "-t", &dur, "-i", spec]);
            }
        }
        // Cover the frame (crop, never letterbox). tpad clones the last frame when a clip
        // is shorter than its cut, so every cut lasts exactly its duration and the picture
        // never ends before the narration.
        let _ = writeln!(
            graph,
            "[{i}:v]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1,\
             fps={fps},format=yuv420p,tpad=stop_mode=clone:stop_duration={dur},\
             trim=duration={dur},setpts=PTS-STARTPTS[v{i}];"
        );
    }
    let narration_index = plan.segments.len();
    args.push("-i".into());
    args.push(plan.narration.clone().into());

    for i in 0..plan.segments.len() {
        let _ = write!(graph, "[v{i}]");
    }
    let n = plan.segments.len();
    match &plan.subtitles {
        Some(ass) => {
            let _ = writeln!(graph, "concat=n={n}:v=1:a=0[cat];");
            let _ = writeln!(graph, "[cat]ass=filename={}[v];", escape_filter_path(ass));
        }
        None => {
            let _ = writeln!(graph, "concat=n={n}:v=1:a=0[v];");
        }
    }
    // apad: a narration shorter than the picture is followed by silence, not by an audio
    // stream that stops early (`-t` below ends both together).
    let _ = writeln!(
        graph,
        "[{narration_index}:a]aresample=48000,aformat=sample_fmts=fltp:sample_rates=48000:\
         channel_layouts=stereo,apad[a]"
    );

    args.push("-filter_complex_script".into());
    args.push(graph_path.into());
    let enc = &plan.encoder;
    let quality = if enc.codec.contains("nvenc") {
        "-cq"
    } else {
        "-crf"
    };
    push(&mut args, &["-map", "[v]", "-map", "[a]"]);
    push(
        &mut args,
        &[
            "-c:v",
            &enc.codec,
            "-preset",
            &enc.preset,
            quality,
            &enc.crf.to_string(),
        ],
    );
    push(&mut args, &["-pix_fmt", "yuv420p", "-r", &fps.to_string()]);
    push(
        &mut args,
        &["-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-ac", "2"],
    );
    push(
        &mut args,
        &[
            "-movflags",
            "+faststart",
            "-t",
            &secs(plan.total_duration()),
        ],
    );
    push(&mut args, &["-f", "mp4"]);
    args.push(part_path(&plan.out).into());
    (args, graph)
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
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
mod tests {
    use super::*;
    use crate::media::render::{EncoderSettings, Fill, Segment, Transition, command_line};

    fn plan(subtitles: Option<&str>) -> RenderPlan {
        RenderPlan {
            width: 270,
            height: 480,
            fps: 30,
            segments: vec![
                Segment {
                    source: ClipSource::Video("/clips/a.mp4".into()),
                    start_in: 1.25,
                    duration: 2.0,
                    speed: 1.0,
                    transition: Transition::None,
                },
                Segment {
                    source: ClipSource::Image("/clips/b.png".into()),
                    start_in: 0.0,
                    duration: 1.5,
                    speed: 1.0,
                    transition: Transition::None,
                },
                Segment {
                    source: ClipSource::Lavfi("color=c=black:s=270x480".into()),
                    start_in: 0.0,
                    duration: 0.75,
                    speed: 1.0,
                    transition: Transition::None,
                },
            ],
            transition_secs: 0.5,
            fill: Fill::Crop,
            narration: "/task/voice.wav".into(),
            music: None,
            loudness_lufs: None,
            subtitles: subtitles.map(PathBuf::from),
            soft_subtitles: None,
            encoder: EncoderSettings {
                codec: "libx264".into(),
                preset: "veryfast".into(),
                crf: 23,
            },
            out: "/task/final.mp4".into(),
        }
    }

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn inputs_outputs_and_graph() {
        let (args, graph) = build_args(&plan(Some("/task/subs.ass")), Path::new("/task/g"));
        let joined = strings(&args).join(" ");
        assert!(
            joined.contains("-ss 1.250 -t 2.000 -i /clips/a.mp4"),
            "{joined}"
        );
        assert!(joined.contains("-loop 1 -framerate 30 -t 1.500 -i /clips/b.png"));
        assert!(joined.contains("-f lavfi -t 0.750 -i color=c=black:s=270x480"));
        assert!(joined.contains("-i /task/voice.wav -filter_complex_script /task/g"));
        assert!(joined.contains("-c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p"));
        assert!(joined.contains("-c:a aac -b:a 160k"));
        assert!(joined.ends_with("-movflags +faststart -t 4.250 -f mp4 /task/final.mp4.part"));
        for i in 0..3 {
            assert!(graph.contains(&format!(
                "[{i}:v]scale=270:480:force_original_aspect_ratio=increase,crop=270:480,setsar=1"
            )));
        }
        assert!(
            graph.contains("[v0][v1][v2]concat=n=3:v=1:a=0[cat];"),
            "{graph}"
        );
        assert!(graph.contains("[cat]ass=filename=/task/subs.ass[v];"));
        assert!(graph.contains("[3:a]aresample=48000"));
        assert!(graph.contains("trim=duration=0.750,setpts=PTS-STARTPTS[v2];"));
    }

    #[test]
    fn no_subtitles_means_concat_is_the_output() {
        let (_, graph) = build_args(&plan(None), Path::new("g"));
        assert!(graph.contains("concat=n=3:v=1:a=0[v];"));
        assert!(!graph.contains("ass="));
    }

    #[test]
    fn nvenc_gets_cq() {
        let mut p = plan(None);
        p.encoder.codec = "h264_nvenc".into();
        let joined = strings(&build_args(&p, Path::new("g")).0).join(" ");
        assert!(
            joined.contains("-c:v h264_nvenc -preset veryfast -cq 23"),
            "{joined}"
        );
    }

    #[test]
    fn filter_paths_are_escaped_twice() {
        assert_eq!(escape_filter_path(Path::new("/a/b.ass")), "/a/b.ass");
        assert_eq!(escape_filter_path(Path::new("/a:b")), r"/a\\:b");
        assert_eq!(escape_filter_path(Path::new("/it's")), r"/it\\\'s");
        assert_eq!(escape_filter_path(Path::new("/x[1],y;")), r"/x\[1\]\,y\;");
        assert_eq!(escape_filter_path(Path::new(r"C\d")), r"C\\\\d");
    }

    #[test]
    fn graph_file_and_command_line() {
        let out = Path::new("/t/final.mp4");
        assert_eq!(graph_path(out), Path::new("/t/final.mp4.filtergraph"));
        let line = command_line(&["-i".into(), "/a b/it's.mp4".into()]);
        assert_eq!(line, r"ffmpeg -i '/a b/it'\''s.mp4'");
    }
}
