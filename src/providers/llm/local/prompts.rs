//! Prompts for the embedded model. A 135M model ignores long instructions but copies the
//! shape of earlier answers, so each request is a one-line rule plus a worked example given
//! as a previous chat turn ([`TURN_SEPARATOR`]); both ask for a numbered list, the format it
//! follows most reliably (`clean_script` strips the numbers, one fact per line).

use super::chat_template::TURN_SEPARATOR;
use crate::config::ScriptConfig;
use crate::providers::llm::ChatRequest;

/// SmolLM2's authors suggest 0.2; at 0.7 the 135M model missed the asked count or drifted
/// into multi-sentence paragraphs in 5 of 12 tries, at 0.3 in none.
pub const LOCAL_MAX_TEMPERATURE: f64 = 0.3;

const SCRIPT_SYSTEM: &str = "You write narration for short videos. Reply with a numbered list of \
facts about the topic. Each fact is one short, simple sentence.";

const EXAMPLE_TOPIC: &str = "How bees make honey";
/// Ordered so that any prefix reads as a whole narration.
const EXAMPLE_FACTS: [&str; 10] = [
    "Bees visit flowers to collect sweet nectar.",
    "They carry the nectar home in a special stomach.",
    "Worker bees pass the nectar from mouth to mouth.",
    "Enzymes slowly turn the nectar into honey.",
    "The bees fan their wings to dry it out.",
    "They seal the honey in wax cells to keep it fresh.",
    "A single bee makes about a spoonful of honey in its life.",
    "The taste of honey depends on the flowers.",
    "Bees eat the honey during the cold winter months.",
    "Honey can stay good to eat for thousands of years.",
];

/// Two worked examples: concrete, filmable phrases of 1–3 words.
const TERM_EXAMPLES: [(&str, &str, [&str; 3]); 2] = [
    (
        "How bees make honey",
        "Bees visit flowers to collect sweet nectar.",
        ["bee on flower", "flower meadow", "honey bee"],
    ),
    (
        "Life in a big city",
        "The city wakes up as the sun rises.",
        ["city skyline", "sunrise", "morning traffic"],
    ),
];

