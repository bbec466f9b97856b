//! Relevance of clips to sentences for the semantic concat mode: each clip turned into the
//! text of what is known of it, sentences and clips embedded together (in batches, each
//! text cached by content by the embedder), compared by cosine similarity. With CLIP weights
//! configured (`select.clip_model`), what each clip's keyframes show is scored against the
//! sentences too and blended in.

use crate::media::{MediaError, keyframes};
use crate::pipeline::{JobCtx, LogLevel, StageError};
use crate::providers::ProviderError;
use crate::providers::embed::{DIM, Embedder, Embedding, cosine};
use crate::providers::footage::Clip;
use crate::providers::vision::ClipScorer;
use futures_util::{StreamExt, stream};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// What a clip shows, as text: its description (Pexels slug + alt, Pixabay tags, local
/// metadata or file name), its tags, and the search term that found it.
pub fn clip_text(clip: &Clip) -> String {
    let mut text = clip.description.trim().to_string();
    let lower = text.to_lowercase();
    for tag in &clip.tags {
        if !lower.contains(&tag.to_lowercase()) {
            text.push_str(", ");
            text.push_str(tag);
        }
    }
    if let Some(term) = clip.search_term.as_deref().filter(|t| !t.trim().is_empty())
        && !lower.contains(&term.to_lowercase())
    {
        text.push_str(" (");
        text.push_str(term.trim());
        text.push(')');
    }
    text
}

/// How much the narration as a whole counts beside the sentence itself: a clip on the
/// video's subject is preferred over one that only shares a word with the sentence (cat
/// food cans for "the food on our plates" in a video about bees).
const CONTEXT_WEIGHT: f32 = 0.6;
/// How much shared content words count: stock descriptions are short keyword lists, where
/// an exact word ("anglerfish", "waggle") says more than a 384-d sentence vector of it.
const LEXICAL_WEIGHT: f32 = 0.2;

/// `relevance[sentence][clip]`: cosine similarity of each sentence with each clip's text,
/// plus `CONTEXT_WEIGHT` × the similarity of the whole narration (the mean of its
/// sentences) with the clip, plus `LEXICAL_WEIGHT` × their shared content words (over the
/// square root of the clip's word count, so long tag lists do not win by length).
/// `sentences` are the sentences of one video.
pub async fn relevance(
    embedder: &dyn Embedder,
    sentences: &[&str],
    clip_texts: &[&str],
    cancel: &CancellationToken,
) -> Result<Vec<Vec<f32>>, ProviderError> {
    let texts: Vec<&str> = sentences.iter().chain(clip_texts).copied().collect();
    let vectors = embedder.embed(&texts, cancel).await?;
    let (said, shown) = vectors.split_at(sentences.len());
    let context = mean_direction(said);
    let said_words: Vec<_> = sentences.iter().map(|t| content_words(t)).collect();
    let shown_words: Vec<_> = clip_texts.iter().map(|t| content_words(t)).collect();
    Ok(said
        .iter()
        .enumerate()
        .map(|(i, s)| {
            shown
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let shared = said_words[i].intersection(&shown_words[j]).count() as f32;
                    let overlap = shared / (shown_words[j].len().max(1) as f32).sqrt();
                    cosine(s, c)
                        + CONTEXT_WEIGHT * context.as_ref().map_or(0.0, |m| cosine(m, c))
                        + LEXICAL_WEIGHT * overlap
                })
                .collect()
        })
        .collect())
}

/// Clips whose keyframes ffmpeg extracts at once: decoding is the cost, and a few parallel
/// runs keep the cores busy without starving the other tasks' stages.
const KEYFRAME_RUNS: usize = 4;

