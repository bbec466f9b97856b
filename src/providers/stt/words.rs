//! From timed tokens to timed words, following openai-whisper: subword tokens merge into
//! words (a leading space starts a word; CJK-like scripts split per character), punctuation
//! joins its neighbour, and over-long words at pauses and sentence ends are trimmed.

use super::Word;
use super::decode::Segment;

/// Attached to the following word.
const PREPEND_PUNCTUATIONS: &str = "\"'“¿([{-";
/// Attached to the preceding word.
const APPEND_PUNCTUATIONS: &str = "\"'.。,，!！?？:：”)]}、";
/// Python's `string.punctuation`.
const ASCII_PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const SENTENCE_END_MARKS: &str = ".。!！?？";
/// Languages written without spaces between words.
const NO_SPACE_LANGUAGES: [&str; 6] = ["zh", "ja", "th", "lo", "my", "yue"];

#[derive(Clone, Debug, PartialEq)]
pub struct WordTiming {
    /// With its leading space, as decoded (" fox").
    pub text: String,
    pub tokens: Vec<u32>,
    /// Seconds from the start of the window.
    pub start: f64,
    pub end: f64,
    pub probability: f32,
}

/// Groups `tokens` into words; special tokens (≥ `eot`, `<|endoftext|>`) stand alone.
/// `decode` turns text tokens into text.
pub fn split_to_word_tokens(
    tokens: &[u32],
    eot: u32,
    language: &str,
    decode: impl Fn(&[u32]) -> String,
) -> (Vec<String>, Vec<Vec<u32>>) {
    let decode = |ids: &[u32]| {
        if ids.iter().any(|&t| t >= eot) {
            return String::from("<|special|>");
        }
        decode(ids)
    };
    let (subwords, groups) = split_on_unicode(tokens, decode);
    if NO_SPACE_LANGUAGES.contains(&language) {
        return (subwords, groups);
    }
    let mut words: Vec<String> = Vec::new();
    let mut word_tokens: Vec<Vec<u32>> = Vec::new();
    for (subword, group) in subwords.into_iter().zip(groups) {
        let special = group.first().is_some_and(|&t| t >= eot);
        let with_space = subword.starts_with(' ');
        let punctuation = ASCII_PUNCTUATION.contains(subword.trim());
        match (words.last_mut(), word_tokens.last_mut()) {
            (Some(word), Some(toks)) if !(special || with_space || punctuation) => {
                word.push_str(&subword);
                toks.extend(group);
            }
            _ => {
                words.push(subword);
                word_tokens.push(group);
            }
        }
    }
    (words, word_tokens)
}

