//! Relevance of clips to sentences for the semantic concat mode: each clip turned into the
//! text of what is known of it, sentences and clips embedded together (in batches, each
//! text cached by content by the embedder), compared by cosine similarity.

use crate::providers::ProviderError;
use crate::providers::embed::{DIM, Embedder, Embedding, cosine};
use crate::providers::footage::Clip;
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
}
