//! Other search terms for a sentence whose footage fits poorly: the sentence's own content
//! words and phrases, most specific first (the keyword ranking the terms stage uses without
//! an LLM), leaving out what was searched already. Deterministic, so a retry asks the same.

use crate::providers::llm::bundled::keyword_terms;
use std::collections::HashSet;

/// How many ranked keywords of a sentence are looked at, at most.
const MAX_RANKED: usize = 12;

/// Up to `count` terms for `sentence` unlike every term in `searched`: first those sharing
/// no word with what was searched, then those that differ only as a whole phrase.
pub fn alternative_terms(sentence: &str, searched: &[String], count: usize) -> Vec<String> {
    let searched_terms: HashSet<String> = searched.iter().map(|t| normal_phrase(t)).collect();
    let searched_words: HashSet<String> = searched.iter().flat_map(|t| words(t)).collect();
    let (mut fresh, mut overlapping) = (Vec::new(), Vec::new());
    for term in ranked_keywords(sentence) {
        if searched_terms.contains(&normal_phrase(&term)) {
            continue;
        }
        if words(&term).any(|w| searched_words.contains(&w)) {
            overlapping.push(term);
        } else {
            fresh.push(term);
        }
    }
    fresh.into_iter().chain(overlapping).take(count).collect()
}

/// The sentence's keywords, best first: `keyword_terms` keeps the `n` best of its ranking
/// (in sentence order), so the `n`-th best is the one that `n` adds to `n - 1`.
fn ranked_keywords(sentence: &str) -> Vec<String> {
    let mut ranked: Vec<String> = Vec::new();
    for n in 1..=MAX_RANKED {
        let before = ranked.len();
        for term in keyword_terms(sentence, n) {
            if !ranked.contains(&term) {
                ranked.push(term);
            }
        }
        if ranked.len() == before {
            break;
        }
    }
    ranked
}

/// Lower-case words, a plural "s" dropped: "Glaciers" was searched when "glacier" was.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_lowercase();
            match w.strip_suffix('s') {
                Some(stem) if stem.chars().count() >= 3 && !stem.ends_with('s') => stem.to_string(),
                _ => w,
            }
        })
}

fn normal_phrase(text: &str) -> String {
    words(text).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_unsearched_words_come_first() {
        let sentence = "Penguins huddle together on the frozen ice.";
        assert_eq!(
            ranked_keywords(sentence),
            ["penguins huddle", "frozen ice", "together"]
        );
        let searched = vec!["penguins huddle".to_string()];
        assert_eq!(
            alternative_terms(sentence, &searched, 2),
            ["frozen ice", "together"]
        );
        // A later round leaves out what the earlier one searched.
        let searched = vec![
            "penguins huddle".to_string(),
            "frozen ice".to_string(),
            "together".to_string(),
        ];
        assert!(alternative_terms(sentence, &searched, 2).is_empty());
    }

    #[test]
    fn terms_sharing_a_searched_word_come_after_fresh_ones_and_plurals_match() {
        let sentence = "Glaciers carve valleys while meltwater feeds the lakes.";
        let searched = vec!["glacier".to_string(), "Lakes".to_string()];
        let got = alternative_terms(sentence, &searched, 5);
        assert!(!got.iter().any(|t| t == "glaciers"), "{got:?}");
        assert!(got.iter().any(|t| t.contains("meltwater")), "{got:?}");
        let fresh = |t: &String| !t.contains("glacier") && !t.contains("lakes");
        let first_overlap = got.iter().position(|t| !fresh(t)).unwrap_or(got.len());
        assert!(got[first_overlap..].iter().all(|t| !fresh(t)), "{got:?}");
        // The same question, the same answer.
        assert_eq!(got, alternative_terms(sentence, &searched, 5));
    }
}
