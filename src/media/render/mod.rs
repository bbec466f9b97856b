//! The single-pass render: every clip, the narration, music and the burned-in subtitles go
//! through one ffmpeg filter graph and one encode, written to `<out>.part` and renamed when
//! whole.

mod audio;
mod graph;
mod timeline;
mod transition;
mod video;

pub use graph::{build_args, escape_filter_path, graph_path};

use super::tool::{FfmpegProgress, run_ffmpeg_with_progress};
use super::{ClipSource, MediaError};
use crate::fsutil::{commit_part, part_path};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// One cut of the timeline: `duration` seconds of `source`, starting `start_in` seconds in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub source: ClipSource,
    /// Seconds into the source where the cut starts.
    pub start_in: f64,
    /// Seconds this cut owns on the output timeline (transitions end at its start).
    pub duration: f64,
    /// Playback speed, 0.5–2.0: the cut reads `duration × speed` seconds of the source.
    #[serde(default = "normal_speed")]
    pub speed: f64,
    /// How this cut replaces the previous one (ignored for the first cut).
    #[serde(default)]
    pub transition: Transition,
}

/// The speed of footage nobody asked to retime (serde default of stored timelines).
pub fn normal_speed() -> f64 {
    1.0
}

/// How one cut replaces the previous one. A transition of `transition_secs` ends exactly at
/// the cut's start, so cuts stay where the timeline put them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    #[default]
    None,
    Fade,
    Dissolve,
    SlideLeft,
    SlideRight,
    SlideUp,
    SlideDown,
    Wipe,
    ZoomIn,
    ZoomOut,
}

impl Transition {
    /// Every transition but `None`, for "shuffle" (a random one per cut).
    pub const ALL: [Transition; 9] = [
        Transition::Fade,
        Transition::Dissolve,
        Transition::SlideLeft,
        Transition::SlideRight,
        Transition::SlideUp,
        Transition::SlideDown,
        Transition::Wipe,
        Transition::ZoomIn,
        Transition::ZoomOut,
    ];

    /// The config name ("fade", "slide_left"); `None` for "shuffle" and unknown names.
    pub fn from_name(name: &str) -> Option<Transition> {
        std::iter::once(Transition::None)
            .chain(Transition::ALL)
            .find(|t| t.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Transition::None => "none",
            Transition::Fade => "fade",
            Transition::Dissolve => "dissolve",
            Transition::SlideLeft => "slide_left",
            Transition::SlideRight => "slide_right",
            Transition::SlideUp => "slide_up",
            Transition::SlideDown => "slide_down",
            Transition::Wipe => "wipe",
            Transition::ZoomIn => "zoom_in",
            Transition::ZoomOut => "zoom_out",
        }
    }
}

/// Footage of another aspect than the frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// Scale to cover the frame and crop the overflow.
    #[default]
    Crop,
    /// The whole clip, centred over a blurred copy of itself that fills the frame.
    Blur,
}

/// Background music under the narration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MusicPlan {
    /// Any audio file ffmpeg reads; looped to the video's length.
    pub path: PathBuf,
    /// 0.0–1.0.
    pub volume: f64,
    pub fade_in: f64,
    pub fade_out: f64,
    /// Lower the music while the voice speaks (sidechain compression).
    pub duck: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncoderSettings {
    /// An ffmpeg H.264 encoder name: "libx264", "h264_nvenc"...
    pub codec: String,
    pub preset: String,
    /// Quality, 0–51, lower is better (sent as `-cq` to NVENC, which has no `-crf`).
    pub crf: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderPlan {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub segments: Vec<Segment>,
    /// Length of every transition, seconds.
    pub transition_secs: f64,
    pub fill: Fill,
    /// Any audio file ffmpeg reads; resampled to 48 kHz stereo.
    pub narration: PathBuf,
    pub music: Option<MusicPlan>,
    /// Integrated loudness of the final mix, LUFS (`None`: left as mixed).
    pub loudness_lufs: Option<f64>,
    /// An ASS script to burn in, made for a `width`×`height` frame.
    pub subtitles: Option<PathBuf>,
    /// An SRT file added as a soft subtitle track (mov_text).
    pub soft_subtitles: Option<PathBuf>,
    /// A folder libass should load fonts from (the subtitles use a font file, not an
    /// installed family).
    pub subtitles_fonts_dir: Option<PathBuf>,
    pub encoder: EncoderSettings,
    pub out: PathBuf,
}

impl RenderPlan {
    /// The output's length: the sum of the cuts.
    pub fn total_duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration.max(0.0)).sum()
    }
}

