//! Maps recognized words back onto the script's own words, so subtitles show the script's
//! spelling and punctuation with the recognizer's timing.
//!
//! Both sides are normalized (lowercase, punctuation stripped, digits kept as they are) and
//! aligned with an edit-distance DP whose substitution cost is the character-level distance
//! of the two words: a misheard "liver" for "river" pairs up cheaply, unrelated words pair
//! up only when that beats skipping both. Script words left without a partner get times
//! interpolated between their timed neighbours.

use super::Word;

/// Cost of leaving a word (on either side) without a partner. A substitution costs at most
/// 1, so two unrelated words in the same slot are paired rather than both skipped.
const GAP: f32 = 1.0;
/// The least time an interpolated word gets, in seconds; below this, neighbours lend time.
const MIN_WORD: f64 = 0.05;

/// For each sentence, its whitespace-separated words (as written) with start/end times taken
/// from `words` (the recognizer's output, in time order). Every script word gets a time;
/// times never decrease. With no recognized words at all, every time is 0.
pub fn align_to_script(words: &[Word], sentences: &[String]) -> Vec<Vec<Word>> {
    let script: Vec<(usize, &str)> = sentences
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.split_whitespace().map(move |w| (i, w)))
        .collect();
    let script_norm: Vec<Vec<char>> = script.iter().map(|(_, w)| normalize(w)).collect();
    // Punctuation-only recognized "words" carry no sound of their own: leave them out.
    let heard: Vec<(&Word, Vec<char>)> = words
        .iter()
        .map(|w| (w, normalize(&w.text)))
        .filter(|(_, n)| !n.is_empty())
        .collect();
    let heard_norm: Vec<Vec<char>> = heard.iter().map(|(_, n)| n.clone()).collect();

    let mut timed: Vec<Option<(f64, f64, f32)>> = align_tokens(&script_norm, &heard_norm)
        .into_iter()
        .map(|pair| {
            pair.map(|(j, cost)| {
                let w = heard[j].0;
                (w.start, w.end, w.probability * (1.0 - cost))
            })
        })
        .collect();
    let first_heard = heard.first().map_or(0.0, |(w, _)| w.start);
    let last_heard = heard.last().map_or(0.0, |(w, _)| w.end);
    fill_gaps(&mut timed, &script_norm, first_heard, last_heard);

    let mut out: Vec<Vec<Word>> = vec![Vec::new(); sentences.len()];
    for ((sentence, text), time) in script.iter().zip(timed) {
        let (start, end, probability) = time.unwrap_or((0.0, 0.0, 0.0));
        out[*sentence].push(Word {
            text: (*text).to_string(),
            start,
            end,
            probability,
        });
    }
    out
}

