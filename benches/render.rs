//! Render speed: reelforge's single-pass render against the anchor's three-encode pipeline
//! (every cut encoded to a temp file, the temp files concatenated with a re-encode, then a
//! third encode that burns the subtitles and mixes the sound) and against a bare encode (the
//! floor: the same footage scaled to the frame and encoded once, nothing else).
//!
//! All three read the same inputs, generated once in a temp dir (not timed): a 60 s narration
//! (speech-like tone bursts with pauses, 48 kHz), 60 s of music, 12 clips of 1920×1080 footage
//! at 30 fps (8 s each, lavfi test patterns encoded with libx264 ultrafast) and an ASS script
//! of 12 cues for a 1080×1920 frame. All three write 1080×1920, 30 fps, libx264 `veryfast`
//! crf 23, AAC 160k. reelforge and the pipeline make the same video: 12 cuts of 5 s, burned
//! subtitles, music at 0.2 faded and ducked under the voice, loudness normalised to −14 LUFS.
//!
//! Prints the seconds of each, three-encode ÷ reelforge (target ≥ 2.5×), reelforge ÷ bare
//! (target ≤ 1.2×) and each output's duration; asserts only that the outputs exist, have the
//! frame size and last as long as the narration (±0.2 s).
//!
//! Run with `cargo bench --bench render`. Without `--bench` (as `cargo test --all-targets`
//! runs it) everything is tiny (270×480, 3 clips of 2 s, 6 s of narration) and all three
//! contenders still run. `REELFORGE_BENCH_TRANSITION=none` renders reelforge's cuts without
//! the 0.5 s fade (the pipeline never has one).

#[path = "../tests/support/render.rs"]
mod render_support;

use reelforge::config::SubtitleConfig;
use reelforge::media::ClipSource;
use reelforge::media::render::{
    EncoderSettings, Fill, MusicPlan, RenderPlan, Segment, Transition, escape_filter_path, render,
};
use reelforge::media::subtitle::{AssStyle, Cue, to_ass};
use render_support::{encode_footage, ffprobe, format_duration, streams_of};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

const FPS: u32 = 30;
const PRESET: &str = "veryfast";
const CRF: u32 = 23;
const AUDIO_BITRATE: &str = "160k";
const SAMPLE_RATE: u32 = 48_000;
const TRANSITION_SECS: f64 = 0.5;
const MUSIC_VOLUME: f64 = 0.2;
const MUSIC_FADE_IN: f64 = 1.0;
const MUSIC_FADE_OUT: f64 = 3.0;
const LUFS: f64 = -14.0;
/// Largest allowed difference between an output's duration and the narration's.
const DURATION_TOLERANCE: f64 = 0.2;

/// The sizes of one run.
#[derive(Clone, Copy)]
struct Scale {
    /// Output frame.
    width: u32,
    height: u32,
    /// Footage frame.
    src_width: u32,
    src_height: u32,
    clips: usize,
    clip_secs: f64,
    /// Each cut's length on the output; `clips × cut_secs` is the narration's length.
    cut_secs: f64,
    /// Where each cut starts in its clip.
    start_in: f64,
}

impl Scale {
    fn total(&self) -> f64 {
        self.clips as f64 * self.cut_secs
    }
}

const FULL: Scale = Scale {
    width: 1080,
    height: 1920,
    src_width: 1920,
    src_height: 1080,
    clips: 12,
    clip_secs: 8.0,
    cut_secs: 5.0,
    start_in: 1.5,
};

const TINY: Scale = Scale {
    width: 270,
    height: 480,
    src_width: 480,
    src_height: 270,
    clips: 3,
    clip_secs: 3.0,
    cut_secs: 2.0,
    start_in: 0.5,
};

/// The generated inputs every contender reads.
struct Inputs {
    narration: PathBuf,
    music: PathBuf,
    clips: Vec<PathBuf>,
    subtitles: PathBuf,
    /// The footage of the 12 cuts back to back (1920×1080, the total length): the bare
    /// encode's input, so it encodes the same pictures.
    joined_source: PathBuf,
}

