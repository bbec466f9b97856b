//! Subtitles: sentence timings → cues of at most two lines balanced by rendered width
//! (CJK-aware, `wrap`), in the configured font (`font`: by family or file, with a glyph
//! coverage check) and style (`style`: position, background box, shadow), written as
//! SRT/VTT sidecars and an ASS script for burning in (`format`, `highlight`).

mod font;
mod format;
mod highlight;
mod style;
mod wrap;

pub use font::{
    FontError, LoadedFont, coverage_warning, load_font_file, match_family, suggest_font,
};
pub use format::{AssStyle, to_ass, to_srt, to_vtt};
pub use highlight::{TimedWord, to_ass_highlighted};
pub use style::{Background, Position, SubtitleStyle, fonts_dir};

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

/// One cue per sentence, wrapped by characters only (no font): `max_line_chars` is a width
/// in columns, a CJK character counting as two. Sentences too long for two lines become
/// several cues sharing the sentence's time in proportion to their characters.
/// `SubtitleStyle::cues` wraps by the rendered width instead.
pub fn cues_from_sentences(sentences: &[SpokenSentence], max_line_chars: usize) -> Vec<Cue> {
    // Below two columns a CJK character could never fit; config allows 10–80 anyway.
    let max = max_line_chars.max(2);
    let columns = |text: &str| text.chars().map(wrap::char_cols).sum::<usize>() as f64;
    let wrapper = wrap::Wrapper {
        measure: &columns,
        max_px: max as f64,
        max_cols: max,
    };
    sentences
        .iter()
        .flat_map(|s| wrapper.sentence_cues(&s.text, s.start, s.end, None))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wrap::{char_cols as char_width, is_closing};

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

    /// 'W' three pixels wide, everything else one.
    fn uneven(text: &str) -> f64 {
        text.chars().map(|c| if c == 'W' { 3.0 } else { 1.0 }).sum()
    }

    #[test]
    fn lines_balance_rendered_width_not_characters() {
        let wrapper = wrap::Wrapper {
            measure: &uneven,
            max_px: 30.0,
            max_cols: 40,
        };
        let text = "WWW WWW iii iii iii iii iii";
        let cues = wrapper.sentence_cues(text, 0.0, 1.0, None);
        // By characters the break would come after the 4th word; by width after the 2nd.
        assert_eq!(cues.len(), 1);
        assert_eq!(cues[0].text, "WWW WWW\niii iii iii iii iii");
        // The column bound still applies.
        let narrow = wrap::Wrapper {
            max_cols: 11,
            ..wrapper
        };
        let cues = narrow.sentence_cues(text, 0.0, 1.0, None);
        assert!(cues.len() == 2, "{cues:?}");
        assert!(cues.iter().all(|c| c.text.lines().all(|l| l.len() <= 11)));
    }

    #[test]
    fn word_timings_cut_long_sentences_even_inside_a_cjk_word() {
        let columns = |t: &str| t.chars().map(wrap::char_cols).sum::<usize>() as f64;
        let wrapper = wrap::Wrapper {
            measure: &columns,
            max_px: 4.0,
            max_cols: 4,
        };
        let text = "猫咪发出呼噜声通常 表示满足";
        let words = [
            TimedWord {
                text: "猫咪发出呼噜声通常".into(),
                start: 1.0,
                end: 1.9,
            },
            TimedWord {
                text: "表示满足".into(),
                start: 3.0,
                end: 4.0,
            },
        ];
        let cues = wrapper.sentence_cues(text, 1.0, 4.0, Some(&words));
        let texts: Vec<String> = cues
            .iter()
            .map(|c| c.text.chars().filter(|c| !c.is_whitespace()).collect())
            .collect();
        assert_eq!(texts.concat(), text.replace(' ', ""));
        assert!(cues.len() >= 3, "{cues:?}");
        // Each cue starts when its first character is spoken: 0.1 s a character in the
        // first word, the second word at its own start.
        let mut offset = 0;
        for (i, cue) in cues.iter().enumerate().skip(1) {
            assert_eq!(cues[i - 1].end, cue.start);
            offset += texts[i - 1].chars().count();
            let expected = if offset < 9 {
                1.0 + 0.1 * offset as f64
            } else {
                3.0 + 0.25 * (offset - 9) as f64
            };
            assert!((cue.start - expected).abs() < 1e-9, "{offset}: {cues:?}");
        }
        assert_eq!(cues.last().map(|c| c.end), Some(4.0));
    }

    #[test]
    fn korean_breaks_at_spaces_when_it_has_them() {
        let text = "고양이는 행복할 때 가르랑거리고 아플 때도 가르랑거립니다";
        let cues = cues_from_sentences(&[sentence(text, 0.0, 3.0)], 36);
        assert_eq!(cues.len(), 1, "{cues:?}");
        let words: Vec<&str> = cues[0].text.split_whitespace().collect();
        assert_eq!(words, text.split(' ').collect::<Vec<_>>(), "{cues:?}");
        assert!(cues[0].text.lines().all(|l| line_width(l) <= 36));
        let unspaced =
            cues_from_sentences(&[sentence("고양이는행복할때가르랑거립니다", 0.0, 1.0)], 10);
        assert!(
            unspaced
                .iter()
                .all(|c| c.text.lines().all(|l| line_width(l) <= 10))
        );
    }
}
