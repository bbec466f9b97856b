use super::*;
use crate::providers::stt::Word;
use crate::providers::tts::SpokenSentence;

fn narration(sentences: &[(&str, f64, f64)], duration: f64) -> Narration {
    Narration {
        duration,
        sample_rate: 22050,
        sentences: sentences
            .iter()
            .map(|&(text, start, end)| SpokenSentence {
                text: text.into(),
                start,
                end,
            })
            .collect(),
    }
}

fn texts(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|s| s.text.as_str()).collect()
}

/// Every frame of the narration in exactly one span, none longer than `max`.
fn assert_tiles(spans: &[Span], total: u64, max: u64) {
    assert_eq!(spans.first().map(|s| s.start), Some(0));
    assert_eq!(spans.last().map(|s| s.end), Some(total));
    for pair in spans.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "{spans:?}");
    }
    assert!(
        spans
            .iter()
            .all(|s| s.end > s.start && s.end - s.start <= max),
        "{spans:?}"
    );
}

const CLAUSE: &str =
    "The glacier carves the valley very slowly, and the meltwater fills the lake below.";

#[test]
fn a_sentence_that_fits_is_one_span_with_its_whole_text() {
    let n = narration(
        &[("Cats purr.", 0.0, 1.5), ("The ocean is deep.", 2.0, 4.0)],
        4.5,
    );
    let got = spans(&n, None, 30, 150);
    assert_eq!(texts(&got), ["Cats purr.", "The ocean is deep."]);
    assert!(got.iter().all(|s| !s.part));
    assert_eq!((got[1].start, got[1].end), (60, 135));
}

#[test]
fn a_clause_boundary_is_preferred_over_a_word_boundary() {
    // 8 s at 30 fps, pieces of 5 s at most: the even cut would fall mid-clause.
    let n = narration(&[(CLAUSE, 0.0, 8.0)], 8.0);
    let got = spans(&n, None, 30, 150);
    assert_eq!(
        texts(&got),
        [
            "The glacier carves the valley very slowly,",
            "and the meltwater fills the lake below."
        ]
    );
    assert!(got.iter().all(|s| s.part && s.sentence == 0));
    assert_tiles(&got, 240, 150);
}

#[test]
fn without_a_clause_in_reach_the_cut_is_between_words() {
    let text = "Tall pine trees cover the steep mountain slopes above the quiet northern valley";
    let n = narration(&[(text, 0.0, 8.0)], 8.0);
    let got = spans(&n, None, 30, 150);
    assert_eq!(got.len(), 2);
    assert_eq!(format!("{} {}", got[0].text, got[1].text), text);
    assert_tiles(&got, 240, 150);
}

#[test]
fn word_timings_decide_where_the_words_are() {
    // The speaker lingers on the first words: by characters "and" would start at 3.9 s,
    // Whisper heard it at 4.6 s, and the cut follows Whisper.
    let n = narration(&[(CLAUSE, 0.0, 8.0)], 8.0);
    let words: Vec<&str> = CLAUSE.split_whitespace().collect();
    let and = words.iter().position(|w| *w == "and").unwrap();
    let timed: Vec<Word> = words
        .iter()
        .enumerate()
        .map(|(k, w)| {
            let start = if k < and {
                k as f64 * 4.6 / and as f64
            } else {
                4.6 + (k - and) as f64 * 0.45
            };
            Word {
                text: w.to_string(),
                start,
                end: start + 0.3,
                probability: 0.9,
            }
        })
        .collect();
    let doc = WordsDoc {
        sentences: vec![timed],
    };
    let got = spans(&n, Some(&doc), 30, 150);
    assert_eq!(got[1].start, 138, "4.6 s at 30 fps");
    assert!(got[1].text.starts_with("and the meltwater"));
    let estimated = spans(&n, None, 30, 150);
    assert_ne!(estimated[1].start, 138);
}

#[test]
fn implausible_word_timings_fall_back_to_the_estimate() {
    // A failed alignment gives every word time 0: the estimate by characters is used.
    let n = narration(&[("Short one.", 0.0, 1.0), (CLAUSE, 1.0, 9.0)], 9.0);
    let zero = |text: &str| Word {
        text: text.into(),
        start: 0.0,
        end: 0.0,
        probability: 0.0,
    };
    let doc = WordsDoc {
        sentences: vec![
            vec![zero("Short"), zero("one.")],
            CLAUSE.split_whitespace().map(zero).collect(),
        ],
    };
    assert_eq!(spans(&n, Some(&doc), 30, 150), spans(&n, None, 30, 150));
    // The estimate puts "and" where its characters are: 38 of 81 characters into 8 s.
    let got = spans(&n, None, 30, 150);
    let and = CLAUSE.find("and").unwrap() as f64 / CLAUSE.len() as f64;
    assert_eq!(got[2].start, ((1.0 + 8.0 * and) * 30.0).round() as u64);
}

#[test]
fn pieces_stay_on_the_grid_within_the_limits_whatever_the_rates() {
    let sentences = [
        (
            "One two three four five six seven eight nine ten eleven twelve.",
            0.0,
            6.2,
        ),
        (
            "Rivers carry leaves, seeds, and soil from the hills to the sea, where the current slows.",
            6.4,
            17.9,
        ),
        ("Hm.", 18.0, 18.3),
        ("Antidisestablishmentarianism", 18.5, 27.0),
    ];
    let n = narration(&sentences, 28.1);
    for (fps, max_secs) in [(30, 5.0), (25, 3.0), (24, 4.5), (60, 2.0), (30, 1.5)] {
        let max = (max_secs * f64::from(fps)) as u64;
        let got = spans(&n, None, fps, max);
        let total = (28.1 * f64::from(fps)).round() as u64;
        assert_tiles(&got, total, max);
        let min = u64::from(fps).min(max / 2);
        for s in got.iter().filter(|s| s.part) {
            assert!(s.end - s.start >= min, "{fps} fps: {s:?}");
        }
        // Every word of a split sentence is said in exactly one of its pieces.
        for (i, (text, _, _)) in sentences.iter().enumerate() {
            let pieces: Vec<&str> = got
                .iter()
                .filter(|s| s.sentence == i && s.text != *text)
                .map(|s| s.text.as_str())
                .collect();
            if !pieces.is_empty() {
                assert_eq!(pieces.join(" "), *text, "{fps} fps");
            }
        }
    }
}

#[test]
fn a_long_pause_is_cut_even_without_a_word_boundary() {
    // One word, then 9 s of silence owned by the sentence: it still gets ≤ 5 s pieces.
    let n = narration(&[("Silence.", 0.0, 0.6), ("Then more.", 10.0, 11.0)], 11.0);
    let got = spans(&n, None, 30, 150);
    assert_tiles(&got, 330, 150);
    assert_eq!(got.iter().filter(|s| s.sentence == 0).count(), 2);
    assert!(
        got.iter()
            .filter(|s| s.sentence == 0)
            .all(|s| s.text == "Silence.")
    );
}
