//! Stage `render`: the timeline, narration and subtitles into one MP4 in a single ffmpeg pass.

use super::artifacts::{self, Timeline};
use crate::config::Config;
use crate::media::probe::probe;
use crate::media::render::{EncoderSettings, Fill, RenderPlan, RenderProgress, Segment, render};
use crate::pipeline::{JobCtx, StageError, StageOutput, StageWork};
use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;

pub struct RenderStage {
    pub config: Arc<Config>,
}

#[async_trait]
impl StageWork for RenderStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let timeline: Timeline = artifacts::load(ctx, artifacts::TIMELINE)?;
        let video = &self.config.video;
        let plan = RenderPlan {
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
            fill: Fill::Crop,
            narration: ctx.path(artifacts::NARRATION),
            music: None,
            loudness_lufs: None,
            soft_subtitles: None,
            subtitles: self
                .config
                .subtitles
                .enabled
                .then(|| ctx.path(artifacts::SUBTITLES_ASS)),
            encoder: EncoderSettings {
                codec: video.encoder.clone(),
                preset: video.preset.clone(),
                crf: video.crf,
            },
            out: ctx.path(artifacts::VIDEO),
        };
        let total = timeline.duration;
        let on_progress = |p: RenderProgress| {
            ctx.progress(
                Some(p.fraction),
                format!(
                    "{:.1} of {total:.1} s encoded",
                    f64::from(p.fraction) * total
                ),
            );
        };
        render(&plan, &ctx.cancel, &on_progress).await?;
        let info = probe(&plan.out, &ctx.cancel).await?;
        if !info.has_video || !info.has_audio || info.duration.is_none_or(|d| d <= 0.0) {
            let _ = std::fs::remove_file(&plan.out);
            return Err(StageError::permanent(format!(
                "ffmpeg wrote {} but it lacks a video or audio stream; see the log for the command",
                plan.out.display()
            )));
        }
        if let Some(out) = &ctx.spec.out {
            copy_atomic(&plan.out, out)?;
            copy_atomic(
                &ctx.path(artifacts::SUBTITLES_SRT),
                &out.with_extension("srt"),
            )?;
        }
        Ok(StageOutput {
            files: vec![artifacts::VIDEO.into()],
            summary: format!(
                "{:.1} s, {}×{}",
                info.duration.unwrap_or(0.0),
                info.width,
                info.height
            ),
        })
    }
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
