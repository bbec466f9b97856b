//! The two prompts reelforge sends: the narration script and the per-sentence search terms.
//!
//! Settings that vary per task (paragraph and sentence count, language, extra requirements) go
//! in the user message, so they still apply when `script.system_prompt` replaces the built-in
//! rules. The embedded model (provider name [`LOCAL_PROVIDER`]) gets its own few-shot prompts
//! from `local::prompts`, re-exported here: a 135M model does not follow these rule lists.

use super::ChatRequest;
use crate::config::ScriptConfig;

pub use super::local::prompts::{
    LOCAL_MAX_TEMPERATURE, local_script_request, local_sentence_count, local_terms_request,
    parse_term_lines,
};

/// `LlmProvider::name()` of the embedded model, whose prompts differ.
pub const LOCAL_PROVIDER: &str = super::local::PROVIDER;

/// The script request suited to `provider` (an `LlmProvider::name()`).
pub fn script_request_for(
    provider: &str,
    subject: &str,
    cfg: &ScriptConfig,
    temperature: f64,
) -> ChatRequest {
    if provider == LOCAL_PROVIDER {
        local_script_request(subject, cfg, temperature)
    } else {
        script_request(subject, cfg, temperature)
    }
}

const SCRIPT_SYSTEM: &str = "\
You write narration scripts for short videos. The text you return is read aloud by a voice \
exactly as written.

Rules:
1. Return only the words the narrator speaks: no markdown, no formatting symbols, no titles or \
headings, no lists, no numbering.
2. Do not open with greetings such as \"welcome to this video\" and do not close with calls to \
like, subscribe or comment.
3. No stage directions, scene descriptions, sound cues, speaker names or anything in brackets.
4. Write plain, complete, factual sentences that sound natural when spoken.
5. Separate paragraphs with one blank line.";

const TERMS_SYSTEM: &str = "\
You pick stock-footage search terms for the sentences of a video narration.

Reply with ONLY a JSON array of arrays of strings: no explanation, no markdown, no code fence, \
no object. Every term is in English, whatever the language of the sentences, is 1 to 3 words \
long, and describes something a camera can film (objects, animals, places, actions), not an \
abstract idea.";

/// Concrete rather than placeholder terms: small models copy placeholders literally.
const TERMS_EXAMPLE: &str = "Example for two sentences and three terms each: \
[[\"cat purring\", \"sleeping kitten\", \"cat close up\"], \
[\"busy street\", \"traffic at night\", \"city skyline\"]]";

/// The request for a narration script about `subject`, following `cfg`.
pub fn script_request(subject: &str, cfg: &ScriptConfig, temperature: f64) -> ChatRequest {
    let paragraphs = cfg.paragraphs.clamp(1, 10);
    let system = match cfg.system_prompt.trim() {
        "" => SCRIPT_SYSTEM.to_string(),
        custom => custom.to_string(),
    };
    let language = match cfg.language.trim() {
        l if l.is_empty() || l.eq_ignore_ascii_case("auto") => {
            "Write it in the same language as the subject.".to_string()
        }
        l => format!("Write it in {l}."),
    };
    let plural = if paragraphs == 1 { "" } else { "s" };
    let length = match cfg.sentences {
        0 => format!("in exactly {paragraphs} paragraph{plural}"),
        n => format!(
            "in exactly {n} sentences, {paragraphs} paragraph{plural} in all",
            n = n.clamp(3, 30)
        ),
    };
    let mut user = format!(
        "Subject: {subject}\n\nWrite the narration script for a short video about this subject \
         {length}. {language} Plain text only: no markdown, no title, no stage directions.",
        subject = subject.trim(),
    );
    let extra = cfg.extra_requirements.trim();
    if !extra.is_empty() {
        user.push_str("\n\nAdditional requirements:\n");
        user.push_str(extra);
    }
    ChatRequest {
        seed: None,
        system,
        user,
        temperature,
        max_tokens: None,
    }
}

/// The request for `per_sentence` search terms for each of `sentences`, in order.
pub fn terms_request(
    subject: &str,
    sentences: &[String],
    per_sentence: usize,
    temperature: f64,
) -> ChatRequest {
    let k = per_sentence.clamp(1, 8);
    let n = sentences.len();
    let numbered: Vec<String> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, s.trim()))
        .collect();
    let user = format!(
        "Video subject: {subject}\n\nSentences:\n{sentences}\n\nReturn a JSON array of exactly {n} \
         arrays, one per numbered sentence, in the same order. Each inner array holds {k} short \
         English search terms for stock footage that matches that sentence.\n\n{TERMS_EXAMPLE}",
        subject = subject.trim(),
        sentences = numbered.join("\n"),
    );
    ChatRequest {
        seed: None,
        system: TERMS_SYSTEM.to_string(),
        user,
        temperature,
        max_tokens: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ScriptConfig {
        ScriptConfig::default()
    }

    #[test]
    fn script_prompt_carries_the_rules() {
        let r = script_request("Why do cats purr?", &cfg(), 0.7);
        assert!(r.system.contains("no markdown"));
        assert!(r.system.contains("welcome to this video"));
        assert!(r.system.contains("No stage directions"));
        assert!(r.user.contains("Why do cats purr?"));
        assert!(r.user.contains("exactly 6 sentences, 1 paragraph in all."));
        assert!(r.user.contains("same language as the subject"));
        assert_eq!(r.temperature, 0.7);
    }

    #[test]
    fn script_prompt_follows_settings() {
        let c = ScriptConfig {
            language: "German".into(),
            paragraphs: 40,
            extra_requirements: "Mention whiskers.".into(),
            system_prompt: "You are a pirate narrator.".into(),
            sentences: 0,
        };
        let r = script_request("cats", &c, 0.2);
        assert_eq!(r.system, "You are a pirate narrator.");
        assert!(r.user.contains("exactly 10 paragraphs"));
        assert!(r.user.contains("Write it in German."));
        assert!(r.user.ends_with("Mention whiskers."));
        let auto = ScriptConfig {
            language: "AUTO".into(),
            paragraphs: 0,
            sentences: 50,
            ..cfg()
        };
        let r = script_request("cats", &auto, 0.2);
        assert!(r.user.contains("same language"));
        assert!(r.user.contains("exactly 30 sentences, 1 paragraph in all"));
        assert_eq!(r.system, SCRIPT_SYSTEM);
    }

    #[test]
    fn the_local_provider_gets_its_own_prompt() {
        let local = script_request_for(LOCAL_PROVIDER, "cats", &cfg(), 0.7);
        assert_eq!(local, local_script_request("cats", &cfg(), 0.7));
        let remote = script_request_for("openai-compatible", "cats", &cfg(), 0.7);
        assert_eq!(remote, script_request("cats", &cfg(), 0.7));
    }

    #[test]
    fn terms_prompt_numbers_sentences() {
        let sentences = vec![
            "Cats purr.".to_string(),
            "Kittens too.".into(),
            "Why?".into(),
        ];
        let r = terms_request("cats", &sentences, 3, 0.3);
        assert!(r.system.contains("ONLY a JSON array of arrays"));
        assert!(r.system.contains("English"));
        assert!(r.user.contains("1. Cats purr.\n2. Kittens too.\n3. Why?"));
        assert!(r.user.contains("exactly 3 arrays"));
        assert!(r.user.contains("3 short English search terms"));
        assert!(
            r.user
                .contains("[[\"cat purring\", \"sleeping kitten\", \"cat close up\"], [")
        );
    }
}