/// Splits tokens into the shortest runs that decode to whole characters (a character's
/// UTF-8 bytes may span tokens).
fn split_on_unicode(
    tokens: &[u32],
    decode: impl Fn(&[u32]) -> String,
) -> (Vec<String>, Vec<Vec<u32>>) {
    let mut words = Vec::new();
    let mut groups = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    for &token in tokens {
        current.push(token);
        let text = decode(&current);
        // Four tokens always hold a whole character: give up on a real U+FFFD.
        if !text.contains('\u{FFFD}') || current.len() >= 4 {
            words.push(text);
            groups.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(decode(&current));
        groups.push(current);
    }
    (words, groups)
}

/// Joins opening punctuation to the next word and closing punctuation to the previous one;
/// the emptied entries stay (with no text and no tokens) to keep indices aligned.
pub fn merge_punctuations(words: &mut [WordTiming]) {
    if words.len() < 2 {
        return;
    }
    let mut j = words.len() - 1;
    for i in (0..words.len() - 1).rev() {
        let prev = &words[i];
        if prev.text.starts_with(' ') && PREPEND_PUNCTUATIONS.contains(prev.text.trim()) {
            let (text, tokens) = (
                std::mem::take(&mut words[i].text),
                std::mem::take(&mut words[i].tokens),
            );
            let following = &mut words[j];
            following.text = text + &following.text;
            following.tokens.splice(0..0, tokens);
        } else {
            j = i;
        }
    }
    let mut i = 0;
    for j in 1..words.len() {
        let following = &words[j];
        if !words[i].text.ends_with(' ')
            && !following.text.is_empty()
            && APPEND_PUNCTUATIONS.contains(following.text.as_str())
        {
            let (text, tokens) = (
                std::mem::take(&mut words[j].text),
                std::mem::take(&mut words[j].tokens),
            );
            words[i].text.push_str(&text);
            words[i].tokens.extend(tokens);
        } else {
            i = j;
        }
    }
}

/// openai-whisper's `add_word_timestamps` after the alignment: trims words that stretch
/// across sentence ends or pauses, merges punctuation, hands the words to their segments
/// (by token count) and reconciles segment and word times. `last_speech` carries the end
/// of speech across windows. Times in the result are absolute (`time_offset` added).
pub fn place_words(
    mut alignment: Vec<WordTiming>,
    segments: &[Segment],
    time_offset: f64,
    last_speech: &mut f64,
) -> Vec<Word> {
    let mut durations: Vec<f64> = alignment
        .iter()
        .map(|w| w.end - w.start)
        .filter(|&d| d > 0.0)
        .collect();
    durations.sort_by(f64::total_cmp);
    let median = median_of_sorted(&durations).min(0.7);
    let max_duration = median * 2.0;
    if !durations.is_empty() {
        for i in 1..alignment.len() {
            if alignment[i].end - alignment[i].start > max_duration {
                if SENTENCE_END_MARKS.contains(alignment[i].text.as_str()) {
                    alignment[i].end = alignment[i].start + max_duration;
                } else if SENTENCE_END_MARKS.contains(alignment[i - 1].text.as_str()) {
                    alignment[i].start = alignment[i].end - max_duration;
                }
            }
        }
    }
    merge_punctuations(&mut alignment);

    let mut out = Vec::new();
    let mut timings = alignment.into_iter();
    for segment in segments {
        let mut saved = 0;
        let mut words: Vec<Word> = Vec::new();
        while saved < segment.tokens.len() {
            let Some(t) = timings.next() else { break };
            saved += t.tokens.len();
            if !t.text.is_empty() {
                words.push(Word {
                    text: t.text.trim().to_string(),
                    start: time_offset + t.start,
                    end: time_offset + t.end,
                    probability: t.probability,
                });
            }
        }
        if words.is_empty() {
            continue;
        }
        // After a pause, the first word(s) tend to absorb the silence: cut them back.
        let long_first = words[0].end - words[0].start > max_duration
            || (words.len() > 1 && words[1].end - words[0].start > max_duration * 2.0);
        if words[0].end - *last_speech > median * 4.0 && long_first {
            if words.len() > 1 && words[1].end - words[1].start > max_duration {
                let boundary = (words[1].end / 2.0).max(words[1].end - max_duration);
                words[0].end = boundary;
                words[1].start = boundary;
            }
            words[0].start = (words[0].end - max_duration).max(0.0);
        }
        // Prefer the segment's own start/end where the first/last word overruns it.
        let first = &mut words[0];
        if segment.start < first.end && segment.start - 0.5 > first.start {
            first.start = (first.end - median).min(segment.start).max(0.0);
        }
        let last = words.len() - 1;
        let mut segment_end = segment.end;
        if segment.end > words[last].start && segment.end + 0.5 < words[last].end {
            words[last].end = (words[last].start + median).max(segment.end);
        } else {
            segment_end = words[last].end;
        }
        *last_speech = segment_end;
        out.extend(words);
    }
    out
}

/// numpy's median: the middle value, or the mean of the two middle ones; 0 when empty.
fn median_of_sorted(v: &[f64]) -> f64 {
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
#[path = "words_tests.rs"]
mod tests;
