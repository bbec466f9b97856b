//! Word-by-word highlight for burned subtitles: while a cue is on screen, the word being
//! spoken is drawn in the highlight colour. One ASS event per word interval keeps it exact
//! without relying on karaoke fill, which renders differently across libass versions.

use super::Cue;
use super::format::{AssStyle, ass_colour, dialogue, escape_to_ass};
use super::style::SubtitleStyle;
use super::wrap::normalized;

/// A word and when it is spoken, in narration seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedWord {
    pub text: String,
    pub start: f64,
    pub end: f64,
}

/// Like `to_ass`, with the spoken word highlighted in cues whose words line up with `words`
/// (the script's words in order). A cue that does not line up (e.g. CJK text with no
/// spaces) is shown plain, and matching resumes at the next cue. Text widths are estimated;
/// `SubtitleStyle::to_ass_highlighted` measures with the real font.
pub fn to_ass_highlighted(
    cues: &[Cue],
    words: &[TimedWord],
    style: &AssStyle,
    highlight: &str,
    width: u32,
    height: u32,
) -> String {
    SubtitleStyle::estimated(style.clone(), width, height, 80)
        .to_ass_highlighted(cues, words, highlight)
}

/// The script with one text event per word interval, each with that word recoloured; the
/// position prefix and the rounded box (one event per cue, below) as for plain cues.
pub(super) fn write(
    style: &SubtitleStyle,
    cues: &[Cue],
    words: &[TimedWord],
    highlight: &str,
) -> String {
    let colour = ass_colour(highlight, "&H0000D7FF");
    let layer = style.text_layer();
    let mut out = style.header();
    let mut next = 0;
    for cue in cues {
        out.extend(style.background_event(cue.start, cue.end, &cue.text));
        let prefix = style.prefix(&cue.text);
        let plain = format!("{prefix}{}", escape_to_ass(&cue.text));
        let lines: Vec<Vec<&str>> = cue
            .text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let count: usize = lines.iter().map(Vec::len).sum();
        let slice = words.get(next..next + count);
        let lined_up = slice.is_some_and(|slice| {
            lines
                .iter()
                .flatten()
                .zip(slice)
                .all(|(shown, timed)| normalized(shown) == normalized(&timed.text))
        });
        let Some(slice) = slice.filter(|_| lined_up && count > 0) else {
            out.push_str(&dialogue(layer, cue.start, cue.end, &plain));
            // Skip the words of this cue if we can find where the next cue starts.
            next += count;
            continue;
        };
        next += count;
        // Before the first word: the whole cue, plain.
        let first_start = slice[0].start.max(cue.start);
        if first_start > cue.start + 0.01 {
            out.push_str(&dialogue(layer, cue.start, first_start, &plain));
        }
        for (i, word) in slice.iter().enumerate() {
            let start = word.start.max(cue.start);
            let end = slice
                .get(i + 1)
                .map_or(cue.end, |w| w.start.min(cue.end))
                .max(start);
            if end - start < 0.005 {
                continue;
            }
            let text = format!("{prefix}{}", render_lines(&lines, i, &colour));
            out.push_str(&dialogue(layer, start, end, &text));
        }
    }
    out
}

/// The cue's lines with word number `current` wrapped in a colour override.
fn render_lines(lines: &[Vec<&str>], current: usize, colour: &str) -> String {
    let mut index = 0;
    let mut rendered = Vec::with_capacity(lines.len());
    for line in lines {
        let words: Vec<String> = line
            .iter()
            .map(|w| {
                let text = escape_to_ass(w);
                let shown = if index == current {
                    format!("{{\\c{colour}&}}{text}{{\\r}}")
                } else {
                    text
                };
                index += 1;
                shown
            })
            .collect();
        rendered.push(words.join(" "));
    }
    rendered.join("\\N")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SubtitleConfig;

    fn word(text: &str, start: f64, end: f64) -> TimedWord {
        TimedWord {
            text: text.into(),
            start,
            end,
        }
    }

    #[test]
    fn each_word_gets_its_own_event_with_the_highlight() {
        let cues = vec![Cue {
            start: 0.0,
            end: 2.0,
            text: "Cats purr\nsoftly.".into(),
        }];
        let words = vec![
            word("Cats", 0.2, 0.6),
            word("purr", 0.6, 1.1),
            word("softly.", 1.2, 1.9),
        ];
        let style = AssStyle::from_config(&SubtitleConfig::default(), 1920);
        let ass = to_ass_highlighted(&cues, &words, &style, "#FFD700", 1080, 1920);
        let events: Vec<&str> = ass.lines().filter(|l| l.starts_with("Dialogue:")).collect();
        assert_eq!(events.len(), 4, "{ass}");
        assert!(events[0].contains("0:00:00.00,0:00:00.20") && !events[0].contains("\\c"));
        assert!(events[1].contains("{\\c&H0000D7FF&}Cats{\\r} purr\\Nsoftly."));
        assert!(events[2].contains("0:00:00.60,0:00:01.20"));
        assert!(events[3].contains("0:00:01.20,0:00:02.00"));
    }

    #[test]
    fn cues_that_do_not_line_up_stay_plain() {
        let cues = vec![Cue {
            start: 0.0,
            end: 1.0,
            text: "猫会发出呼噜声".into(),
        }];
        let words = vec![word("猫", 0.0, 0.5), word("呼噜", 0.5, 1.0)];
        let style = AssStyle::from_config(&SubtitleConfig::default(), 1920);
        let ass = to_ass_highlighted(&cues, &words, &style, "#FFD700", 1080, 1920);
        let events: Vec<&str> = ass.lines().filter(|l| l.starts_with("Dialogue:")).collect();
        assert_eq!(events.len(), 1);
        assert!(!events[0].contains("\\c"));
    }
}