/// Adds `weight` × the CLIP image score to `relevance[sentence][clip]` when a scorer is
/// configured: each clip's keyframes are extracted into the stage's scratch folder, scored
/// against every sentence, and the best keyframe counts (see [`blend`]). A clip whose
/// keyframes cannot be extracted is told in the log and scored as the average clip; a
/// folder that cannot be loaded fails the stage, naming the file and `select.clip_model`.
pub async fn add_image_scores(
    scorer: Option<&ClipScorer>,
    ctx: &JobCtx,
    weight: f64,
    clips: &[Clip],
    sentences: &[&str],
    relevance: &mut [Vec<f32>],
) -> Result<(), StageError> {
    let Some(scorer) = scorer else {
        return Ok(());
    };
    if weight <= 0.0 || clips.is_empty() || sentences.is_empty() {
        return Ok(());
    }
    let size = scorer.image_size().await?;
    let dir = ctx.scratch_dir().join("keyframes");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|source| MediaError::Io {
            context: format!("creating {}", dir.display()),
            source,
        })?;
    ctx.progress(
        None,
        format!("extracting keyframes of {} clips", clips.len()),
    );
    // The futures are built first: a closure inside the stream would not be `Send` for
    // every lifetime, which the stage's boxed future needs.
    let jobs: Vec<_> = clips
        .iter()
        .enumerate()
        .map(|(i, clip)| {
            let (stem, dir) = (format!("clip{i}"), &dir);
            async move {
                let frames =
                    keyframes::extract(&clip.source, clip.duration, size, dir, &stem, &ctx.cancel)
                        .await;
                (clip, frames)
            }
        })
        .collect();
    let extracted: Vec<_> = stream::iter(jobs).buffered(KEYFRAME_RUNS).collect().await;
    let mut frames: Vec<Vec<PathBuf>> = Vec::with_capacity(clips.len());
    for (clip, result) in extracted {
        frames.push(match result {
            Ok(found) => found,
            Err(MediaError::Cancelled) => return Err(StageError::cancelled()),
            Err(e) => {
                ctx.log(
                    LogLevel::Warn,
                    format!(
                        "no keyframes of \"{}\" for image scoring ({e}): it is scored by its text",
                        clip.description
                    ),
                );
                Vec::new()
            }
        });
    }
    let all: Vec<PathBuf> = frames.iter().flatten().cloned().collect();
    // Generated backgrounds only: nothing to look at, so the weights are not even loaded.
    if all.is_empty() {
        return Ok(());
    }
    ctx.model_ready(Some(scorer.warm_up().await?));
    ctx.progress(None, format!("scoring {} keyframes with CLIP", all.len()));
    let scores = scorer.score(&all, sentences, &ctx.cancel).await?;
    let counts: Vec<usize> = frames.iter().map(Vec::len).collect();
    blend(
        relevance,
        &image_scores(&counts, &scores, sentences.len()),
        weight as f32,
    );
    Ok(())
}

/// `image[sentence][clip]`: the best of the clip's keyframes for the sentence, `None` for a
/// clip without keyframes. `scores[frame][sentence]` lists the frames clip by clip, `counts`
/// saying how many each clip has.
pub fn image_scores(
    counts: &[usize],
    scores: &[Vec<f32>],
    sentences: usize,
) -> Vec<Vec<Option<f32>>> {
    let mut image = vec![vec![None; counts.len()]; sentences];
    let mut frame = 0;
    for (clip, &count) in counts.iter().enumerate() {
        for row in scores.iter().skip(frame).take(count) {
            for (sentence, &score) in row.iter().enumerate().take(sentences) {
                let best: &mut Option<f32> = &mut image[sentence][clip];
                *best = Some(best.map_or(score, |b| b.max(score)));
            }
        }
        frame += count;
    }
    image
}

/// `relevance += weight × image`, sentence by sentence. A clip with no image score gets the
/// mean of the others' for that sentence, so having no keyframes (a generated background, a
/// file ffmpeg could not read) neither helps nor penalises it.
pub fn blend(relevance: &mut [Vec<f32>], image: &[Vec<Option<f32>>], weight: f32) {
    for (row, seen) in relevance.iter_mut().zip(image) {
        let known: Vec<f32> = seen.iter().flatten().copied().collect();
        if known.is_empty() {
            continue;
        }
        let mean = known.iter().sum::<f32>() / known.len() as f32;
        for (score, shown) in row.iter_mut().zip(seen) {
            *score += weight * shown.unwrap_or(mean);
        }
    }
}

/// Words that say nothing about what footage shows.
const STOP: &[&str] = &[
    "the", "and", "that", "with", "this", "from", "into", "their", "they", "them", "for", "are",
    "was", "but", "its", "our", "your", "you", "has", "have", "not", "all", "one", "can", "may",
    "more", "most", "some", "than", "then", "when", "where", "while", "which", "what", "who",
    "how", "why", "over", "under", "out", "off", "just", "much", "many", "every", "each", "even",
    "yet", "also", "only", "own", "very", "too", "about",
];

/// Lower-case words of three letters or more, stop words out, a plural "s" dropped.
fn content_words(text: &str) -> std::collections::HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() > 2 && !STOP.contains(&w.as_str()))
        .map(|w| w.trim_end_matches('s').to_string())
        .collect()
}

