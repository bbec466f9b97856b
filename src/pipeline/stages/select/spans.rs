//! The spans of the timeline. Each sentence owns the time from its start to the next
//! sentence's start; a span longer than the max clip length is cut into sub-spans at word
//! boundaries, at clause boundaries (after `,` `;` `:` `—`, before "and", "but", "which"…)
//! where one lies within reach, so a cut never lands mid-word and each piece shows what its
//! own words say. Word times come from the subtitles stage's Whisper timings when there are
//! any, else they are estimated within the sentence in proportion to characters.

use super::super::artifacts::WordsDoc;
use crate::providers::tts::Narration;

/// One span of the timeline, in frames.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub sentence: usize,
    /// First frame.
    pub start: u64,
    /// One past the last frame.
    pub end: u64,
    /// The words spoken during the span: the whole sentence when it is not split.
    pub text: String,
    /// One of several pieces of a longer sentence.
    pub part: bool,
}

/// Words that open a clause: a cut just before one falls between two thoughts.
const CLAUSE_OPENERS: &[&str] = &[
    "and", "but", "or", "nor", "so", "yet", "which", "who", "whom", "whose", "because", "while",
    "whereas", "although", "though", "when", "where", "until", "unless", "since", "if", "after",
    "before", "as",
];

/// Costs of the cut plan. Each piece costs one; cutting between two words of one clause
/// costs more than an extra piece, so clause boundaries win when the length allows them;
/// a cut inside a word is only made when no word boundary fits (a long pause).
const PIECE_COST: f64 = 1.0;
const WORD_CUT_COST: f64 = 1.5;
const FILLER_CUT_COST: f64 = 10.0;
/// Among plans of equal cuts, even pieces read better than a long one and a short one.
const BALANCE_WEIGHT: f64 = 0.25;

/// A word with the time it starts, seconds.
#[derive(Clone, Debug)]
struct TimedWord {
    text: String,
    start: f64,
}

/// A place a span may be cut: its frame, what cutting there costs.
#[derive(Clone, Copy, Debug)]
struct Cut {
    frame: u64,
    cost: f64,
}

/// The spans of every sentence, in order. `words`: per-word timings, used for the sentences
/// they plausibly time; `max_frames`: the longest piece.
pub fn spans(
    narration: &Narration,
    words: Option<&WordsDoc>,
    fps: u32,
    max_frames: u64,
) -> Vec<Span> {
    let rate = f64::from(fps);
    let to_frame = |t: f64| (t.max(0.0) * rate).round() as u64;
    let total = to_frame(narration.duration);
    let max_frames = max_frames.max(1);
    // Nothing shorter than a second, unless the max clip length itself is that short.
    let min_frames = u64::from(fps).min(max_frames / 2).max(1);
    let mut out = Vec::new();
    for (i, sentence) in narration.sentences.iter().enumerate() {
        // A sentence owns the time until the next one starts, so cuts follow the speech.
        let start = if i == 0 { 0 } else { to_frame(sentence.start) };
        let end = narration
            .sentences
            .get(i + 1)
            .map_or(total, |next| to_frame(next.start));
        if end <= start {
            continue;
        }
        if end - start <= max_frames {
            out.push(Span {
                sentence: i,
                start,
                end,
                text: sentence.text.clone(),
                part: false,
            });
            continue;
        }
        let timed = words
            .and_then(|doc| doc.sentences.get(i))
            .filter(|w| plausible(w, sentence.start, sentence.end))
            .map(|w| {
                w.iter()
                    .map(|w| TimedWord {
                        text: w.text.clone(),
                        start: w.start,
                    })
                    .collect()
            })
            .unwrap_or_else(|| estimate(&sentence.text, sentence.start, sentence.end));
        let starts: Vec<u64> = timed.iter().map(|w| to_frame(w.start)).collect();
        let cuts = plan_cuts(&timed, &starts, (start, end), min_frames, max_frames);
        let bounds: Vec<u64> = std::iter::once(start)
            .chain(cuts)
            .chain(std::iter::once(end))
            .collect();
        for piece in bounds.windows(2) {
            let (from, to) = (piece[0], piece[1]);
            // Words are assigned by where they start; the first and last pieces also take
            // any word rounding put outside the span.
            let (first, last) = (from == start, to == end);
            let said: Vec<&str> = timed
                .iter()
                .zip(&starts)
                .filter(|&(_, &f)| (first || f >= from) && (last || f < to))
                .map(|(w, _)| w.text.as_str())
                .collect();
            out.push(Span {
                sentence: i,
                start: from,
                end: to,
                // A piece in a pause says nothing of its own: its sentence speaks for it.
                text: if said.is_empty() {
                    sentence.text.clone()
                } else {
                    said.join(" ")
                },
                part: true,
            });
        }
    }
    out
}

/// Whisper's words are used when they lie within the sentence as the voice measured it and
/// move forward (a failed alignment gives every word time 0).
fn plausible(words: &[crate::providers::stt::Word], start: f64, end: f64) -> bool {
    const SLACK: f64 = 0.25;
    !words.is_empty()
        && words
            .iter()
            .all(|w| w.start >= start - SLACK && w.start <= end + SLACK)
        && words.windows(2).all(|p| p[1].start >= p[0].start)
        && (words.len() == 1 || words[words.len() - 1].start > words[0].start)
}

