//! The offline path used when no LLM endpoint is configured: a bundled example narration and
//! search terms picked from each sentence's own words.
//!
//! The generic script is an explicit placeholder; the CLI announces it as the "bundled example
//! script" so nobody mistakes it for generated content.

/// A real, factual narration for the demo subject (cats purring).
const CAT_PURR_SCRIPT: &str = "Why do cats purr? The soft rumble comes from the muscles of the \
larynx, which twitch many times per second and make the vocal folds vibrate as the cat breathes \
in and out. Kittens can purr when they are only a few days old, and their mother purrs back to \
guide them while they nurse. Purring often means a cat is relaxed and content, but cats also \
purr when they are hungry, stressed or hurt, so it may help them calm themselves. Some cats even \
hide a cry-like sound inside their purr when they ask for food, a call that people find hard to \
ignore. Scientists also suspect that the low frequencies of purring may help bones and tissues \
heal.";

const QUESTION_WORDS: [&str; 12] = [
    "why", "how", "what", "when", "where", "who", "which", "do", "does", "is", "are", "can",
];

/// Function words that never make a useful footage search on their own.
const STOP_WORDS: &str = "a about above after again against all also am an and any are aren't as \
at be because been before being below between both but by can can't cannot could couldn't did \
didn't do does doesn't doing don't down during each even ever every few for from further get \
gets got had hadn't has hasn't have haven't having he her here hers herself him himself his how \
however i if in into is isn't it it's its itself just let let's like made make makes many may \
me might more most much must my myself near never next no nor not now of off often on once one \
only or other others our ours ourselves out over own per perhaps quite rather really same say \
says she should shouldn't since so some something such than that that's the their theirs them \
themselves then there these they this those though through thus to too under until up upon us \
very was wasn't way we well were weren't what when where whether which while who whom whose why \
will with within without won't would wouldn't yet you your yours yourself even first second \
third today time times things thing look closer take lot lots kind sort day days week weeks \
month months year years old new";

/// The narration used without an LLM: the real cat-purr script for that subject, otherwise a
/// clearly generic five-sentence template that names the subject.
pub fn example_script(subject: &str) -> String {
    let lower = subject.to_lowercase();
    let about_cats = ["cat", "kitten", "feline"]
        .iter()
        .any(|w| lower.contains(w));
    if about_cats && lower.contains("purr") {
        return CAT_PURR_SCRIPT.to_string();
    }
    let topic = subject
        .trim()
        .trim_end_matches(['?', '!', '.', '？', '！', '。'])
        .trim();
    let first_word = lower.split_whitespace().next().unwrap_or("");
    let opening = if topic.is_empty() {
        "Let's take a closer look at today's topic.".to_string()
    } else if subject.trim().ends_with(['?', '？']) || QUESTION_WORDS.contains(&first_word) {
        format!("Let's take a closer look at a question: {topic}?")
    } else {
        format!("Let's take a closer look at {topic}.")
    };
    [
        opening.as_str(),
        "At first glance it may seem simple, but there is more to it than most people think.",
        "Looking at where it comes from helps explain why it matters today.",
        "Small details often make the biggest difference, and this is no exception.",
        "Next time this topic comes up, you will see it with fresh eyes.",
    ]
    .join(" ")
}

/// Up to `n` (at least one) lowercase search terms from the sentence's own words, in sentence
/// order: runs of content words become two-word phrases, longer words win the remaining places.
pub fn keyword_terms(sentence: &str, n: usize) -> Vec<String> {
    let n = n.max(1);
    // Each word with whether punctuation follows it: "cats, dogs" must not become a phrase.
    let mut words: Vec<(String, bool)> = Vec::new();
    for token in sentence.split_whitespace() {
        let parts: Vec<&str> = token
            .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
            .collect();
        for (k, part) in parts.iter().enumerate() {
            let w = part.replace('’', "'").to_lowercase();
            let w = w.trim_matches('\'');
            let w = w.strip_suffix("'s").unwrap_or(w);
            if !w.is_empty() {
                words.push((w.to_string(), k + 1 < parts.len()));
            }
        }
    }
    let content = |w: &str| {
        w.chars().count() >= 3
            && !w.chars().all(|c| c.is_ascii_digit())
            && !STOP_WORDS.split_whitespace().any(|s| s == w)
    };

    // (position, score, term); adjacent content words pair up, as in "vocal folds".
    let mut candidates: Vec<(usize, usize, String)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (word, punctuated) = &words[i];
        if !content(word) {
            i += 1;
            continue;
        }
        let next = words.get(i + 1).map(|w| &w.0);
        if let Some(next) = next.filter(|n| !punctuated && content(n) && *n != word) {
            let phrase = format!("{word} {next}");
            // A phrase narrows the search more than either word alone.
            candidates.push((i, phrase.chars().count() + 4, phrase));
            i += 2;
        } else {
            candidates.push((i, word.chars().count(), word.clone()));
            i += 1;
        }
    }
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|(_, _, term)| seen.insert(term.clone()));
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    candidates.truncate(n);
    candidates.sort_by_key(|c| c.0);
    let mut terms: Vec<String> = candidates.into_iter().map(|c| c.2).collect();

    if terms.is_empty() {
        // Only function words (or none at all): the longest word still beats nothing.
        let longest = words
            .iter()
            .map(|w| &w.0)
            .max_by_key(|w| w.chars().count())
            .cloned();
        let fallback = longest.unwrap_or_else(|| sentence.trim().to_lowercase());
        if !fallback.is_empty() {
            terms.push(fallback);
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::llm::text::split_sentences;

    #[test]
    fn cat_subject_gets_the_real_script() {
        let script = example_script("Why do cats purr?");
        let sentences = split_sentences(&script);
        assert!((5..=6).contains(&sentences.len()), "{sentences:?}");
        assert!(script.contains("larynx"));
        assert_eq!(example_script("Kitten purring explained"), script);
    }

    #[test]
    fn other_subjects_get_the_named_template() {
        let script = example_script("the history of tea");
        assert!(script.starts_with("Let's take a closer look at the history of tea."));
        assert_eq!(split_sentences(&script).len(), 5);
        let q = example_script("How do volcanoes form?");
        assert!(q.starts_with("Let's take a closer look at a question: How do volcanoes form?"));
        assert_eq!(split_sentences(&q).len(), 5);
        assert!(example_script("  ").starts_with("Let's take a closer look at today's topic."));
    }

    #[test]
    fn keywords_in_order_without_stop_words() {
        assert_eq!(
            keyword_terms("The soft rumble comes from the muscles of the larynx.", 3),
            ["soft rumble", "muscles", "larynx"]
        );
        assert_eq!(
            keyword_terms("Kittens can purr when they are only a few days old.", 2),
            ["kittens", "purr"]
        );
        assert_eq!(
            keyword_terms("The cat's whiskers twitch.", 5),
            ["cat whiskers", "twitch"]
        );
        assert_eq!(keyword_terms("Cats, cats and cats!", 5), ["cats"]);
        assert_eq!(
            keyword_terms("Lions, zebras roam.", 5),
            ["lions", "zebras roam"]
        );
    }

    #[test]
    fn always_at_least_one_term() {
        assert_eq!(keyword_terms("Why is it so?", 3), ["why"]);
        assert_eq!(keyword_terms("Volcanoes erupt.", 0), ["volcanoes erupt"]);
        assert_eq!(keyword_terms("…", 2), ["…"]);
        assert!(keyword_terms("   ", 2).is_empty());
        assert_eq!(keyword_terms("猫会发出呼噜声", 2), ["猫会发出呼噜声"]);
    }
}