/// The normalized mean of unit vectors (`None` when they cancel out or there are none).
fn mean_direction(vectors: &[Embedding]) -> Option<Embedding> {
    let mut mean = [0f32; DIM];
    for v in vectors {
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x;
        }
    }
    let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm > 1e-6).then(|| {
        for m in &mut mean {
            *m /= norm;
        }
        mean
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ClipSource;
    use crate::pipeline::Stage;
    use crate::pipeline::events::EventKind;
    use crate::pipeline::job::Report;
    use std::sync::Arc;

    /// What the stage told the user, as `kind: text` lines.
    fn told(reports: &mut tokio::sync::mpsc::UnboundedReceiver<Report>) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(Report::Event(event)) = reports.try_recv() {
            lines.push(match event.kind {
                EventKind::Log { message, .. } => format!("log: {message}"),
                EventKind::Progress { message, .. } => format!("progress: {message}"),
                EventKind::ModelReady { model, .. } => format!("model: {model}"),
                other => format!("{other:?}"),
            });
        }
        lines
    }

    #[tokio::test]
    async fn stage_scores_only_what_has_keyframes_and_names_a_bad_folder() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("clip");
        std::fs::create_dir_all(&model).unwrap();
        let config = r#"{"vision_config": {"image_size": 32, "patch_size": 8}}"#;
        std::fs::write(model.join("config.json"), config).unwrap();
        std::fs::write(model.join("tokenizer.json"), "{}").unwrap();
        std::fs::write(model.join("model.safetensors"), b"not weights").unwrap();
        let scorer = ClipScorer::new(model, "cpu".into(), None);
        let (reports, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ctx = JobCtx {
            task: "t".into(),
            stage: Stage::Select,
            attempt: 1,
            spec: Arc::new(crate::store::TaskSpec::default()),
            dir: dir.path().join("task"),
            cancel: CancellationToken::new(),
            reports,
        };
        let broken = dir.path().join("broken.mp4");
        std::fs::write(&broken, b"not a video").unwrap();
        let clip = |source, description: &str| {
            Clip::new(source, Some(3.0), (64, 64), description.into(), "local")
        };
        let nothing_to_see = [
            clip(ClipSource::Lavfi("testsrc2".into()), "generated"),
            clip(ClipSource::Video(broken), "broken clip"),
        ];
        let mut relevance = vec![vec![0.5, 0.4]];
        let said = ["a sentence"];
        add_image_scores(
            Some(&scorer),
            &ctx,
            0.5,
            &nothing_to_see,
            &said,
            &mut relevance,
        )
        .await
        .unwrap();
        // No keyframes anywhere: scores untouched, and the (unloadable) model never loaded.
        assert_eq!(relevance, vec![vec![0.5, 0.4]]);
        let lines = told(&mut rx);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("log: no keyframes of \"broken clip\""))
        );
        assert!(!lines.iter().any(|l| l.starts_with("model:")), "{lines:?}");

        // A still with pixels reaches the model, whose bad weights fail the stage by name.
        let still = dir.path().join("still.ppm");
        let mut ppm = b"P6\n2 2\n255\n".to_vec();
        ppm.extend([200u8; 12]);
        std::fs::write(&still, ppm).unwrap();
        let shown = [clip(ClipSource::Image(still), "still")];
        let err = add_image_scores(Some(&scorer), &ctx, 0.5, &shown, &said, &mut relevance)
            .await
            .unwrap_err();
        assert!(err.message.contains("model.safetensors"), "{}", err.message);
        assert!(err.message.contains("select.clip_model"), "{}", err.message);
        // Without a scorer, or at weight 0, nothing happens at all.
        add_image_scores(None, &ctx, 0.5, &shown, &said, &mut relevance)
            .await
            .unwrap();
        add_image_scores(Some(&scorer), &ctx, 0.0, &shown, &said, &mut relevance)
            .await
            .unwrap();
        assert_eq!(relevance, vec![vec![0.5, 0.4]]);
    }

    #[test]
    fn clip_text_adds_tags_and_the_term_once() {
        let mut clip = Clip::new(
            ClipSource::Video("a.mp4".into()),
            Some(10.0),
            (1920, 1080),
            "ginger cat sleeping on a sofa".into(),
            "pexels",
        );
        clip.tags = vec!["cat".into(), "pet".into()];
        clip.search_term = Some("cozy home".into());
        assert_eq!(
            clip_text(&clip),
            "ginger cat sleeping on a sofa, pet (cozy home)"
        );
    }

    #[test]
    fn image_score_is_the_best_keyframe_per_clip() {
        // Clip 0 has two frames, clip 1 none, clip 2 one; two sentences.
        let scores = vec![vec![0.1, 0.5], vec![0.3, -0.2], vec![0.9, 0.0]];
        let image = image_scores(&[2, 0, 1], &scores, 2);
        assert_eq!(image[0], vec![Some(0.3), None, Some(0.9)]);
        assert_eq!(image[1], vec![Some(0.5), None, Some(0.0)]);
    }

    #[test]
    fn blend_can_overturn_the_text_choice_and_spares_clips_without_frames() {
        // The text prefers clip 0 ("red car" for "a red car"), the pictures show clip 1 is it.
        let mut relevance = vec![vec![0.50, 0.45, 0.40]];
        let image = vec![vec![Some(0.10), Some(0.30), None]];
        let best = |r: &[f32]| (0..r.len()).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap();
        assert_eq!(best(&relevance[0]), 0);
        blend(&mut relevance, &image, 0.5);
        assert_eq!(best(&relevance[0]), 1);
        // The clip without keyframes got the mean image score (0.2), no more, no less.
        assert!((relevance[0][2] - (0.40 + 0.5 * 0.2)).abs() < 1e-6);
        // Weight 0, or no keyframe anywhere, changes nothing.
        let mut same = vec![vec![0.5, 0.45]];
        blend(&mut same, &[vec![Some(0.1), Some(0.9)]], 0.0);
        blend(&mut same, &[vec![None, None]], 1.0);
        assert_eq!(same, vec![vec![0.5, 0.45]]);
    }
}
