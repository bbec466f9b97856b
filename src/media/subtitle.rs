//! Subtitles: sentence timings → cues of at most two balanced lines (CJK-aware), written as
//! SRT/VTT sidecars and an ASS script for burning in (`format`).

mod format;
mod highlight;

pub use format::{AssStyle, to_ass, to_srt, to_vtt};
pub use highlight::{TimedWord, to_ass_highlighted};

use crate::providers::tts::SpokenSentence;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    /// Seconds from the start of the narration.
    pub start: f64,
    pub end: f64,
    /// One or two lines separated by '\n'.
    pub text: String,
}

/// A unit that is never broken inside: a word, or one CJK character with its punctuation.
#[derive(Clone, Debug)]
struct Token {
    text: String,
    width: usize,
    space_before: bool,
}

/// One cue per sentence; sentences too long for two lines become several cues that share
/// the sentence's time in proportion to their characters. `max_line_chars` is a width in
/// columns, a CJK character counting as two.
pub fn cues_from_sentences(sentences: &[SpokenSentence], max_line_chars: usize) -> Vec<Cue> {
    // Below two columns a CJK character could never fit and the splitter would loop on
    // overlong tokens; config allows 10–80 anyway.
    let max = max_line_chars.max(2);
    let mut cues = Vec::new();
    for sentence in sentences {
        let tokens = tokenize(&sentence.text, max);
        let span = sentence.end - sentence.start;
        if tokens.is_empty() || !span.is_finite() || span <= 0.0 {
            continue;
        }
        let chunks = split_chunks(&tokens, max);
        let weight = |range: &(usize, usize)| -> usize {
            tokens[range.0..range.1]
                .iter()
                .map(|t| t.text.chars().count())
                .sum()
        };
        let total: usize = chunks.iter().map(weight).sum::<usize>().max(1);
        let mut done = 0;
        for (i, range) in chunks.iter().enumerate() {
            let start = sentence.start + span * done as f64 / total as f64;
            done += weight(range);
            // The last chunk ends exactly at the sentence end, whatever rounding did.
            let end = if i + 1 == chunks.len() {
                sentence.end
            } else {
                sentence.start + span * done as f64 / total as f64
            };
            let text = wrap_two(&tokens[range.0..range.1], max).join("\n");
            cues.push(Cue { start, end, text });
        }
    }
    cues
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

fn char_width(c: char) -> usize {
    if is_wide(c) { 2 } else { 1 }
}

/// Punctuation that must not start a line.
fn is_closing(c: char) -> bool {
    "，。、！？：；」』）】》〉…・ー～,.!?;:)]}%".contains(c)
}

/// Punctuation that must not end a line.
fn is_opening(c: char) -> bool {
    "「『（【《〈“‘([{".contains(c)
}

/// Clause ends: a good place to break a line or a long sentence.
fn is_clause_end(c: char) -> bool {
    ",;:，、；：。！？.!?".contains(c)
}

fn tokenize(text: &str, max: usize) -> Vec<Token> {
    let mut raw: Vec<Token> = Vec::new();
    let mut space = false;
    let mut word: Option<Token> = None;
    for c in text.chars() {
        if c.is_whitespace() {
            raw.extend(word.take());
            space = true;
        } else if is_wide(c) {
            raw.extend(word.take());
            raw.push(Token {
                text: c.into(),
                width: 2,
                space_before: space,
            });
            space = false;
        } else {
            let current = word.get_or_insert_with(|| Token {
                text: String::new(),
                width: 0,
                space_before: std::mem::take(&mut space),
            });
            current.text.push(c);
            current.width += 1;
        }
    }
    raw.extend(word);

    // Without a space between them, closing punctuation sticks to what precedes it and
    // opening punctuation to what follows (the usual CJK line-breaking rules).
    let mut glued: Vec<Token> = Vec::with_capacity(raw.len());
    for token in raw {
        match glued.last_mut() {
            Some(prev)
                if !token.space_before
                    && (token.text.starts_with(is_closing) || prev.text.ends_with(is_opening)) =>
            {
                prev.text.push_str(&token.text);
                prev.width += token.width;
            }
            _ => glued.push(token),
        }
    }

    // A token wider than a line (a URL, a very long word) is cut so every line can fit.
    let mut tokens = Vec::with_capacity(glued.len());
    for token in glued {
        if token.width <= max {
            tokens.push(token);
            continue;
        }
        let mut piece = Token {
            text: String::new(),
            width: 0,
            space_before: token.space_before,
        };
        for c in token.text.chars() {
            if piece.width + char_width(c) > max && !piece.text.is_empty() {
                let next = Token {
                    text: String::new(),
                    width: 0,
                    space_before: false,
                };
                tokens.push(std::mem::replace(&mut piece, next));
            }
            piece.text.push(c);
            piece.width += char_width(c);
        }
        tokens.push(piece);
    }
    tokens
}

fn width(tokens: &[Token]) -> usize {
    let spaces = tokens.iter().skip(1).filter(|t| t.space_before).count();
    tokens.iter().map(|t| t.width).sum::<usize>() + spaces
}

fn join(tokens: &[Token]) -> String {
    let mut line = String::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 && token.space_before {
            line.push(' ');
        }
        line.push_str(&token.text);
    }
    line
}

