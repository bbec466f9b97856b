//! Stage `select`: the timelines. Each sentence's span of the narration gets clips by the
//! concat mode (`[video] concat_mode`), with the configured speed and transitions; with
//! `video_count` above 1, each further video avoids the clips the earlier ones used where it
//! can, so every video of the task has its own order.

pub mod assign;
mod plan;
pub mod semantic;

use super::artifacts::{self, FootageDoc, TermsDoc, Timeline};
use super::task_config;
use crate::config::{Config, frame_size};
use crate::pipeline::LogLevel;
use crate::pipeline::{JobCtx, StageError, StageOutput, StageWork};
use crate::providers::embed::Embedder;
use crate::providers::tts::Narration;
use async_trait::async_trait;
pub use plan::{ConcatMode, PlanOptions, plan_timeline, word_set};
use std::collections::HashSet;
use std::sync::Arc;

pub struct SelectStage {
    pub config: Arc<Config>,
    /// MiniLM, when installed: the semantic concat mode needs it.
    pub embedder: Option<Arc<dyn Embedder>>,
}

#[async_trait]
impl StageWork for SelectStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let config = task_config(&self.config, ctx)?;
        let footage: FootageDoc = artifacts::load(ctx, artifacts::FOOTAGE)?;
        let narration: Narration = artifacts::load(ctx, artifacts::VOICE)?;
        let terms: Option<TermsDoc> = artifacts::load(ctx, artifacts::TERMS).ok();
        let (width, height) = frame_size(&ctx.spec.aspect).ok_or_else(|| {
            StageError::permanent(format!(
                "aspect '{}' is not one of 9:16, 16:9, 1:1",
                ctx.spec.aspect
            ))
        })?;
        let video = &config.video;
        let words: Vec<HashSet<String>> = narration
            .sentences
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let extra = terms
                    .as_ref()
                    .and_then(|t| t.terms.get(i))
                    .map(|t| t.join(" "));
                word_set(&format!("{} {}", s.text, extra.unwrap_or_default()))
            })
            .collect();
        let mut mode = ConcatMode::from_name(&video.concat_mode);
        let mut relevance = Vec::new();
        if mode == ConcatMode::Semantic {
            match &self.embedder {
                Some(embedder) => {
                    ctx.model_ready(embedder.warm_up().await?);
                    ctx.progress(None, format!("embedding {} clips", footage.clips.len()));
                    let said: Vec<&str> = narration
                        .sentences
                        .iter()
                        .map(|s| s.text.as_str())
                        .collect();
                    let texts: Vec<String> =
                        footage.clips.iter().map(semantic::clip_text).collect();
                    let shown: Vec<&str> = texts.iter().map(String::as_str).collect();
                    relevance =
                        semantic::relevance(embedder.as_ref(), &said, &shown, &ctx.cancel).await?;
                }
                None => {
                    ctx.log(
                        LogLevel::Warn,
                        "semantic footage selection needs the MiniLM model, which is not installed \
                         (./scripts/fetch-models.sh): clips follow the script order instead",
                    );
                    mode = ConcatMode::ScriptOrder;
                }
            }
        }
        let mut options = PlanOptions {
            width,
            height,
            fps: video.fps,
            max_frames: (video.max_clip_secs * f64::from(video.fps))
                .floor()
                .max(1.0) as u64,
            mode,
            speed: video.clip_speed,
            transition: video.transition.clone(),
            transition_secs: video.transition_secs,
            seed: 0,
            earlier_uses: vec![0; footage.clips.len()],
            relevance,
        };
        let mut files = Vec::new();
        let mut cuts = Vec::new();
        let mut used: HashSet<String> = HashSet::new();
        for number in 1..=video.video_count.max(1) as usize {
            options.seed = seed(&ctx.task, number);
            let timeline = plan_timeline(&footage.clips, &narration, &words, &options);
            if timeline.segments.is_empty() {
                return Err(StageError::permanent(
                    "the narration is empty: nothing to put on the timeline",
                ));
            }
            for (i, clip) in footage.clips.iter().enumerate() {
                let uses = timeline
                    .segments
                    .iter()
                    .filter(|s| s.source == clip.source)
                    .count();
                options.earlier_uses[i] += uses as u32;
            }
            used.extend(timeline.segments.iter().map(|s| format!("{:?}", s.source)));
            cuts.push(timeline.segments.len().to_string());
            let name = artifacts::timeline_name(number);
            artifacts::save(ctx, &name, &timeline)?;
            files.push(name);
        }
        Ok(StageOutput {
            files,
            summary: format!(
                "{} cuts from {} clips{}",
                cuts.join(" + "),
                used.len(),
                if cuts.len() > 1 {
                    format!(", {} videos", cuts.len())
                } else {
                    String::new()
                }
            ),
            ..StageOutput::default()
        })
    }
}

