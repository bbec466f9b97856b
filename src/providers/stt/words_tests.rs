//! Tests for word grouping and placement, with a made-up token table.

use super::*;

const EOT: u32 = 100;

/// Token id → text: " The" " qu" "ick" " fox" "." "," " \"" then two halves of "é".
fn decode(ids: &[u32]) -> String {
    let table = [" The", " qu", "ick", " fox", ".", ",", " \"", "", ""];
    let mut bytes = Vec::new();
    for &id in ids {
        match id {
            7 => bytes.push(0xC3),
            8 => bytes.push(0xA9),
            _ => bytes.extend_from_slice(table[id as usize].as_bytes()),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn timing(text: &str, tokens: &[u32], start: f64, end: f64) -> WordTiming {
    WordTiming {
        text: text.into(),
        tokens: tokens.to_vec(),
        start,
        end,
        probability: 0.9,
    }
}

#[test]
fn subwords_join_until_a_space_and_specials_stand_alone() {
    let (words, tokens) = split_to_word_tokens(&[0, 1, 2, 3, 4, EOT], EOT, "en", decode);
    assert_eq!(words, vec![" The", " quick", " fox", ".", "<|special|>"]);
    assert_eq!(
        tokens,
        vec![vec![0], vec![1, 2], vec![3], vec![4], vec![EOT]]
    );
}

#[test]
fn characters_split_across_tokens_are_kept_whole() {
    // Token 7 alone decodes to U+FFFD: it waits for token 8.
    let (words, tokens) = split_to_word_tokens(&[7, 8, 3], EOT, "en", decode);
    assert_eq!(words, vec!["é", " fox"]);
    assert_eq!(tokens, vec![vec![7, 8], vec![3]]);
    // Languages without spaces: one entry per character run, no joining.
    let (words, _) = split_to_word_tokens(&[1, 2], EOT, "ja", decode);
    assert_eq!(words, vec![" qu", "ick"]);
}

#[test]
fn punctuation_joins_its_neighbours() {
    let mut words = vec![
        timing(" \"", &[6], 0.0, 0.1),
        timing(" quick", &[1, 2], 0.1, 0.5),
        timing(",", &[5], 0.5, 0.5),
        timing(" fox", &[3], 0.5, 0.9),
        timing(".", &[4], 0.9, 1.0),
    ];
    merge_punctuations(&mut words);
    let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(texts, vec!["", " \" quick,", "", " fox.", ""]);
    assert_eq!(words[1].tokens, vec![6, 1, 2, 5]);
    assert_eq!(words[3].tokens, vec![3, 4]);
    assert!(words[0].tokens.is_empty());
}

#[test]
fn words_land_in_their_segments_with_absolute_times() {
    let alignment = vec![
        timing(" The", &[0], 0.0, 0.3),
        timing(" fox", &[3], 0.3, 0.6),
        timing(".", &[4], 0.6, 0.6),
        timing(" The", &[0], 1.2, 1.4),
        timing(" fox", &[3], 1.4, 1.8),
    ];
    let segments = vec![
        Segment {
            start: 30.0,
            end: 30.6,
            tokens: vec![0, 3, 4],
        },
        Segment {
            start: 31.2,
            end: 31.8,
            tokens: vec![0, 3],
        },
    ];
    let mut last_speech = 29.5;
    let words = place_words(alignment, &segments, 30.0, &mut last_speech);
    let got: Vec<(&str, f64, f64)> = words
        .iter()
        .map(|w| (w.text.as_str(), round(w.start), round(w.end)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("The", 30.0, 30.3),
            ("fox.", 30.3, 30.6),
            ("The", 31.2, 31.4),
            ("fox", 31.4, 31.8)
        ]
    );
    assert_eq!(round(last_speech), 31.8);
}

#[test]
fn a_first_word_that_swallowed_a_pause_is_cut_back() {
    // Median word 0.3 s: a 2 s first word after 3 s of silence is trimmed to 0.6 s.
    let alignment = vec![
        timing(" The", &[0], 0.0, 2.0),
        timing(" quick", &[1, 2], 2.0, 2.3),
        timing(" fox", &[3], 2.3, 2.6),
    ];
    let segments = vec![Segment {
        start: 1.5,
        end: 2.6,
        tokens: vec![0, 1, 2, 3],
    }];
    let mut last_speech = -1.0;
    let words = place_words(alignment, &segments, 0.0, &mut last_speech);
    assert!((words[0].start - 1.4).abs() < 1e-9, "{:?}", words[0]);
    assert_eq!(words[0].end, 2.0);
    assert_eq!(words[1].start, 2.0);
}
