//! Stage `select`: the timelines. Each sentence's span of the narration (a long one cut at
//! word or clause boundaries, `spans.rs`) gets clips by the concat mode (`[video]
//! concat_mode`), with the configured speed and transitions; with `video_count` above 1, each
//! further video avoids the clips the earlier ones used where it can, so every video of the
//! task has its own order. In semantic mode a sentence whose footage fits poorly gets more
//! searched first (`rounds.rs`).

mod alternatives;
pub mod assign;
mod plan;
mod rounds;
pub mod semantic;
mod spans;

use super::artifacts::{self, FootageDoc, TermsDoc, Timeline, WordsDoc};
use super::task_config;
use crate::config::{Config, frame_size};
use crate::pipeline::LogLevel;
use crate::pipeline::{JobCtx, StageError, StageOutput, StageWork};
use crate::providers::embed::Embedder;
use crate::providers::footage::Clip;
use crate::providers::tts::Narration;
use async_trait::async_trait;
pub use plan::{ConcatMode, PlanOptions, plan_timeline, word_set};
pub use rounds::StockAccess;
pub use spans::{Span, spans};
use std::collections::HashSet;
use std::sync::Arc;

pub struct SelectStage {
    pub config: Arc<Config>,
    /// MiniLM, when installed: the semantic concat mode needs it.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// CLIP, when `select.clip_model` is set: keyframes scored against the sentences too.
    pub clip: Option<Arc<crate::providers::vision::ClipScorer>>,
    /// The stock vendors, search cache and download pool the footage stage uses: a sentence
    /// whose footage fits poorly gets more searched (`[select] min_relevance`).
    pub stock: StockAccess,
}

/// How much a piece of a split sentence is scored on its own words, beside its sentence as
/// a whole: a few words alone ("and then they return") say too little to choose by.
const PART_WEIGHT: f32 = 0.6;

/// Relevance of every clip (column) to every sentence and to every span (rows).
struct Scores {
    sentences: Vec<Vec<f32>>,
    spans: Vec<Vec<f32>>,
}

impl Scores {
    /// The sentence's best clip score.
    fn best(&self, sentence: usize) -> f32 {
        self.sentences
            .get(sentence)
            .and_then(|row| row.iter().copied().reduce(f32::max))
            .unwrap_or(f32::NEG_INFINITY)
    }
}

#[async_trait]
impl StageWork for SelectStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let config = task_config(&self.config, ctx)?;
        let mut footage: FootageDoc = artifacts::load(ctx, artifacts::FOOTAGE)?;
        let narration: Narration = artifacts::load(ctx, artifacts::VOICE)?;
        let terms: Option<TermsDoc> = artifacts::load(ctx, artifacts::TERMS).ok();
        // Whisper's word times, when the subtitles stage made them.
        let timed: Option<WordsDoc> = artifacts::load(ctx, artifacts::WORDS).ok();
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
        let max_frames = (video.max_clip_secs * f64::from(video.fps))
            .floor()
            .max(1.0) as u64;
        let spans = spans(&narration, timed.as_ref(), video.fps, max_frames);
        let mut mode = ConcatMode::from_name(&video.concat_mode);
        let mut relevance = Vec::new();
        let mut files = Vec::new();
        let mut external_bytes = 0;
        if mode == ConcatMode::Semantic {
            match &self.embedder {
                Some(embedder) => {
                    ctx.model_ready(embedder.warm_up().await?);
                    let mut scores = self
                        .score(ctx, embedder, &footage.clips, &narration, &spans)
                        .await?;
                    let rounds = rounds::Rounds {
                        stage: self,
                        ctx,
                        config: &config,
                        embedder,
                        narration: &narration,
                        terms: terms.as_ref(),
                        spans: &spans,
                        frame: (width, height),
                    };
                    let widened = rounds.run(&mut footage, &mut scores).await?;
                    files.extend(widened.files);
                    external_bytes = widened.bytes;
                    relevance = scores.spans;
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
            max_frames,
            mode,
            speed: video.clip_speed,
            transition: video.transition.clone(),
            transition_secs: video.transition_secs,
            seed: 0,
            earlier_uses: vec![0; footage.clips.len()],
            relevance,
        };
        let mut cuts = Vec::new();
        let mut used: HashSet<String> = HashSet::new();
        for number in 1..=video.video_count.max(1) as usize {
            options.seed = seed(&ctx.task, number);
            let timeline = plan_timeline(&footage.clips, &narration, &spans, &words, &options);
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
            external_bytes,
        })
    }
}

impl SelectStage {
    /// Relevance of `clips` to every sentence and span. One batch of texts: the sentences,
    /// then the words of each piece of a split sentence.
    async fn score(
        &self,
        ctx: &JobCtx,
        embedder: &Arc<dyn Embedder>,
        clips: &[Clip],
        narration: &Narration,
        spans: &[Span],
    ) -> Result<Scores, StageError> {
        ctx.progress(None, format!("embedding {} clips", clips.len()));
        let said: Vec<&str> = narration
            .sentences
            .iter()
            .map(|s| s.text.as_str())
            .chain(spans.iter().filter(|s| s.part).map(|s| s.text.as_str()))
            .collect();
        let texts: Vec<String> = clips.iter().map(semantic::clip_text).collect();
        let shown: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut relevance =
            semantic::relevance(embedder.as_ref(), &said, &shown, &ctx.cancel).await?;
        let weight = self.config.select.clip_weight;
        semantic::add_image_scores(
            self.clip.as_deref(),
            ctx,
            weight,
            clips,
            &said,
            &mut relevance,
        )
        .await?;
        let count = narration.sentences.len();
        let mut parts = relevance.iter().skip(count);
        let empty = Vec::new();
        let spans = spans
            .iter()
            .map(|span| {
                let sentence = relevance.get(span.sentence).unwrap_or(&empty);
                let own = if span.part { parts.next() } else { None };
                match own {
                    Some(own) => own
                        .iter()
                        .zip(sentence)
                        .map(|(o, s)| PART_WEIGHT * o + (1.0 - PART_WEIGHT) * s)
                        .collect(),
                    None => sentence.clone(),
                }
            })
            .collect();
        let mut sentences = relevance;
        sentences.truncate(count);
        Ok(Scores { sentences, spans })
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
mod tests;
