//! Stage `render`: each timeline, the narration, music and subtitles into one MP4 per video,
//! each in a single ffmpeg pass.

mod music;

use super::artifacts::{self, Timeline};
use super::select::timelines;
use super::task_config;
use crate::config::Config;
use crate::media::probe::probe;
use crate::media::render::{EncoderSettings, Fill, RenderPlan, RenderProgress, Segment, render};
use crate::media::{MediaError, encoder};
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct RenderStage {
    pub config: Arc<Config>,
}

#[async_trait]
impl StageWork for RenderStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let config = task_config(&self.config, ctx)?;
        let timelines = timelines(ctx, config.video.video_count)?;
        let count = timelines.len();
        let video = &config.video;
        let chosen = encoder::choose(&video.encoder, &video.preset, video.crf, &ctx.cancel).await;
        if let Some(note) = &chosen.note {
            ctx.log(LogLevel::Warn, note.clone());
        }
        let mut settings = chosen.settings;
        let mut files = Vec::new();
        let mut shown = Vec::new();
        for (index, timeline) in timelines.iter().enumerate() {
            let number = index + 1;
            let mut plan = render_plan(&config, ctx, timeline, number, settings.clone())?;
            let total = timeline.duration;
            let on_progress = |p: RenderProgress| {
                let overall = (index as f32 + p.fraction) / count as f32;
                ctx.progress(Some(overall), progress_line(number, count, total, &p));
            };
            match render(&plan, &ctx.cancel, &on_progress).await {
                Err(MediaError::Failed { stderr_tail, .. })
                    if encoder::is_hardware(&plan.encoder.codec)
                        && encoder::looks_like_encoder_failure(&stderr_tail) =>
                {
                    // The probe passed but the device gave out mid-run: this video and the
                    // rest of the run go to libx264 instead of failing the task.
                    encoder::mark_unusable(&plan.encoder.codec, &stderr_tail).await;
                    ctx.log(
                        LogLevel::Warn,
                        format!(
                            "{} failed mid-render ({}): rendering again with libx264",
                            plan.encoder.codec,
                            stderr_tail.lines().last().unwrap_or("no details")
                        ),
                    );
                    settings = encoder::libx264(&video.preset, video.crf);
                    plan.encoder = settings.clone();
                    render(&plan, &ctx.cancel, &on_progress).await?;
                }
                result => result?,
            }
            let info = probe(&plan.out, &ctx.cancel).await?;
            if !info.has_video || !info.has_audio || info.duration.is_none_or(|d| d <= 0.0) {
                let _ = std::fs::remove_file(&plan.out);
                return Err(StageError::permanent(format!(
                    "ffmpeg wrote {} but it lacks a video or audio stream; see the log for the command",
                    plan.out.display()
                )));
            }
            if let Some(out) = &ctx.spec.out {
                let out = numbered_path(out, number);
                copy_atomic(&plan.out, &out)?;
                copy_atomic(
                    &ctx.path(artifacts::SUBTITLES_SRT),
                    &out.with_extension("srt"),
                )?;
            }
            files.push(artifacts::video_name(number));
            shown.push(format!(
                "{:.1} s, {}×{}",
                info.duration.unwrap_or(0.0),
                info.width,
                info.height
            ));
        }
        Ok(StageOutput {
            files,
            summary: shown.join("; "),
            ..StageOutput::default()
        })
    }
}

/// The ffmpeg job of video `number` of the task, under the task's `config`.
fn render_plan(
    config: &Config,
    ctx: &JobCtx,
    timeline: &Timeline,
    number: usize,
    settings: EncoderSettings,
) -> Result<RenderPlan, StageError> {
    let video = &config.video;
    let subtitles = &config.subtitles;
    Ok(RenderPlan {
        width: timeline.width,
        height: timeline.height,
        fps: timeline.fps,
        segments: timeline
            .segments
            .iter()
            .map(|s| Segment {
                source: s.source.clone(),
                start_in: s.start_in,
                duration: s.duration,
                speed: s.speed,
                transition: s.transition,
            })
            .collect(),
        transition_secs: timeline.transition_secs,
        fill: match video.fill.as_str() {
            "blur" => Fill::Blur,
            _ => Fill::Crop,
        },
        narration: ctx.path(artifacts::NARRATION),
        music: music::plan(&config.music, &ctx.task, number)?,
        loudness_lufs: Some(config.voice.loudness_lufs),
        subtitles: subtitles
            .enabled
            .then(|| ctx.path(artifacts::SUBTITLES_ASS)),
        subtitles_fonts_dir: crate::media::subtitle::fonts_dir(subtitles),
        soft_subtitles: subtitles
            .soft_track
            .then(|| ctx.path(artifacts::SUBTITLES_SRT)),
        encoder: settings,
        out: ctx.path(&artifacts::video_name(number)),
    })
}

/// "video 2/3: 12.0 of 30.0 s encoded, 48 fps, 1.6×, 11 s left".
fn progress_line(number: usize, count: usize, total: f64, p: &RenderProgress) -> String {
    let mut line = String::new();
    if count > 1 {
        line.push_str(&format!("video {number}/{count}: "));
    }
    line.push_str(&format!(
        "{:.1} of {total:.1} s encoded",
        f64::from(p.fraction) * total
    ));
    if let Some(fps) = p.fps {
        line.push_str(&format!(", {fps:.0} fps"));
    }
    if let Some(speed) = p.speed {
        line.push_str(&format!(", {speed:.2}×"));
    }
    if let Some(eta) = p.eta_secs.filter(|_| p.fraction < 1.0) {
        line.push_str(&format!(", {eta:.0} s left"));
    }
    line
}

/// `out.mp4` for the first video, `out-2.mp4` … for the others.
fn numbered_path(out: &Path, number: usize) -> PathBuf {
    if number <= 1 {
        return out.to_path_buf();
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match out.extension() {
        Some(ext) => format!("{stem}-{number}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{number}"),
    };
    out.with_file_name(name)
}

/// Copies to `to.part` then renames, so the user's output path is never half-written.
fn copy_atomic(from: &Path, to: &Path) -> Result<(), StageError> {
    if !from.exists() {
        return Ok(());
    }
    let fail =
        |e: std::io::Error| StageError::permanent(format!("cannot write {}: {e}", to.display()));
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let part = crate::fsutil::part_path(to);
    std::fs::copy(from, &part).map_err(fail)?;
    crate::fsutil::commit_part(&part, to).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_numbered_after_the_first() {
        assert_eq!(
            numbered_path(Path::new("/o/cats.mp4"), 1),
            Path::new("/o/cats.mp4")
        );
        assert_eq!(
            numbered_path(Path::new("/o/cats.mp4"), 3),
            Path::new("/o/cats-3.mp4")
        );
        assert_eq!(artifacts::video_name(2), "final-2.mp4");
        assert_eq!(artifacts::timeline_name(1), "timeline.json");
    }

    #[test]
    fn progress_lines_say_rate_and_time_left() {
        let p = RenderProgress {
            fraction: 0.4,
            fps: Some(48.0),
            speed: Some(1.6),
            eta_secs: Some(11.2),
        };
        assert_eq!(
            progress_line(2, 3, 30.0, &p),
            "video 2/3: 12.0 of 30.0 s encoded, 48 fps, 1.60×, 11 s left"
        );
    }
}