/// Lowercase letters and digits only: "Bank." → "bank", "42%" → "42", "don't" → "dont".
fn normalize(word: &str) -> Vec<char> {
    word.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// For each script token, the heard token paired with it and the substitution cost (0 for
/// an exact match), by minimum total cost; pairs never cross.
fn align_tokens(script: &[Vec<char>], heard: &[Vec<char>]) -> Vec<Option<(usize, f32)>> {
    let (n, m) = (script.len(), heard.len());
    let width = m + 1;
    let mut cost = vec![0f32; (n + 1) * width];
    // 0 = diagonal (pair), 1 = up (script word unpaired), 2 = left (heard word unpaired).
    let mut step = vec![0u8; (n + 1) * width];
    for j in 1..=m {
        cost[j] = j as f32 * GAP;
        step[j] = 2;
    }
    let mut scratch = Vec::new();
    for i in 1..=n {
        cost[i * width] = i as f32 * GAP;
        step[i * width] = 1;
        for j in 1..=m {
            let sub = substitution_cost(&script[i - 1], &heard[j - 1], &mut scratch);
            let diag = cost[(i - 1) * width + j - 1] + sub;
            let up = cost[(i - 1) * width + j] + GAP;
            let left = cost[i * width + j - 1] + GAP;
            // Ties go to pairing: a word heard in the right slot is the likelier story.
            let (best, dir) = if diag <= up && diag <= left {
                (diag, 0)
            } else if up <= left {
                (up, 1)
            } else {
                (left, 2)
            };
            cost[i * width + j] = best;
            step[i * width + j] = dir;
        }
    }
    let mut pairs = vec![None; n];
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        match step[i * width + j] {
            0 => {
                let sub = substitution_cost(&script[i - 1], &heard[j - 1], &mut scratch);
                pairs[i - 1] = Some((j - 1, sub));
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    pairs
}

/// Character edit distance divided by the longer length: 0 for equal words, 1 for words
/// with nothing in common (or an empty one).
fn substitution_cost(a: &[char], b: &[char], row: &mut Vec<usize>) -> f32 {
    if a == b {
        return 0.0;
    }
    let longest = a.len().max(b.len());
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    // One-row Levenshtein.
    row.clear();
    row.extend(0..=b.len());
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            let replace = diagonal + usize::from(ca != cb);
            row[j + 1] = replace.min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()] as f32 / longest as f32
}

/// Gives every unpaired script word a time between its timed neighbours, in proportion to
/// its length; where the neighbours leave no room, each lends the second half (before) or
/// first half (after) of its own span.
fn fill_gaps(
    timed: &mut [Option<(f64, f64, f32)>],
    norm: &[Vec<char>],
    first_heard: f64,
    last_heard: f64,
) {
    let mut a = 0;
    while a < timed.len() {
        if timed[a].is_some() {
            a += 1;
            continue;
        }
        let mut b = a;
        while b < timed.len() && timed[b].is_none() {
            b += 1;
        }
        let prev = a.checked_sub(1);
        let next = (b < timed.len()).then_some(b);
        let mut right = match next.and_then(|q| timed[q]) {
            Some((start, _, _)) => start,
            None => last_heard.max(prev.and_then(|p| timed[p]).map_or(0.0, |t| t.1)),
        };
        let mut left = match prev.and_then(|p| timed[p]) {
            Some((_, end, _)) => end,
            None => first_heard.min(right),
        };
        let count = (b - a) as f64;
        if right - left < MIN_WORD * count {
            if let Some(t) = prev.and_then(|p| timed[p].as_mut()) {
                t.1 = t.0 + (t.1 - t.0) / 2.0;
                left = t.1;
            }
            if let Some(t) = next.and_then(|q| timed[q].as_mut()) {
                t.0 += (t.1 - t.0) / 2.0;
                right = t.0;
            }
        }
        let weights: Vec<f64> = norm[a..b].iter().map(|n| n.len().max(1) as f64).collect();
        let total: f64 = weights.iter().sum();
        let span = (right - left).max(0.0);
        let mut at = left;
        for (slot, weight) in timed[a..b].iter_mut().zip(weights) {
            let end = at + span * weight / total;
            *slot = Some((at, end, 0.0));
            at = end;
        }
        a = b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recognized words from (text, start, end), probability 1.
    fn heard(list: &[(&str, f64, f64)]) -> Vec<Word> {
        list.iter()
            .map(|&(text, start, end)| Word {
                text: text.into(),
                start,
                end,
                probability: 1.0,
            })
            .collect()
    }

    fn times(words: &[Word]) -> Vec<(String, f64, f64)> {
        words
            .iter()
            .map(|w| {
                let round = |x: f64| (x * 1000.0).round() / 1000.0;
                (w.text.clone(), round(w.start), round(w.end))
            })
            .collect()
    }

    fn owned(list: &[(&str, f64, f64)]) -> Vec<(String, f64, f64)> {
        list.iter()
            .map(|&(t, s, e)| (t.to_string(), s, e))
            .collect()
    }

    #[test]
    fn exact_match_keeps_script_spelling_and_groups_by_sentence() {
        let words = heard(&[
            ("Hello", 0.0, 0.4),
            ("world", 0.4, 0.9),
            ("It's", 1.5, 1.7),
            ("42", 1.7, 2.2),
        ]);
        let sentences = vec!["Hello, world!".to_string(), "It's 42.".to_string()];
        let out = align_to_script(&words, &sentences);
        assert_eq!(out.len(), 2);
        assert_eq!(
            times(&out[0]),
            owned(&[("Hello,", 0.0, 0.4), ("world!", 0.4, 0.9)])
        );
        assert_eq!(
            times(&out[1]),
            owned(&[("It's", 1.5, 1.7), ("42.", 1.7, 2.2)])
        );
        assert!(out.iter().flatten().all(|w| w.probability == 1.0));
    }

    #[test]
    fn misheard_word_takes_the_time_of_what_was_heard() {
        let words = heard(&[
            ("near", 0.0, 0.3),
            ("the", 0.3, 0.4),
            ("liver", 0.4, 0.8),
            ("bank", 0.8, 1.2),
        ]);
        let out = align_to_script(&words, &["near the river bank.".to_string()]);
        assert_eq!(
            times(&out[0]),
            owned(&[
                ("near", 0.0, 0.3),
                ("the", 0.3, 0.4),
                ("river", 0.4, 0.8),
                ("bank.", 0.8, 1.2)
            ])
        );
        // One letter of five differs: confidence drops accordingly.
        assert!((out[0][2].probability - 0.8).abs() < 1e-6);
    }

    #[test]
    fn word_the_recognizer_missed_is_interpolated_in_the_pause() {
        let words = heard(&[("the", 0.0, 0.2), ("brown", 0.5, 0.8), ("fox", 0.8, 1.0)]);
        let out = align_to_script(&words, &["The quick brown fox.".to_string()]);
        assert_eq!(
            times(&out[0]),
            owned(&[
                ("The", 0.0, 0.2),
                ("quick", 0.2, 0.5),
                ("brown", 0.5, 0.8),
                ("fox.", 0.8, 1.0)
            ])
        );
        assert_eq!(out[0][1].probability, 0.0);
    }

    #[test]
    fn missed_words_without_a_pause_borrow_from_neighbours() {
        let words = heard(&[("a", 0.0, 1.0), ("d", 1.0, 2.0)]);
        let out = align_to_script(&words, &["a bb cc d".to_string()]);
        // "a" lends its second half, "d" its first half; "bb" and "cc" share the second.
        assert_eq!(
            times(&out[0]),
            owned(&[
                ("a", 0.0, 0.5),
                ("bb", 0.5, 1.0),
                ("cc", 1.0, 1.5),
                ("d", 1.5, 2.0)
            ])
        );
    }

    #[test]
    fn extra_heard_words_and_punctuation_are_skipped() {
        let words = heard(&[
            ("the", 0.0, 0.2),
            ("uh", 0.2, 0.6),
            ("...", 0.6, 0.6),
            ("fox", 0.6, 1.0),
            ("yeah", 1.2, 1.5),
        ]);
        let out = align_to_script(&words, &["The fox.".to_string()]);
        assert_eq!(
            times(&out[0]),
            owned(&[("The", 0.0, 0.2), ("fox.", 0.6, 1.0)])
        );
    }

    #[test]
    fn leading_and_trailing_script_words_and_empty_input() {
        let words = heard(&[("middle", 1.0, 2.0)]);
        let sentences = vec!["Start middle end".to_string(), String::new()];
        let out = align_to_script(&words, &sentences);
        assert_eq!(out[1], Vec::<Word>::new());
        let t = times(&out[0]);
        assert_eq!(t[1].0, "middle");
        // Nothing was heard before "middle" or after it: they borrow its halves.
        assert!(t[0].1 <= t[0].2 && t[0].2 <= t[1].1, "{t:?}");
        assert!(t[1].2 <= t[2].1 && t[2].1 <= t[2].2, "{t:?}");
        assert_eq!(t[2].2, 2.0);

        let none = align_to_script(&[], &["Two words".to_string()]);
        assert!(none[0].iter().all(|w| w.start == 0.0 && w.end == 0.0));
        assert_eq!(none[0].len(), 2);
    }

    #[test]
    fn times_never_decrease_on_a_messy_transcript() {
        let words = heard(&[
            ("so", 0.0, 0.1),
            ("cats", 0.1, 0.5),
            ("per", 0.5, 0.8),
            ("when", 0.9, 1.1),
            ("happy", 1.1, 1.4),
            ("and", 1.4, 1.5),
            ("sometimes", 1.5, 2.0),
        ]);
        let sentences = vec![
            "Cats purr when they are happy.".to_string(),
            "Sometimes when hurt.".to_string(),
        ];
        let out = align_to_script(&words, &sentences);
        let flat: Vec<&Word> = out.iter().flatten().collect();
        assert_eq!(flat.len(), 9);
        assert!(flat.windows(2).all(|p| p[0].end <= p[1].start + 1e-9));
        assert!(flat.iter().all(|w| w.start <= w.end));
        assert_eq!(flat[1].text, "purr");
        assert_eq!((flat[1].start, flat[1].end), (0.5, 0.8));
    }

    #[test]
    fn substitution_cost_is_a_normalized_edit_distance() {
        let mut row = Vec::new();
        let c = |a: &str, b: &str, row: &mut Vec<usize>| {
            substitution_cost(&normalize(a), &normalize(b), row)
        };
        assert_eq!(c("Bank.", "bank", &mut row), 0.0);
        assert_eq!(c("kitten", "sitting", &mut row), 3.0 / 7.0);
        assert_eq!(c("—", "and", &mut row), 1.0);
    }
}