/// The best place to break `tokens` into two lines of at most `max` columns, if any:
/// lines as even as possible, a clause end preferred, the top line shorter on a tie.
fn best_break(tokens: &[Token], max: usize) -> Option<usize> {
    (1..tokens.len())
        .filter_map(|k| {
            let (top, bottom) = (width(&tokens[..k]), width(&tokens[k..]));
            if top > max || bottom > max {
                return None;
            }
            let clause = tokens[k - 1].text.ends_with(is_clause_end);
            // Costs in half columns so the tie-break can weigh less than one column.
            let cost = 2 * top.max(bottom) + usize::from(top > bottom)
                - if clause {
                    2 * (max / 8).min(top.max(bottom))
                } else {
                    0
                };
            Some((cost, k))
        })
        .min()
        .map(|(_, k)| k)
}

fn fits_two_lines(tokens: &[Token], max: usize) -> bool {
    width(tokens) <= max || best_break(tokens, max).is_some()
}

fn wrap_two(tokens: &[Token], max: usize) -> Vec<String> {
    match best_break(tokens, max) {
        Some(k) if width(tokens) > max => vec![join(&tokens[..k]), join(&tokens[k..])],
        _ => vec![join(tokens)],
    }
}

/// Splits a sentence into the fewest chunks that fit two lines each, balanced so the last
/// cue is not a stray word, preferring chunk ends at clause punctuation.
fn split_chunks(tokens: &[Token], max: usize) -> Vec<(usize, usize)> {
    let n = tokens.len();
    if fits_two_lines(tokens, max) {
        return vec![(0, n)];
    }
    // Greedy packing gives the minimum number of chunks (fitting is monotone).
    let mut count = 0;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && fits_two_lines(&tokens[start..end + 1], max) {
            end += 1;
        }
        count += 1;
        start = end;
    }
    // cost[j][i]: best cost of the first i tokens in j chunks; chunks never exceed two
    // lines, so only starts within that window are tried.
    let target = 2 * max;
    let window = target + 2;
    let inf = i64::MAX / 4;
    let mut cost = vec![vec![inf; n + 1]; count + 1];
    let mut from = vec![vec![0usize; n + 1]; count + 1];
    cost[0][0] = 0;
    for j in 1..=count {
        for i in 1..=n {
            for p in i.saturating_sub(window)..i {
                if cost[j - 1][p] >= inf || !fits_two_lines(&tokens[p..i], max) {
                    continue;
                }
                let slack = target as i64 - width(&tokens[p..i]) as i64;
                let clause = i < n && tokens[i - 1].text.ends_with(is_clause_end);
                let bonus = if clause { (max * max / 4) as i64 } else { 0 };
                let c = cost[j - 1][p] + slack * slack - bonus;
                if c < cost[j][i] {
                    cost[j][i] = c;
                    from[j][i] = p;
                }
            }
        }
    }
    let mut ranges = Vec::with_capacity(count);
    let mut end = n;
    for j in (1..=count).rev() {
        let start = from[j][end];
        ranges.push((start, end));
        end = start;
    }
    ranges.reverse();
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(text: &str, start: f64, end: f64) -> SpokenSentence {
        SpokenSentence {
            text: text.into(),
            start,
            end,
        }
    }

    fn line_width(line: &str) -> usize {
        line.chars().map(char_width).sum()
    }

    #[test]
    fn short_sentence_is_one_cue_on_one_line() {
        let cues = cues_from_sentences(&[sentence("  Cats purr.  ", 1.0, 2.5)], 28);
        assert_eq!(
            cues,
            vec![Cue {
                start: 1.0,
                end: 2.5,
                text: "Cats purr.".into()
            }]
        );
    }

    #[test]
    fn two_lines_are_balanced_not_greedy() {
        let text = "Cats purr when they are happy and also when they are hurt";
        let cues = cues_from_sentences(&[sentence(text, 0.0, 3.0)], 40);
        assert_eq!(cues.len(), 1);
        let lines: Vec<&str> = cues[0].text.lines().collect();
        assert_eq!(lines.len(), 2);
        // Greedy filling would give 38 + 19 columns; the best split's longer line is 29.
        let words: Vec<&str> = text.split(' ').collect();
        let best = (1..words.len())
            .map(|k| words[..k].join(" ").len().max(words[k..].join(" ").len()))
            .min();
        assert_eq!(lines.iter().map(|l| l.len()).max(), best, "{lines:?}");
        // On a tie the top line is the shorter one.
        let tie = cues_from_sentences(&[sentence("ab cd ef", 0.0, 1.0)], 5);
        assert_eq!(tie[0].text, "ab\ncd ef");
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn long_sentence_splits_and_covers_its_span_exactly() {
        let text = "Scientists still argue about how exactly cats make the sound, but most agree \
                    it comes from the muscles of the larynx twitching many times per second \
                    while the cat breathes in and out, which is why it never stops.";
        let cues = cues_from_sentences(
            &[sentence(text, 2.0, 12.0), sentence("Next.", 12.5, 13.0)],
            28,
        );
        let parts = &cues[..cues.len() - 1];
        assert!(parts.len() >= 3, "{parts:?}");
        assert_eq!(parts[0].start, 2.0);
        assert_eq!(parts[parts.len() - 1].end, 12.0);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        let mut words = Vec::new();
        for cue in parts {
            assert!(cue.end > cue.start);
            let lines: Vec<&str> = cue.text.lines().collect();
            assert!(lines.len() <= 2, "{lines:?}");
            assert!(lines.iter().all(|l| l.len() <= 28), "{lines:?}");
            words.extend(cue.text.split_whitespace());
            // Time share follows the characters.
            let chars = cue.text.chars().filter(|c| !c.is_whitespace()).count() as f64;
            let total = text.chars().filter(|c| !c.is_whitespace()).count() as f64;
            assert!(((cue.end - cue.start) - 10.0 * chars / total).abs() < 1e-9);
        }
        assert_eq!(
            words.join(" "),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert_eq!(cues.last().map(|c| c.text.as_str()), Some("Next."));
    }

    #[test]
    fn cjk_breaks_between_characters_and_counts_two_columns() {
        let text = "猫咪发出呼噜声通常表示它们感到满足和放松，但有时候也可能意味着它们身体不舒服或者正在自我安慰。";
        let cues = cues_from_sentences(&[sentence(text, 0.0, 6.0)], 20);
        assert!(cues.len() >= 2, "{cues:?}");
        let mut joined = String::new();
        for cue in &cues {
            for line in cue.text.lines() {
                assert!(line_width(line) <= 20, "{line}");
                assert!(!line.starts_with(is_closing), "{line}");
                joined.push_str(line);
            }
        }
        assert_eq!(joined, text);
        assert_eq!(cues.last().map(|c| c.end), Some(6.0));
    }

    #[test]
    fn overlong_word_is_cut_and_empty_sentences_skipped() {
        let url = "https://example.com/a/very/long/path/that/never/ends/at/all";
        let cues = cues_from_sentences(&[sentence(url, 0.0, 1.0), sentence("  ", 1.0, 2.0)], 20);
        assert!(!cues.is_empty());
        assert!(
            cues.iter()
                .all(|c| c.text.lines().all(|l| l.chars().count() <= 20))
        );
        assert!(cues.iter().all(|c| c.end <= 1.0));
    }
}
