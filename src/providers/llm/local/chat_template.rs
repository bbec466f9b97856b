//! Chat prompt formats of the supported model families, recognised from the GGUF
//! `tokenizer.chat_template` (or, without one, from the vocabulary). The three formats are
//! fixed strings, so no Jinja engine is needed.

/// How a family frames a system + user turn and ends the assistant's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatFamily {
    /// `<|im_start|>role\n…<|im_end|>`: SmolLM2, Qwen2, Qwen3.
    ChatMl {
        /// Qwen3 thinks aloud unless the answer opens with an empty think block.
        skip_thinking: bool,
    },
    /// `<start_of_turn>user\n…<end_of_turn>`: Gemma (no system role).
    Gemma,
    /// `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`: Llama 3.
    Llama3,
}

/// Separates few-shot turns inside a request's user text for local models: a 135M model
/// copies the shape of an answer it "gave" before far better than a described example.
/// (U+001E, the ASCII record separator, which no subject or script contains.)
pub const TURN_SEPARATOR: char = '\u{1e}';

const MARKERS: [(&str, ChatFamily); 3] = [
    (
        "<|im_start|>",
        ChatFamily::ChatMl {
            skip_thinking: false,
        },
    ),
    ("<start_of_turn>", ChatFamily::Gemma),
    ("<|start_header_id|>", ChatFamily::Llama3),
];

impl ChatFamily {
    /// The family of a chat template; `has_token` answers whether a vocabulary entry exists
    /// and is used when the file carries no template. `None`: an unknown format.
    pub fn detect(template: Option<&str>, has_token: impl Fn(&str) -> bool) -> Option<Self> {
        let found = match template {
            Some(t) if !t.trim().is_empty() => MARKERS.iter().find(|(m, _)| t.contains(m)),
            _ => MARKERS.iter().find(|(m, _)| has_token(m)),
        };
        match found?.1 {
            ChatFamily::ChatMl { .. } => Some(ChatFamily::ChatMl {
                skip_thinking: template.is_some_and(|t| t.contains("<think>")),
            }),
            family => Some(family),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChatFamily::ChatMl { .. } => "ChatML",
            ChatFamily::Gemma => "Gemma",
            ChatFamily::Llama3 => "Llama 3",
        }
    }

    /// The prompt text up to where the assistant's answer starts (no BOS: the tokenizer
    /// adds it when the model wants one). `user` may hold few-shot turns split by
    /// [`TURN_SEPARATOR`]: question, answer, question, …, the real question last.
    pub fn render(self, system: &str, user: &str) -> String {
        let system = system.trim();
        let turns: Vec<(&str, &str)> = user
            .split(TURN_SEPARATOR)
            .enumerate()
            .map(|(i, text)| (if i % 2 == 0 { "user" } else { "assistant" }, text.trim()))
            .collect();
        let mut p = String::new();
        match self {
            ChatFamily::ChatMl { skip_thinking } => {
                if !system.is_empty() {
                    p.push_str(&format!("<|im_start|>system\n{system}<|im_end|>\n"));
                }
                for (role, text) in turns {
                    p.push_str(&format!("<|im_start|>{role}\n{text}<|im_end|>\n"));
                }
                p.push_str("<|im_start|>assistant\n");
                if skip_thinking {
                    p.push_str("<think>\n\n</think>\n\n");
                }
            }
            ChatFamily::Gemma => {
                for (k, (role, text)) in turns.into_iter().enumerate() {
                    let role = if role == "user" { "user" } else { "model" };
                    // Gemma's own template folds the system prompt into the first user turn.
                    let text = match (k, system) {
                        (0, s) if !s.is_empty() => format!("{s}\n\n{text}"),
                        _ => text.to_string(),
                    };
                    p.push_str(&format!("<start_of_turn>{role}\n{text}<end_of_turn>\n"));
                }
                p.push_str("<start_of_turn>model\n");
            }
            ChatFamily::Llama3 => {
                let header = |role: &str| format!("<|start_header_id|>{role}<|end_header_id|>\n\n");
                if !system.is_empty() {
                    p.push_str(&format!("{}{system}<|eot_id|>", header("system")));
                }
                for (role, text) in turns {
                    p.push_str(&format!("{}{text}<|eot_id|>", header(role)));
                }
                p.push_str(&header("assistant"));
            }
        }
        p
    }