/// Where an encode stands: share of the output written, encoding rate, time left.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RenderProgress {
    /// 0–1.
    pub fraction: f32,
    /// Frames encoded per second.
    pub fps: Option<f64>,
    /// Seconds of video encoded per second of wall time (ffmpeg's `speed`).
    pub speed: Option<f64>,
    pub eta_secs: Option<f64>,
}

/// Renders `plan` in one ffmpeg run. `on_progress` gets the encoded fraction (0–1). On
/// failure or cancellation no file named `out` appears and the partial file is removed.
pub async fn render(
    plan: &RenderPlan,
    cancel: &CancellationToken,
    on_progress: &(dyn Fn(RenderProgress) + Send + Sync),
) -> Result<(), MediaError> {
    let invalid = |why: String| MediaError::Failed {
        tool: "ffmpeg".into(),
        status: "not started".into(),
        stderr_tail: why,
    };
    if plan.segments.is_empty() {
        return Err(invalid("the render plan has no segments".into()));
    }
    if plan.width < 2 || plan.height < 2 {
        return Err(invalid(format!(
            "bad frame size {}x{}",
            plan.width, plan.height
        )));
    }
    let total = plan.total_duration();
    if !total.is_finite() || total <= 0.0 {
        return Err(invalid(format!("bad total duration {total}")));
    }
    graph::validate(plan).map_err(invalid)?;
    let io = |context: String| move |source| MediaError::Io { context, source };
    if let Some(parent) = plan.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io(format!("creating {}", parent.display())))?;
    }
    let graph_file = graph_path(&plan.out);
    let (args, graph) = build_args(plan, &graph_file);
    tokio::fs::write(&graph_file, &graph)
        .await
        .map_err(io(format!("writing {}", graph_file.display())))?;
    tracing::info!(
        command = %command_line(&args),
        graph = %graph_file.display(),
        "rendering {}",
        plan.out.display()
    );

    let part = part_path(&plan.out);
    let on_time = |p: FfmpegProgress| {
        let fraction = (p.out_secs / total).clamp(0.0, 1.0);
        let eta_secs = p
            .speed
            .filter(|s| *s > 0.0)
            .map(|s| (total - p.out_secs).max(0.0) / s);
        on_progress(RenderProgress {
            fraction: fraction as f32,
            fps: p.fps,
            speed: p.speed,
            eta_secs,
        });
    };
    let result = run_ffmpeg_with_progress(&args, cancel, &on_time).await;
    let result = match result {
        Ok(()) => commit_part(&part, &plan.out).map_err(io(format!(
            "moving {} to {}",
            part.display(),
            plan.out.display()
        ))),
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => {
            on_progress(RenderProgress {
                fraction: 1.0,
                eta_secs: Some(0.0),
                ..RenderProgress::default()
            });
            Ok(())
        }
        Err(err) => {
            // Never leave a file that looks like (part of) a finished video.
            let _ = tokio::fs::remove_file(&part).await;
            Err(err)
        }
    }
}

/// The command as a shell would take it, for the log (single quotes where needed).
fn command_line(args: &[OsString]) -> String {
    let quote = |arg: &OsString| {
        let s = arg.to_string_lossy();
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,".contains(c))
        {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    std::iter::once("ffmpeg".to_string())
        .chain(args.iter().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}