fn numbered<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, s.as_ref()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The subject as one line, without the separator a user could not type anyway.
fn one_line(text: &str) -> String {
    text.replace(TURN_SEPARATOR, " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The sentence count the local script asks for: `script.sentences`, or 6 when the
/// paragraph count decides (the model cannot count paragraphs).
pub fn local_sentence_count(cfg: &ScriptConfig) -> usize {
    match cfg.sentences {
        0 => 6,
        n => n.clamp(3, 30) as usize,
    }
}

/// The script request for the embedded model: `n` numbered one-sentence facts, after an
/// example answer about bees.
pub fn local_script_request(subject: &str, cfg: &ScriptConfig, temperature: f64) -> ChatRequest {
    let n = local_sentence_count(cfg);
    let system = match cfg.system_prompt.trim() {
        "" => SCRIPT_SYSTEM.to_string(),
        custom => custom.to_string(),
    };
    let ask = |topic: &str| {
        let mut q = format!("Topic: {topic}\nWrite {n} facts.");
        let language = cfg.language.trim();
        if !language.is_empty()
            && !language.eq_ignore_ascii_case("auto")
            && !language.eq_ignore_ascii_case("english")
        {
            q.push_str(&format!(" Write them in {language}."));
        }
        q
    };
    let example = &EXAMPLE_FACTS[..n.min(EXAMPLE_FACTS.len())];
    let mut user = format!(
        "{}{TURN_SEPARATOR}{}{TURN_SEPARATOR}{}",
        ask(EXAMPLE_TOPIC),
        numbered(example),
        ask(&one_line(subject)),
    );
    let extra = cfg.extra_requirements.trim();
    if !extra.is_empty() {
        user.push('\n');
        user.push_str(extra);
    }
    ChatRequest {
        system,
        user,
        temperature: temperature.min(LOCAL_MAX_TEMPERATURE),
        // About 40 tokens per numbered sentence; the cap stops a model that never ends.
        max_tokens: Some((n * 40 + 16) as u32),
        seed: None,
    }
}

/// The search-terms request for ONE sentence (a 135M model loses track of numbered
/// sentences in a batch): a numbered list of `per_sentence` phrases.
pub fn local_terms_request(
    subject: &str,
    sentence: &str,
    per_sentence: usize,
    temperature: f64,
) -> ChatRequest {
    let k = per_sentence.clamp(1, 8);
    let system = format!(
        "You list things to film for a video. Reply with a numbered list of {k} short search \
         phrases in English, 1 to 3 words each."
    );
    let ask = |topic: &str, sentence: &str| format!("Topic: {topic}\nSentence: {sentence}");
    let mut turns: Vec<String> = Vec::new();
    for (topic, example, terms) in TERM_EXAMPLES {
        turns.push(ask(topic, example));
        turns.push(numbered(&terms));
    }
    let topic = one_line(subject);
    turns.push(ask(
        topic.trim_end_matches(['?', '!', '.']),
        &one_line(sentence),
    ));
    ChatRequest {
        system,
        user: turns.join(&TURN_SEPARATOR.to_string()),
        temperature: temperature.min(LOCAL_MAX_TEMPERATURE),
        max_tokens: Some((k * 10 + 8) as u32),
        seed: None,
    }
}

/// Search terms from a numbered, bulleted or comma-separated reply: list markers, quotes and
/// end punctuation removed; only plain English phrases of 1–4 words kept (an echoed sentence
/// or a bare year is dropped), without duplicates, at most `per_sentence`.
pub fn parse_term_lines(reply: &str, per_sentence: usize) -> Vec<String> {
    let lines: Vec<&str> = reply.lines().filter(|l| !l.trim().is_empty()).collect();
    let pieces: Vec<&str> = match lines.as_slice() {
        [single] => single.split([',', ';']).collect(),
        many => many.to_vec(),
    };
    let mut terms: Vec<String> = Vec::new();
    for piece in pieces {
        let piece = piece.trim();
        // "1." and "2)" are list numbers; "16th century" keeps its digits.
        let digits = piece.chars().take_while(char::is_ascii_digit).count();
        let piece = match piece[digits..].strip_prefix(['.', ')']) {
            Some(rest) if digits > 0 => rest,
            _ => piece,
        };
        let piece = piece.trim_start_matches(['-', '*', '•', ' ']);
        let piece = piece.trim_matches(|c: char| "\"'`.,;:!?()[]".contains(c) || c.is_whitespace());
        let term = piece.split_whitespace().collect::<Vec<_>>().join(" ");
        let words = term.split_whitespace().count();
        let plain = term
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " -'&".contains(c));
        let has_letter = term.chars().any(|c| c.is_ascii_alphabetic());
        let seen = terms.iter().any(|t| t.eq_ignore_ascii_case(&term));
        if (1..=4).contains(&words) && plain && has_letter && !seen {
            terms.push(term);
        }
    }
    terms.truncate(per_sentence.max(1));
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_request_is_a_few_shot_numbered_list() {
        let cfg = ScriptConfig {
            extra_requirements: "Mention whiskers.".into(),
            ..ScriptConfig::default()
        };
        let r = local_script_request("Why do  cats\u{1e}purr?", &cfg, 0.7);
        let turns: Vec<&str> = r.user.split(TURN_SEPARATOR).collect();
        assert_eq!(turns.len(), 3);
        assert_eq!(turns[0], "Topic: How bees make honey\nWrite 6 facts.");
        assert!(turns[1].starts_with("1. Bees visit") && turns[1].contains("\n6. They seal"));
        assert!(!turns[1].contains("7."));
        assert_eq!(
            turns[2],
            "Topic: Why do cats purr?\nWrite 6 facts.\nMention whiskers."
        );
        assert_eq!(
            (r.temperature, r.max_tokens),
            (LOCAL_MAX_TEMPERATURE, Some(256))
        );
        assert_eq!(r.system, SCRIPT_SYSTEM);
        let french = ScriptConfig {
            language: "French".into(),
            sentences: 0,
            system_prompt: "Custom.".into(),
            ..ScriptConfig::default()
        };
        let r = local_script_request("chats", &french, 0.1);
        assert!(r.user.ends_with("Write 6 facts. Write them in French."));
        assert_eq!((r.system.as_str(), r.temperature), ("Custom.", 0.1));
        let many = ScriptConfig {
            sentences: 12,
            ..ScriptConfig::default()
        };
        let r = local_script_request("x", &many, 0.3);
        assert!(r.user.contains("10. Honey") && r.user.contains("Write 12 facts."));
    }

    #[test]
    fn terms_request_asks_about_one_sentence() {
        let r = local_terms_request("Why do cats purr?", "Cats purr when calm.", 3, 0.7);
        let turns: Vec<&str> = r.user.split(TURN_SEPARATOR).collect();
        assert_eq!(turns.len(), 5);
        assert_eq!(turns[1], "1. bee on flower\n2. flower meadow\n3. honey bee");
        assert_eq!(
            turns[4],
            "Topic: Why do cats purr\nSentence: Cats purr when calm."
        );
        assert!(r.system.contains("numbered list of 3"));
        assert_eq!(r.max_tokens, Some(38));
    }

    #[test]
    fn term_lines_are_cleaned_and_filtered() {
        let reply = "1. cat purring\n2) \"Sleeping Kitten\"\n- vet's office.\n3. 1690\n\
                     4. a cat that purrs when it is happy\n5. Cat purring\n6. café";
        assert_eq!(
            parse_term_lines(reply, 8),
            ["cat purring", "Sleeping Kitten", "vet's office"]
        );
        assert_eq!(
            parse_term_lines(reply, 2),
            ["cat purring", "Sleeping Kitten"]
        );
        assert_eq!(
            parse_term_lines("1. 16th century\n2. 3D map", 3),
            ["16th century", "3D map"]
        );
        assert_eq!(
            parse_term_lines("lava flow, magma chamber; volcano", 3),
            ["lava flow", "magma chamber", "volcano"]
        );
        let echo = "They have a unique way of relieving themselves from their own fur.";
        assert!(parse_term_lines(echo, 3).is_empty());
    }
}
