//! Is an LLM's output usable? Checks on a split script and on search terms, each failure a
//! short sentence the stage can log before asking again with another seed.

use std::collections::HashSet;

/// Words that say nothing about a subject ("Why do cats purr?" → cats, purr).
const STOP_WORDS: &[&str] = &[
    "a", "about", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by",
    "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "i", "if",
    "in", "into", "is", "it", "its", "make", "makes", "many", "more", "most", "much", "my", "not",
    "of", "on", "or", "our", "out", "so", "some", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "up", "us", "was", "we", "were", "what",
    "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// Phrases of a chatbot talking about itself or the task instead of narrating.
const META: &[&str] = &[
    "as an ai",
    "language model",
    "i'm sorry",
    "i am sorry",
    "this script",
    "the script",
    "narration script",
    "this video",
];

/// Sentence openings of a chatbot answering rather than narrating ("Here is" is fine inside
/// a sentence, not at its start).
const META_OPENINGS: &[&str] = &[
    "sure",
    "certainly",
    "here is",
    "here's",
    "of course",
    "okay",
];

/// Accepts a script whose sentences are on the subject, about the asked count (`wanted` ± 1;
/// at least 3 when `wanted` is 0), each a speakable sentence of 3–40 words, with no list
/// markers, headings, chatbot phrases or repeated sentences.
pub fn check_script(subject: &str, sentences: &[String], wanted: usize) -> Result<(), String> {
    if sentences.iter().all(|s| s.trim().is_empty()) {
        return Err("the script is empty".into());
    }
    let n = sentences.len();
    if wanted == 0 && n < 3 {
        return Err(format!(
            "the script has {n} sentences, at least 3 are needed"
        ));
    }
    if wanted > 0 && n.abs_diff(wanted) > 1 {
        return Err(format!(
            "the script has {n} sentences, {wanted} were asked for"
        ));
    }
    let mut seen = HashSet::new();
    for (i, sentence) in sentences.iter().enumerate() {
        let s = sentence.trim();
        let at = |what: &str| Err(format!("sentence {} {what}: {s:?}", i + 1));
        let words = word_count(s);
        if !(3..=40).contains(&words) {
            return at(&format!("has {words} words (3 to 40 are allowed)"));
        }
        if is_list_item(s) {
            return at("is a list item");
        }
        if !s.ends_with(['.', '!', '?', '"', '”', '’', ')', '。', '！', '？']) && words <= 8
        {
            return at("looks like a heading");
        }
        let lower = s.to_lowercase();
        let opening = META_OPENINGS
            .iter()
            .find(|m| lower.starts_with(*m) && !lower[m.len()..].starts_with(char::is_alphabetic));
        if let Some(phrase) = META.iter().find(|m| lower.contains(*m)).or(opening) {
            return at(&format!("talks about the task ({phrase:?})"));
        }
        if !seen.insert(normalized(s)) {
            return at("repeats an earlier sentence");
        }
    }
    let topic = content_words(subject);
    if !topic.is_empty() {
        let script: HashSet<String> = sentences.iter().flat_map(|s| content_words(s)).collect();
        let on_topic = topic.iter().any(|t| script.iter().any(|w| same_word(t, w)));
        if !on_topic {
            return Err(format!(
                "the script never mentions the subject ({})",
                topic.join(", ")
            ));
        }
    }
    Ok(())
}

/// Accepts one non-empty group per sentence, each term 1–4 English words (ASCII letters,
/// digits, spaces, `-`, `'`, `&`) with at least one letter.
pub fn check_terms(terms: &[Vec<String>], sentences: usize) -> Result<(), String> {
    if terms.len() != sentences {
        return Err(format!(
            "{} groups of terms for {sentences} sentences",
            terms.len()
        ));
    }
    for (i, group) in terms.iter().enumerate() {
        if group.is_empty() {
            return Err(format!("no search terms for sentence {}", i + 1));
        }
        for term in group {
            let words = term.split_whitespace().count();
            if !(1..=4).contains(&words) {
                return Err(format!(
                    "term {term:?} (sentence {}) has {words} words, 1 to 4 are allowed",
                    i + 1
                ));
            }
            let english = term
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " -'&".contains(c));
            if !english || !term.chars().any(|c| c.is_ascii_alphabetic()) {
                return Err(format!(
                    "term {term:?} (sentence {}) is not plain English",
                    i + 1
                ));
            }
        }
    }
    Ok(())
}