/// Word start times spread over `[start, end]` in proportion to the characters before each
/// word: speech time follows text length closely enough to find a word boundary.
fn estimate(text: &str, start: f64, end: f64) -> Vec<TimedWord> {
    let chars: Vec<char> = text.trim().chars().collect();
    let total = chars.len().max(1) as f64;
    let length = (end - start).max(0.0);
    let mut out = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        if chars[k].is_whitespace() {
            k += 1;
            continue;
        }
        let first = k;
        while k < chars.len() && !chars[k].is_whitespace() {
            k += 1;
        }
        out.push(TimedWord {
            text: chars[first..k].iter().collect(),
            start: start + length * first as f64 / total,
        });
    }
    out
}

/// What cutting just before word `k` costs: nothing extra at a clause boundary.
fn boundary_cost(words: &[TimedWord], k: usize) -> f64 {
    let before = words[k - 1]
        .text
        .trim_end_matches(['"', '\'', '”', '’', ')']);
    let after: String = words[k]
        .text
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    let after = after.trim_end_matches(|c: char| !c.is_alphanumeric());
    let ends_clause = before.ends_with([',', ';', ':', '—', '–', '.', '!', '?'])
        || before.ends_with(" -")
        || before == "-";
    if ends_clause || CLAUSE_OPENERS.contains(&after) {
        0.0
    } else {
        WORD_CUT_COST
    }
}

/// The frames to cut `span` at: the cheapest plan whose pieces are `min_frames` to
/// `max_frames` long, cutting at word boundaries, or anywhere when no boundary fits.
fn plan_cuts(
    words: &[TimedWord],
    starts: &[u64],
    (start, end): (u64, u64),
    min_frames: u64,
    max_frames: u64,
) -> Vec<u64> {
    let mut cuts: Vec<Cut> = Vec::new();
    for (k, &frame) in starts.iter().enumerate().take(words.len()).skip(1) {
        if frame <= start || frame >= end {
            continue;
        }
        let cost = boundary_cost(words, k);
        match cuts.iter_mut().find(|c| c.frame == frame) {
            Some(c) => c.cost = c.cost.min(cost),
            None => cuts.push(Cut { frame, cost }),
        }
    }
    cuts.sort_by_key(|c| c.frame);
    if let Some(plan) = cheapest(&cuts, (start, end), min_frames, max_frames) {
        return plan;
    }
    // No word boundary lets every piece fit (a long pause, a long word): any frame may be
    // cut, at a price that keeps the word boundaries wherever they do fit.
    let mut all = cuts;
    for frame in start + 1..end {
        if !all.iter().any(|c| c.frame == frame) {
            all.push(Cut {
                frame,
                cost: FILLER_CUT_COST,
            });
        }
    }
    all.sort_by_key(|c| c.frame);
    cheapest(&all, (start, end), min_frames, max_frames)
        .unwrap_or_else(|| even_cuts(start, end, max_frames))
}

/// Shortest-path over the cut points (sorted by frame): each piece between `min_frames` and
/// `max_frames` long; `None` when no plan exists.
fn cheapest(
    cuts: &[Cut],
    (start, end): (u64, u64),
    min_frames: u64,
    max_frames: u64,
) -> Option<Vec<u64>> {
    let pieces = (end - start).div_ceil(max_frames);
    let ideal = (end - start) as f64 / pieces as f64;
    let nodes: Vec<Cut> = std::iter::once(Cut {
        frame: start,
        cost: 0.0,
    })
    .chain(cuts.iter().copied())
    .chain(std::iter::once(Cut {
        frame: end,
        cost: 0.0,
    }))
    .collect();
    // best[j]: the cheapest plan reaching node j, and the node before it.
    let mut best: Vec<Option<(f64, usize)>> = vec![None; nodes.len()];
    best[0] = Some((0.0, 0));
    for j in 1..nodes.len() {
        for i in (0..j).rev() {
            let length = nodes[j].frame - nodes[i].frame;
            if length > max_frames {
                break;
            }
            let Some((before, _)) = best[i] else {
                continue;
            };
            if length < min_frames {
                continue;
            }
            let balance = ((length as f64 - ideal) / ideal).powi(2);
            let cost = before + PIECE_COST + nodes[j].cost + BALANCE_WEIGHT * balance;
            if best[j].is_none_or(|(b, _)| cost < b) {
                best[j] = Some((cost, i));
            }
        }
    }
    let last = nodes.len() - 1;
    best[last]?;
    let mut frames = Vec::new();
    let mut at = last;
    while at != 0 {
        let (_, prev) = best[at]?;
        if prev != 0 {
            frames.push(nodes[prev].frame);
        }
        at = prev;
    }
    frames.reverse();
    Some(frames)
}

/// Equal pieces on the frame grid: the plan of last resort.
fn even_cuts(start: u64, end: u64, max_frames: u64) -> Vec<u64> {
    let length = end - start;
    let pieces = length.div_ceil(max_frames);
    (1..pieces).map(|k| start + length * k / pieces).collect()
}

#[cfg(test)]
#[path = "spans_tests.rs"]
mod tests;