/// A stable seed per task and video number.
fn seed(task: &str, number: usize) -> u64 {
    let hash = blake3::hash(format!("{task}/{number}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(bytes)
}

/// The timelines `select` wrote for this config, in order.
pub fn timelines(ctx: &JobCtx, count: u32) -> Result<Vec<Timeline>, StageError> {
    (1..=count.max(1) as usize)
        .map(|n| artifacts::load(ctx, &artifacts::timeline_name(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ClipSource;
    use crate::media::render::Transition;
    use crate::providers::footage::Clip;
    use crate::providers::tts::SpokenSentence;

    fn options(max_frames: u64) -> PlanOptions {
        PlanOptions {
            width: 1080,
            height: 1920,
            fps: 30,
            max_frames,
            mode: ConcatMode::ScriptOrder,
            speed: 1.0,
            transition: "none".into(),
            transition_secs: 0.5,
            seed: 7,
            earlier_uses: vec![0; 8],
            relevance: Vec::new(),
        }
    }

    fn clip(name: &str, duration: Option<f64>, sentence: Option<usize>) -> Clip {
        Clip {
            sentence,
            ..Clip::new(
                ClipSource::Video(name.into()),
                duration,
                (640, 360),
                name.replace('_', " "),
                "local",
            )
        }
    }

    fn narration() -> Narration {
        Narration {
            duration: 9.0,
            sample_rate: 22050,
            sentences: vec![
                SpokenSentence {
                    text: "Cats purr when happy.".into(),
                    start: 0.0,
                    end: 2.0,
                },
                SpokenSentence {
                    text: "The ocean is deep.".into(),
                    start: 2.3,
                    end: 8.7,
                },
            ],
        }
    }

    #[test]
    fn cuts_cover_the_narration_on_the_frame_grid() {
        let clips = vec![
            clip("happy_cats", Some(30.0), None),
            clip("deep_ocean", Some(30.0), None),
        ];
        let words = vec![
            word_set("Cats purr when happy"),
            word_set("The ocean is deep"),
        ];
        let t = plan_timeline(&clips, &narration(), &words, &options(150));
        let total: f64 = t.segments.iter().map(|s| s.duration).sum();
        assert!((total - 9.0).abs() < 1e-9);
        // Sentence 2 starts at 2.3 s = frame 69: the first cut of sentence 2 starts there.
        let second = t.segments.iter().find(|s| s.sentence == 1).unwrap();
        assert!((second.start - 2.3).abs() < 1e-9);
        assert!(t.segments.iter().all(|s| s.duration <= 5.0 + 1e-9));
        assert_eq!(t.segments[0].description, "happy cats");
        assert_eq!(second.description, "deep ocean");
    }

    #[test]
    fn short_clips_take_more_cuts_and_never_run_past_their_end() {
        let clips = vec![clip("a", Some(1.0), None), clip("b", Some(1.5), None)];
        let t = plan_timeline(&clips, &narration(), &[], &options(150));
        let total: f64 = t.segments.iter().map(|s| s.duration).sum();
        assert!((total - 9.0).abs() < 1e-9);
        for s in &t.segments {
            let len = if s.description == "a" { 1.0 } else { 1.5 };
            assert!(s.start_in + s.duration <= len, "{s:?}");
        }
    }

    #[test]
    fn own_sentence_clips_win() {
        let clips = vec![clip("x", None, Some(1)), clip("y", None, Some(0))];
        let t = plan_timeline(&clips, &narration(), &[], &options(300));
        assert_eq!(t.segments[0].description, "y");
        assert_eq!(t.segments.last().unwrap().description, "x");
    }

    #[test]
    fn random_and_sequential_use_every_clip_before_repeating() {
        let clips: Vec<Clip> = (0..4)
            .map(|i| clip(&format!("c{i}"), Some(2.0), None))
            .collect();
        for mode in [ConcatMode::Random, ConcatMode::Sequential] {
            let o = PlanOptions {
                mode,
                ..options(45)
            };
            let t = plan_timeline(&clips, &narration(), &[], &o);
            let first: Vec<&str> = t
                .segments
                .iter()
                .take(4)
                .map(|s| s.description.as_str())
                .collect();
            let distinct: HashSet<&&str> = first.iter().collect();
            assert_eq!(distinct.len(), 4, "{mode:?}: {first:?}");
            if mode == ConcatMode::Sequential {
                assert_eq!(first, ["c0", "c1", "c2", "c3"]);
            }
        }
    }

    #[test]
    fn speed_and_transitions_respect_the_clip_length() {
        let clips = vec![clip("a", Some(3.0), None), clip("b", Some(3.0), None)];
        let o = PlanOptions {
            speed: 2.0,
            transition: "shuffle".into(),
            ..options(150)
        };
        let t = plan_timeline(&clips, &narration(), &[], &o);
        let total: f64 = t.segments.iter().map(|s| s.duration).sum();
        assert!((total - 9.0).abs() < 1e-9);
        assert_eq!(t.segments[0].transition, Transition::None);
        assert!(
            t.segments[1..]
                .iter()
                .all(|s| s.transition != Transition::None)
        );
        for s in &t.segments {
            let lead: f64 = if s.transition == Transition::None {
                0.0
            } else {
                0.5f64.min(s.duration / 2.0) * 2.0 - 0.07
            };
            assert!(s.start_in + s.duration * 2.0 <= 3.0 + 1e-9, "{s:?}");
            // Room before the in-point for the transition to read the clip early.
            assert!(s.start_in + 1e-6 >= lead, "{s:?}");
        }
    }

    #[test]
    fn later_videos_prefer_clips_the_earlier_ones_did_not_use() {
        let clips = vec![
            clip("x1", None, Some(0)),
            clip("x2", None, Some(0)),
            clip("y1", None, Some(1)),
            clip("y2", None, Some(1)),
        ];
        let first = plan_timeline(&clips, &narration(), &[], &options(300));
        let mut earlier = vec![0; 4];
        for (i, c) in clips.iter().enumerate() {
            earlier[i] = first
                .segments
                .iter()
                .filter(|s| s.source == c.source)
                .count() as u32;
        }
        let o = PlanOptions {
            earlier_uses: earlier,
            ..options(300)
        };
        let second = plan_timeline(&clips, &narration(), &[], &o);
        let names = |t: &Timeline| {
            t.segments
                .iter()
                .map(|s| s.description.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&first), ["x1", "y1"]);
        assert_eq!(names(&second), ["x2", "y2"]);
    }
}