/// The script cut to the asked count: sentences that repeat an earlier one are dropped (a
/// small model restates its first fact at the end), then the first `wanted` kept (0 = all),
/// as a small model's extra sentences trail off.
pub fn fit_sentence_count(sentences: Vec<String>, wanted: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut kept: Vec<String> = sentences
        .into_iter()
        .filter(|s| seen.insert(normalized(s)))
        .collect();
    if wanted > 0 {
        kept.truncate(wanted);
    }
    kept
}

/// Lowercase letters and digits only: "Cats purr." and "cats purr!" are the same sentence.
fn normalized(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Words as a listener counts them; scripts without spaces (Chinese, Japanese) count about
/// one word per two characters.
fn word_count(s: &str) -> usize {
    s.split_whitespace()
        .map(|w| {
            let cjk = w.chars().filter(|c| is_cjk(*c)).count();
            if cjk > 0 { cjk.div_ceil(2) } else { 1 }
        })
        .sum()
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{ac00}'..='\u{d7af}')
}

fn is_list_item(s: &str) -> bool {
    if s.starts_with(['-', '*', '•', '#', '>']) {
        return true;
    }
    // "1. ", "2) ", "a) ", "Step 3:" style numbering.
    let head: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let rest = &s[head.len()..];
    let numbered = !head.is_empty()
        && (head.chars().all(|c| c.is_ascii_digit()) || head.len() == 1)
        && (rest.starts_with(". ") || rest.starts_with(") ") || rest.starts_with(':'));
    numbered || s.to_lowercase().starts_with("step ")
}

/// Lowercased, stemmed words of `text` that are not stop words. Words in scripts without
/// spaces are kept whole and matched by shared character pairs.
fn content_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .map(|w| w.strip_suffix("'s").map(str::to_string).unwrap_or(w))
        .filter(|w| w.chars().count() >= 2 && !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// A light English stemmer: enough that "volcanoes", "purring" and "cats" meet "volcano",
/// "purr" and "cat".
fn stem(word: &str) -> String {
    for suffix in ["ing", "ies", "es", "ed", "s", "ly"] {
        if let Some(base) = word.strip_suffix(suffix)
            && base.chars().count() >= 3
        {
            return if suffix == "ies" {
                format!("{base}y")
            } else {
                base.to_string()
            };
        }
    }
    word.to_string()
}

fn same_word(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if a.chars().any(is_cjk) {
        let chars: Vec<char> = a.chars().collect();
        return chars
            .windows(2)
            .any(|p| b.contains(&p.iter().collect::<String>()));
    }
    // "history" meets "historian", "volcano" "volcanic": a long shared opening that covers
    // all but the last two letters of the shorter word.
    let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count());
    shared >= 5 && shared + 2 >= shorter
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const CATS: &[&str] = &[
        "Cats purr when they feel calm and safe.",
        "The sound comes from muscles in the voice box.",
        "These muscles twitch many times every second.",
        "Kittens purr to tell their mother they are fine.",
        "Some cats also purr when they are hurt.",
        "Purring may even help bones heal faster.",
    ];

    #[test]
    fn accepts_a_good_script_and_counts_within_one() {
        assert_eq!(check_script("Why do cats purr?", &s(CATS), 6), Ok(()));
        assert_eq!(check_script("Why do cats purr?", &s(&CATS[..5]), 6), Ok(()));
        assert_eq!(check_script("Why do cats purr?", &s(&CATS[..3]), 0), Ok(()));
        let err = check_script("Why do cats purr?", &s(&CATS[..4]), 6).unwrap_err();
        assert!(err.contains("4 sentences"), "{err}");
        assert!(check_script("cats", &s(&CATS[..2]), 0).is_err());
        assert!(check_script("cats", &[], 6).unwrap_err().contains("empty"));
    }

    #[test]
    fn rejects_off_topic_lists_headings_meta_and_repeats() {
        let err = check_script("How volcanoes form", &s(CATS), 6).unwrap_err();
        assert!(err.contains("volcano"), "{err}");
        let mut v = s(CATS);
        v[2] = "1. Muscles twitch very fast indeed.".into();
        assert!(
            check_script("cats", &v, 6)
                .unwrap_err()
                .contains("list item")
        );
        v[2] = "- Muscles twitch very fast.".into();
        assert!(
            check_script("cats", &v, 6)
                .unwrap_err()
                .contains("list item")
        );
        v[2] = "The Science of Purring".into();
        assert!(check_script("cats", &v, 6).unwrap_err().contains("heading"));
        v[2] = "Sure, here is a script about cats.".into();
        assert!(check_script("cats", &v, 6).unwrap_err().contains("task"));
        v[2] = "As an AI, I love cats very much.".into();
        assert!(check_script("cats", &v, 6).unwrap_err().contains("task"));
        v[2] = CATS[0].to_uppercase();
        assert!(check_script("cats", &v, 6).unwrap_err().contains("repeats"));
        v[2] = "Short.".into();
        assert!(check_script("cats", &v, 6).unwrap_err().contains("1 words"));
        v[2] = vec!["word"; 41].join(" ") + ".";
        assert!(
            check_script("cats", &v, 6)
                .unwrap_err()
                .contains("41 words")
        );
    }

    #[test]
    fn subject_words_match_through_stems_and_other_scripts() {
        let lava = s(&[
            "A volcano grows when magma rises.",
            "Hot rock pushes up through cracks.",
            "Eruptions build the mountain layer by layer.",
        ]);
        assert_eq!(check_script("How volcanoes form", &lava, 3), Ok(()));
        let coffee = s(&[
            "People first drank it in Ethiopia.",
            "Historians trace the drink to monks.",
            "Traders carried the beans across the sea.",
        ]);
        assert_eq!(check_script("The history of coffee", &coffee, 3), Ok(()));
        let zh = s(&[
            "猫咪在放松的时候会发出呼噜声。",
            "这种声音来自喉部的肌肉。",
            "小猫出生几天后就会这样做。",
        ]);
        assert_eq!(check_script("猫为什么会呼噜", &zh, 3), Ok(()));
    }

    #[test]
    fn terms_need_one_english_group_per_sentence() {
        let good = vec![vec!["cat purring".to_string()], vec!["vet's office".into()]];
        assert_eq!(check_terms(&good, 2), Ok(()));
        assert!(check_terms(&good, 3).unwrap_err().contains("3 sentences"));
        let empty = vec![vec!["cat".to_string()], vec![]];
        assert!(check_terms(&empty, 2).unwrap_err().contains("sentence 2"));
        let long = vec![vec!["a very long search term here".to_string()]];
        assert!(check_terms(&long, 1).unwrap_err().contains("6 words"));
        for bad in ["猫", "café", "123", "cat: purring"] {
            let v = vec![vec![bad.to_string()]];
            assert!(check_terms(&v, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn fitting_drops_repeats_and_trailing_extras() {
        let v = s(&["a", "b", "c", "d"]);
        assert_eq!(fit_sentence_count(v.clone(), 3), s(&["a", "b", "c"]));
        assert_eq!(fit_sentence_count(v.clone(), 6), v);
        assert_eq!(fit_sentence_count(v.clone(), 0), v);
        let repeats = s(&["Cats purr.", "b", "cats purr!", "c", "d"]);
        assert_eq!(fit_sentence_count(repeats, 3), s(&["Cats purr.", "b", "c"]));
    }
}