/// One contender's result.
struct Timed {
    name: &'static str,
    secs: f64,
    out: PathBuf,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let scale = if full { FULL } else { TINY };
    let transition = match std::env::var("REELFORGE_BENCH_TRANSITION").as_deref() {
        Ok("none") => Transition::None,
        _ => Transition::Fade,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let load_before = load_average();

    let started = Instant::now();
    let inputs = generate_inputs(dir.path(), scale);
    let generation_secs = started.elapsed().as_secs_f64();

    let bare = bare_encode(dir.path(), scale, &inputs);
    let single = reelforge_render(dir.path(), scale, &inputs, transition);
    let (three, steps, commands) = three_encodes(dir.path(), scale, &inputs);

    let total = scale.total();
    println!(
        "render: {} cuts of {} s from {} clips of {}×{} ({} s), narration {} s → {}×{} {FPS} fps, \
         libx264 {PRESET} crf {CRF}, AAC {AUDIO_BITRATE}",
        scale.clips,
        scale.cut_secs,
        scale.clips,
        scale.src_width,
        scale.src_height,
        scale.clip_secs,
        total,
        scale.width,
        scale.height
    );
    match transition {
        Transition::None => println!(
            "  reelforge transitions: none (plain cuts, like the pipeline's; \
             REELFORGE_BENCH_TRANSITION=none)"
        ),
        _ => println!(
            "  reelforge transitions: fade {TRANSITION_SECS} s between cuts (extra work on \
             reelforge's side only: the pipeline's cuts are plain)"
        ),
    }
    println!(
        "  inputs generated in {generation_secs:.1} s (not timed); {} CPU threads; load average \
         before {load_before}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  {:<34}{:>10}{:>12}{:>10}",
        "", "seconds", "duration s", "MB"
    );
    let mut checked = Vec::new();
    for timed in [&single, &three, &bare] {
        let duration = check_output(&timed.out, scale);
        let mb = std::fs::metadata(&timed.out).map_or(0.0, |m| m.len() as f64 / 1e6);
        println!(
            "  {:<34}{:>10.2}{:>12.3}{:>10.1}",
            timed.name, timed.secs, duration, mb
        );
        checked.push(duration);
    }
    for (step, secs) in &steps {
        println!("    {step:<32}{secs:>10.2}");
    }
    let speedup = three.secs / single.secs;
    let overhead = single.secs / bare.secs;
    println!("  three-encode ÷ reelforge        {speedup:>10.2}×   (target ≥ 2.5×)");
    println!("  reelforge ÷ bare encode         {overhead:>10.2}×   (target ≤ 1.2×)");
    println!("  load average after {}", load_average());
    if std::env::var_os("REELFORGE_BENCH_COMMANDS").is_some() || full {
        println!("  three-encode pipeline commands:");
        for command in &commands {
            println!("    {command}");
        }
    }
    if !full {
        println!("  (test mode: tiny sizes; run `cargo bench --bench render` for figures)");
    }
}

/// Runs ffmpeg with `args` (after `-nostdin -v error -y`); panics with its stderr on failure.
fn ffmpeg(args: &[String]) {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg must be installed to run the render bench");
    assert!(
        output.status.success(),
        "{}: {}",
        command_line(args),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `ffmpeg …` as a shell would take it, for the printout.
fn command_line(args: &[String]) -> String {
    let quote = |s: &String| {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,".contains(c))
        {
            s.clone()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    std::iter::once("ffmpeg -nostdin -hide_banner -v error -y".to_string())
        .chain(args.iter().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The output settings every contender uses.
fn video_encode() -> Vec<String> {
    strings(&[
        "-c:v",
        "libx264",
        "-preset",
        PRESET,
        "-crf",
        &CRF.to_string(),
        "-pix_fmt",
        "yuv420p",
        "-r",
        &FPS.to_string(),
    ])
}

fn audio_encode() -> Vec<String> {
    strings(&[
        "-c:a",
        "aac",
        "-b:a",
        AUDIO_BITRATE,
        "-ar",
        &SAMPLE_RATE.to_string(),
        "-ac",
        "2",
    ])
}

/// The output side of a finished video's encode: both encodings, fast start, `total`
/// seconds long, written to `out`.
fn final_output(total: f64, out: &Path) -> Vec<String> {
    let mut args = video_encode();
    args.extend(audio_encode());
    args.extend(strings(&[
        "-movflags",
        "+faststart",
        "-t",
        &secs(total),
        &path(out),
    ]));
    args
}

/// Scale to cover the frame and crop the overflow (reelforge's `Fill::Crop`).
fn crop_fill(scale: Scale) -> String {
    let (w, h) = (scale.width, scale.height);
    format!(
        "fps={FPS},scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1,\
         format=yuv420p"
    )
}

/// Decimal seconds without trailing zeros.
fn secs(value: f64) -> String {
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The lavfi footage of clip `index` at `w`×`h`: a different pattern for each index, every
/// one moving, hues rotated once the looks cycle.
fn look(index: usize, (w, h): (u32, u32)) -> String {
    let (qw, qh) = ((w / 4).max(16) / 2 * 2, (h / 4).max(16) / 2 * 2);
    let base = match index % 6 {
        0 => format!("testsrc2=s={w}x{h}:r={FPS}"),
        1 => format!(
            "mandelbrot=s={qw}x{qh}:r={FPS}:maxiter=150:start_scale=3:end_scale=0.05:\
             end_pts={}",
            FPS * 10
        ),
        2 => format!("smptehdbars=s={w}x{h}:r={FPS},hue=H=2*PI*t/4"),
        3 => format!("testsrc=s={w}x{h}:r={FPS}"),
        4 => format!(
            "life=s={qw}x{qh}:r={FPS}:ratio=0.3:mold=8:seed={index}:life_color=0xe0c060:\
             death_color=0x202040:mold_color=0x604080"
        ),
        _ => format!(
            "gradients=s={qw}x{qh}:r={FPS}:n=4:speed=0.05:seed={index},\
             drawgrid=w=40:h=40:t=2:c=white@0.4"
        ),
    };
    let hue = match index / 6 {
        0 => String::new(),
        cycle => format!(",hue=h={}", cycle * 67 % 360),
    };
    format!("{base}{hue},scale={w}:{h}:flags=bicubic,setsar=1,format=yuv420p")
}

fn generate_inputs(dir: &Path, scale: Scale) -> Inputs {
    let total = scale.total();
    // Speech-like: a voiced tone with harmonics, syllable-rate amplitude changes, and a pause
    // of 0.8 s every 3.7 s (so the ducking has something to release in).
    let narration = dir.join("narration.wav");
    let voice = format!(
        "aevalsrc='(0.30*sin(2*PI*170*t)+0.15*sin(2*PI*340*t)+0.08*sin(2*PI*510*t))\
         *(0.55+0.45*sin(2*PI*4.5*t))*lt(mod(t,3.7),2.9)':s={SAMPLE_RATE}:d={}",
        secs(total)
    );
    let mut args = strings(&["-f", "lavfi", "-i", &voice, "-ac", "1", "-c:a", "pcm_s16le"]);
    args.push(path(&narration));
    ffmpeg(&args);

    // A chord on a beat, stereo, stored as AAC like a music library's files.
    let music = dir.join("music.m4a");
    let chord = |shift: f64| {
        format!(
            "(0.20*sin(2*PI*{a}*t)+0.15*sin(2*PI*{b}*t)+0.12*sin(2*PI*{c}*t))\
             *(0.7+0.3*lt(mod(t,0.5),0.1))",
            a = 220.0 + shift,
            b = 277.18 + shift,
            c = 329.63 + shift
        )
    };
    let tune = format!(
        "aevalsrc='{}|{}':s={SAMPLE_RATE}:d={}",
        chord(0.0),
        chord(0.5),
        secs(total)
    );
    let mut args = strings(&["-f", "lavfi", "-i", &tune, "-c:a", "aac", "-b:a", "192k"]);
    args.push(path(&music));
    ffmpeg(&args);

    let source_size = (scale.src_width, scale.src_height);
    let clips: Vec<PathBuf> = (0..scale.clips)
        .map(|i| {
            let clip = dir.join(format!("clip-{i:02}.mp4"));
            let look = look(i, source_size);
            encode_footage(
                &["-f", "lavfi", "-i", &look, "-t", &secs(scale.clip_secs)],
                &clip,
            );
            clip
        })
        .collect();

    // The cuts' footage back to back, for the bare encode.
    let joined_source = dir.join("joined-source.mp4");
    let mut args = Vec::new();
    let mut graph = String::new();
    for (i, clip) in clips.iter().enumerate() {
        args.extend(strings(&["-i", &path(clip)]));
        graph.push_str(&format!(
            "[{i}:v]trim=start={}:duration={},setpts=PTS-STARTPTS[v{i}];",
            secs(scale.start_in),
            secs(scale.cut_secs)
        ));
    }
    for i in 0..clips.len() {
        graph.push_str(&format!("[v{i}]"));
    }
    graph.push_str(&format!("concat=n={}:v=1:a=0[v]", clips.len()));
    args.extend(strings(&["-filter_complex", &graph, "-map", "[v]"]));
    encode_footage(&args, &joined_source);

    // One cue per cut, most of its length, like sentences of a narration.
    let texts = [
        "Why do cats purr when they are happy?",
        "Scientists have argued about it for years.",
        "The sound comes from the muscles of the larynx.",
        "They twitch up to thirty times a second.",
        "Cats purr while they breathe in and out.",
        "Kittens purr to tell their mother they are fine.",
        "Adult cats purr when they are hurt, too.",
        "The vibration may help bones heal faster.",
        "Its frequency sits between 25 and 150 hertz.",
        "That range is used in human physiotherapy.",
        "So a purr is a message and maybe a medicine.",
        "Next time, listen closely to your cat.",
    ];
    let cues: Vec<Cue> = (0..scale.clips)
        .map(|i| {
            let start = i as f64 * scale.cut_secs;
            Cue {
                start: start + 0.1,
                end: start + scale.cut_secs - 0.2,
                text: texts[i % texts.len()].to_string(),
            }
        })
        .collect();
    let style = AssStyle::from_config(&SubtitleConfig::default(), scale.height);
    let subtitles = dir.join("subtitles.ass");
    std::fs::write(&subtitles, to_ass(&cues, &style, scale.width, scale.height))
        .expect("write ASS");

    Inputs {
        narration,
        music,
        clips,
        subtitles,
        joined_source,
    }
}

/// Contender 1: the single pass.
fn reelforge_render(dir: &Path, scale: Scale, inputs: &Inputs, transition: Transition) -> Timed {
    let segments = inputs
        .clips
        .iter()
        .enumerate()
        .map(|(i, clip)| Segment {
            source: ClipSource::Video(clip.clone()),
            start_in: scale.start_in,
            duration: scale.cut_secs,
            speed: 1.0,
            transition: if i == 0 { Transition::None } else { transition },
        })
        .collect();
    let plan = RenderPlan {
        width: scale.width,
        height: scale.height,
        fps: FPS,
        segments,
        transition_secs: TRANSITION_SECS,
        fill: Fill::Crop,
        narration: inputs.narration.clone(),
        music: Some(MusicPlan {
            path: inputs.music.clone(),
            volume: MUSIC_VOLUME,
            fade_in: MUSIC_FADE_IN,
            fade_out: MUSIC_FADE_OUT,
            duck: true,
        }),
        loudness_lufs: Some(LUFS),
        subtitles: Some(inputs.subtitles.clone()),
        soft_subtitles: None,
        subtitles_fonts_dir: None,
        encoder: EncoderSettings {
            codec: "libx264".into(),
            preset: PRESET.into(),
            crf: CRF,
        },
        out: dir.join("reelforge.mp4"),
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let started = Instant::now();
    runtime
        .block_on(render(&plan, &CancellationToken::new(), &|_| {}))
        .unwrap_or_else(|e| panic!("reelforge render: {e}"));
    Timed {
        name: "reelforge (one pass)",
        secs: started.elapsed().as_secs_f64(),
        out: plan.out,
    }
}

/// The sound of the finished video, as reelforge makes it: narration and music at 48 kHz
/// stereo, exactly `total` long; the music at its volume, faded, ducked under the voice by a
/// sidechain compressor; the mix normalised to −14 LUFS. `[1:a]` is the narration, `[2:a]`
/// the looped music; the result is `[a]`.
fn mix_graph(total: f64) -> String {
    let samples = (total * f64::from(SAMPLE_RATE)).round() as u64;
    let format = format!(
        "aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:\
         channel_layouts=stereo"
    );
    let exact = format!("apad=whole_len={samples},atrim=end_sample={samples}");
    format!(
        "[1:a]{format},{exact}[voice];\n\
         [2:a]{format},atrim=end_sample={samples},asetpts=PTS-STARTPTS,volume={MUSIC_VOLUME},\
         afade=t=in:st=0:d={MUSIC_FADE_IN},afade=t=out:st={}:d={MUSIC_FADE_OUT},{exact}[music];\n\
         [voice]asplit=2[voicemix][voicekey];\n\
         [music][voicekey]sidechaincompress=threshold=0.02:ratio=10:attack=20:release=300[ducked];\n\
         [voicemix][ducked]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[mix];\n\
         [mix]loudnorm=I={LUFS}:TP=-1.5:LRA=11,{format},{exact}[a]",
        secs(total - MUSIC_FADE_OUT)
    )
}

/// Contender 2, the anchor's way: (a) each cut encoded to its own temp file, one after the
/// other; (b) the temp files concatenated with a re-encode; (c) subtitles burned and the
/// sound mixed in a third encode. Returns the total, the time of each step and the commands run.
fn three_encodes(
    dir: &Path,
    scale: Scale,
    inputs: &Inputs,
) -> (Timed, Vec<(String, f64)>, Vec<String>) {
    let work = dir.join("anchor");
    std::fs::create_dir_all(&work).expect("anchor work dir");
    let mut commands = Vec::new();
    let mut run = |args: Vec<String>| {
        commands.push(command_line(&args));
        ffmpeg(&args);
    };
    let started = Instant::now();

    // (a) One encode per cut.
    let mut list = String::new();
    let cuts: Vec<Vec<String>> = inputs
        .clips
        .iter()
        .enumerate()
        .map(|(i, clip)| {
            let cut = work.join(format!("cut-{i:02}.mp4"));
            list.push_str(&format!("file '{}'\n", path(&cut)));
            let mut args = strings(&[
                "-ss",
                &secs(scale.start_in),
                "-t",
                &secs(scale.cut_secs),
                "-i",
                &path(clip),
                "-an",
                "-vf",
                &crop_fill(scale),
            ]);
            args.extend(video_encode());
            args.extend(strings(&["-movflags", "+faststart", &path(&cut)]));
            args
        })
        .collect();
    let list_path = work.join("cuts.txt");
    std::fs::write(&list_path, &list).expect("concat list");
    for args in cuts {
        run(args);
    }
    let cut_secs = started.elapsed().as_secs_f64();

    // (b) Concatenated with a re-encode.
    let joined = work.join("joined.mp4");
    let mut args = strings(&["-f", "concat", "-safe", "0", "-i", &path(&list_path)]);
    args.extend(video_encode());
    args.extend(strings(&["-movflags", "+faststart", &path(&joined)]));
    run(args);
    let concat_secs = started.elapsed().as_secs_f64() - cut_secs;

    // (c) Subtitles burned, narration and music mixed.
    let total = scale.total();
    let graph = format!(
        "[0:v]ass=filename={}[v];\n{}\n",
        escape_filter_path(&inputs.subtitles),
        mix_graph(total)
    );
    let graph_path = work.join("final.filtergraph");
    std::fs::write(&graph_path, &graph).expect("final graph");
    let out = dir.join("three-encode.mp4");
    let mut args = strings(&[
        "-i",
        &path(&joined),
        "-i",
        &path(&inputs.narration),
        "-stream_loop",
        "-1",
        "-i",
        &path(&inputs.music),
        "-filter_complex_script",
        &path(&graph_path),
        "-map",
        "[v]",
        "-map",
        "[a]",
    ]);
    args.extend(final_output(total, &out));
    run(args);
    let secs_all = started.elapsed().as_secs_f64();
    commands.push(format!("# {}:\n{graph}", path(&graph_path)));

    let steps = vec![
        (format!("(a) {} cut encodes", scale.clips), cut_secs),
        ("(b) concat + re-encode".to_string(), concat_secs),
        (
            "(c) subtitles + mix encode".to_string(),
            secs_all - cut_secs - concat_secs,
        ),
    ];
    let timed = Timed {
        name: "three-encode pipeline (anchor)",
        secs: secs_all,
        out,
    };
    (timed, steps, commands)
}

/// Contender 3, the floor: the cuts' footage (already back to back) scaled to the frame and encoded
/// once with the narration; no cuts, no subtitles, no mixing.
fn bare_encode(dir: &Path, scale: Scale, inputs: &Inputs) -> Timed {
    let out = dir.join("bare.mp4");
    let mut args = strings(&[
        "-i",
        &path(&inputs.joined_source),
        "-i",
        &path(&inputs.narration),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-vf",
        &crop_fill(scale),
    ]);
    args.extend(final_output(scale.total(), &out));
    let started = Instant::now();
    ffmpeg(&args);
    Timed {
        name: "bare encode (floor)",
        secs: started.elapsed().as_secs_f64(),
        out,
    }
}

/// Checks an output: it exists, has one video stream of the frame size and an audio stream,
/// and lasts the narration's length. Returns its duration.
fn check_output(out: &Path, scale: Scale) -> f64 {
    assert!(out.exists(), "{} is missing", out.display());
    let info = ffprobe(out);
    let (video, audio) = (streams_of(&info, "video"), streams_of(&info, "audio").len());
    assert_eq!((video.len(), audio), (1, 1), "{}: {info}", out.display());
    assert_eq!(video[0]["width"], scale.width, "{}", out.display());
    assert_eq!(video[0]["height"], scale.height, "{}", out.display());
    let duration = format_duration(&info);
    assert!(
        (duration - scale.total()).abs() <= DURATION_TOLERANCE,
        "{} lasts {duration} s, not {} s",
        out.display(),
        scale.total()
    );
    duration
}

/// The 1-minute load average, to tell a busy machine from a slow render.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
