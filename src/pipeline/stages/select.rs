//! Stage `select`: the timeline. Each sentence's span of the narration (from its start to the
//! next sentence's start) is cut into pieces no longer than the max clip length, and each
//! piece gets the clip that best fits that sentence, preferring clips not used yet.
//! Boundaries sit on the frame grid so the render's cuts land exactly where planned.

use super::artifacts::{self, FootageDoc, TermsDoc, Timeline, TimelineSegment};
use crate::config::{Config, frame_size};
use crate::media::ClipSource;
use crate::media::render::Transition;
use crate::pipeline::{JobCtx, StageError, StageOutput, StageWork};
use crate::providers::footage::Clip;
use crate::providers::tts::Narration;
use async_trait::async_trait;
use std::collections::HashSet;
use std::sync::Arc;

pub struct SelectStage {
    pub config: Arc<Config>,
}

#[async_trait]
impl StageWork for SelectStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let footage: FootageDoc = artifacts::load(ctx, artifacts::FOOTAGE)?;
        let narration: Narration = artifacts::load(ctx, artifacts::VOICE)?;
        let terms: Option<TermsDoc> = artifacts::load(ctx, artifacts::TERMS).ok();
        let (width, height) = frame_size(&ctx.spec.aspect).ok_or_else(|| {
            StageError::permanent(format!(
                "aspect '{}' is not one of 9:16, 16:9, 1:1",
                ctx.spec.aspect
            ))
        })?;
        let fps = self.config.video.fps;
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
        let max_frames = (self.config.video.max_clip_secs * f64::from(fps))
            .floor()
            .max(1.0) as u64;
        let timeline = plan_timeline(
            &footage.clips,
            &narration,
            &words,
            width,
            height,
            fps,
            max_frames,
        );
        if timeline.segments.is_empty() {
            return Err(StageError::permanent(
                "the narration is empty: nothing to put on the timeline",
            ));
        }
        artifacts::save(ctx, artifacts::TIMELINE, &timeline)?;
        let distinct: HashSet<String> = timeline
            .segments
            .iter()
            .map(|s| format!("{:?}", s.source))
            .collect();
        Ok(StageOutput {
            files: vec![artifacts::TIMELINE.into()],
            summary: format!(
                "{} cuts from {} clips",
                timeline.segments.len(),
                distinct.len()
            ),
        })
    }
}

fn word_set(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .map(str::to_lowercase)
        .collect()
}

pub fn plan_timeline(
    clips: &[Clip],
    narration: &Narration,
    sentence_words: &[HashSet<String>],
    width: u32,
    height: u32,
    fps: u32,
    max_frames: u64,
) -> Timeline {
    let to_frame = |t: f64| (t * f64::from(fps)).round() as u64;
    let total_frames = to_frame(narration.duration);
    let clip_words: Vec<HashSet<String>> = clips.iter().map(|c| word_set(&c.description)).collect();
    let mut uses = vec![0u32; clips.len()];
    let mut segments = Vec::new();
    let count = narration.sentences.len();
    for (i, sentence) in narration.sentences.iter().enumerate() {
        // A sentence owns the time until the next one starts, so cuts follow the speech.
        let start = if i == 0 { 0 } else { to_frame(sentence.start) };
        let end = match narration.sentences.get(i + 1) {
            Some(next) if i + 1 < count => to_frame(next.start),
            _ => total_frames,
        };
        let mut frame = start;
        while frame < end {
            let remaining = end - frame;
            let pieces = remaining.div_ceil(max_frames);
            let wanted = remaining.div_ceil(pieces);
            let empty = HashSet::new();
            let words = sentence_words.get(i).unwrap_or(&empty);
            let pick = best_clip(clips, &clip_words, &uses, words, i, wanted, fps);
            let clip = &clips[pick];
            let available = clip.duration.map_or(u64::MAX, |d| {
                ((d - 0.05).max(0.0) * f64::from(fps)).floor() as u64
            });
            let length = wanted.min(available).max(1).min(remaining);
            let start_in = in_point(clip, uses[pick], length, fps);
            uses[pick] += 1;
            segments.push(TimelineSegment {
                source: clip.source.clone(),
                start_in,
                start: frame as f64 / f64::from(fps),
                duration: length as f64 / f64::from(fps),
                sentence: i,
                description: clip.description.clone(),
                speed: 1.0,
                transition: Transition::None,
            });
            frame += length;
        }
    }
    Timeline {
        transition_secs: 0.0,
        width,
        height,
        fps,
        duration: total_frames as f64 / f64::from(fps),
        segments,
    }
}

/// Sentence match first, then words shared with the sentence and its terms, then freshness;
/// a clip too short for the piece is only taken when nothing longer exists.
fn best_clip(
    clips: &[Clip],
    clip_words: &[HashSet<String>],
    uses: &[u32],
    words: &HashSet<String>,
    sentence: usize,
    frames: u64,
    fps: u32,
) -> usize {
    let needed = frames as f64 / f64::from(fps);
    let score = |i: usize| {
        let clip = &clips[i];
        let fits = clip.duration.is_none_or(|d| d >= needed);
        let own = clip.sentence == Some(sentence);
        let shared = clip_words[i].intersection(words).count() as f64;
        let length = clip.duration.unwrap_or(f64::MAX);
        (
            fits,
            3.0 * f64::from(u8::from(own)) + shared - 4.0 * f64::from(uses[i]),
            length,
        )
    };
    (0..clips.len())
        .max_by(|a, b| {
            let (fa, sa, la) = score(*a);
            let (fb, sb, lb) = score(*b);
            fa.cmp(&fb)
                .then(sa.total_cmp(&sb))
                .then(la.total_cmp(&lb))
                .then(b.cmp(a))
        })
        .expect("the footage stage never hands over an empty clip list")
}

/// Where to start inside a video: a different part each time the clip is reused.
fn in_point(clip: &Clip, used: u32, frames: u64, fps: u32) -> f64 {
    match (&clip.source, clip.duration) {
        (ClipSource::Video(_), Some(duration)) => {
            let spare = duration - 0.05 - frames as f64 / f64::from(fps);
            if spare <= 0.0 {
                0.0
            } else {
                let step = (f64::from(used) * 0.618_034).fract();
                ((spare * step) * f64::from(fps)).floor() / f64::from(fps)
            }
        }
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tts::SpokenSentence;

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
        let t = plan_timeline(&clips, &narration(), &words, 1080, 1920, 30, 150);
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
        let t = plan_timeline(&clips, &narration(), &[], 1080, 1920, 30, 150);
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
        let t = plan_timeline(&clips, &narration(), &[], 1080, 1920, 30, 300);
        assert_eq!(t.segments[0].description, "y");
        assert_eq!(t.segments.last().unwrap().description, "x");
    }
}