    /// Tokens that end the answer, besides the model's EOS.
    pub fn stop_tokens(self) -> &'static [&'static str] {
        match self {
            // Qwen base-style checkpoints end with <|endoftext|> instead of <|im_end|>.
            ChatFamily::ChatMl { .. } => &["<|im_end|>", "<|endoftext|>"],
            ChatFamily::Gemma => &["<end_of_turn>", "<eos>"],
            ChatFamily::Llama3 => &["<|eot_id|>", "<|end_of_text|>", "<|eom_id|>"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + \
        '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";

    #[test]
    fn detects_families_from_templates_and_vocabulary() {
        let none = |_: &str| false;
        assert_eq!(
            ChatFamily::detect(Some(SMOLLM2), none),
            Some(ChatFamily::ChatMl {
                skip_thinking: false
            })
        );
        let qwen3 = "{{'<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n'}}";
        assert_eq!(
            ChatFamily::detect(Some(qwen3), none),
            Some(ChatFamily::ChatMl {
                skip_thinking: true
            })
        );
        let gemma = "{{ '<start_of_turn>' + role + '\\n' }}";
        assert_eq!(
            ChatFamily::detect(Some(gemma), none),
            Some(ChatFamily::Gemma)
        );
        let llama3 = "<|start_header_id|>{{ role }}<|end_header_id|>";
        assert_eq!(
            ChatFamily::detect(Some(llama3), none),
            Some(ChatFamily::Llama3)
        );
        assert_eq!(
            ChatFamily::detect(Some("[INST] {{ x }} [/INST]"), none),
            None
        );
        let vocab = |t: &str| t == "<start_of_turn>";
        assert_eq!(ChatFamily::detect(None, vocab), Some(ChatFamily::Gemma));
        assert_eq!(ChatFamily::detect(None, none), None);
    }

    #[test]
    fn renders_each_family() {
        let chatml = ChatFamily::ChatMl {
            skip_thinking: false,
        }
        .render(" Be brief. ", "Hi");
        assert_eq!(
            chatml,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\n"
        );
        let qwen3 = ChatFamily::ChatMl {
            skip_thinking: true,
        }
        .render("", "Hi");
        assert!(qwen3.starts_with("<|im_start|>user\nHi"));
        assert!(qwen3.ends_with("assistant\n<think>\n\n</think>\n\n"));
        let gemma = ChatFamily::Gemma.render("Be brief.", "Hi");
        assert_eq!(
            gemma,
            "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
        );
        let llama = ChatFamily::Llama3.render("S", "U");
        assert!(llama.starts_with("<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"));
        assert!(llama.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"));
        assert!(ChatFamily::Llama3.stop_tokens().contains(&"<|eot_id|>"));
    }

    #[test]
    fn few_shot_turns_become_real_turns() {
        let user = "Q1\u{1e}A1\u{1e}Q2";
        let chatml = ChatFamily::ChatMl {
            skip_thinking: false,
        }
        .render("S", user);
        assert_eq!(
            chatml,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n\
             <|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n\
             <|im_start|>assistant\n"
        );
        let gemma = ChatFamily::Gemma.render("S", user);
        assert_eq!(
            gemma,
            "<start_of_turn>user\nS\n\nQ1<end_of_turn>\n<start_of_turn>model\nA1<end_of_turn>\n\
             <start_of_turn>user\nQ2<end_of_turn>\n<start_of_turn>model\n"
        );
        let llama = ChatFamily::Llama3.render("", user);
        assert!(llama.starts_with("<|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|>"));
        assert!(llama.contains("assistant<|end_header_id|>\n\nA1<|eot_id|>"));
    }
}
