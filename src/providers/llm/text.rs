//! Pure text handling around the LLM: cleaning a script reply into narration and splitting it
//! into sentences. Search-term recovery lives in `super::terms`.

pub use super::terms::recover_terms;

/// Turns a model reply into narration: no reasoning, markdown, stage directions or preamble.
/// Paragraphs come back one per line.
pub fn clean_script(reply: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut first_is_title = false;
    for line in strip_think(reply).lines().map(str::trim) {
        // Fence markers go; a script wrapped in a fence keeps its content.
        if line.starts_with("```") || line.starts_with("~~~") || is_rule(line) {
            continue;
        }
        let marked = line.starts_with('#') || (line.starts_with("**") && line.ends_with("**"));
        let cleaned = clean_line(line);
        if lines.is_empty() && !cleaned.is_empty() {
            first_is_title = is_preamble(&cleaned)
                || (marked
                    && cleaned.split_whitespace().count() <= 12
                    && !cleaned.ends_with(['.', '!', '。', '！']));
        }
        if !cleaned.is_empty() {
            lines.push(cleaned);
        }
    }
    // A lone heading may be the whole reply; it is dropped only when narration follows.
    if first_is_title && lines.len() > 1 {
        lines.remove(0);
    }
    lines.join("\n")
}

/// Removes `<think>…</think>` blocks, a reply cut off inside one, and the reasoning before a
/// closing tag whose opening tag the server dropped.
pub(crate) fn strip_think(reply: &str) -> String {
    let mut text = reply.to_string();
    if let Some(close) = find_ci(&text, "</think>")
        && find_ci(&text[..close], "<think>").is_none()
    {
        text = text[close + "</think>".len()..].to_string();
    }
    while let Some(open) = find_ci(&text, "<think>") {
        let after = open + "<think>".len();
        text = match find_ci(&text[after..], "</think>") {
            Some(close) => format!(
                "{}{}",
                &text[..open],
                &text[after + close + "</think>".len()..]
            ),
            None => text[..open].to_string(),
        };
    }
    text
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.to_ascii_lowercase().find(needle)
}

fn is_rule(line: &str) -> bool {
    line.len() >= 3
        && ['-', '*', '_', '=']
            .iter()
            .any(|&c| line.chars().all(|x| x == c || x == ' '))
}

const TITLE_LABELS: [&str; 4] = ["title:", "title：", "标题:", "标题："];
const PREAMBLES: [&str; 6] = [
    "sure",
    "certainly",
    "of course",
    "here is",
    "here's",
    "okay",
];
const SPEAKER_LABELS: [&str; 5] = [
    "narrator:",
    "narration:",
    "voiceover:",
    "voice-over:",
    "script:",
];

fn is_preamble(line: &str) -> bool {
    let lower = line.to_lowercase();
    TITLE_LABELS.iter().any(|p| lower.starts_with(p))
        || (line.ends_with(':') && PREAMBLES.iter().any(|p| lower.starts_with(p)))
}

fn clean_line(line: &str) -> String {
    let mut s = strip_list_marker(line.trim_start_matches(['#', '>', ' ']));
    for label in SPEAKER_LABELS {
        if s.get(..label.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(label))
        {
            s = &s[label.len()..];
        }
    }
    let s = remove_delimited(&remove_delimited(s, '[', ']'), '【', '】');
    let chars: Vec<char> = s.chars().collect();
    let in_word = |i: usize| chars.get(i).is_some_and(|c| c.is_alphanumeric());
    let s: String = (0..chars.len())
        .filter(|&i| match chars[i] {
            '*' | '#' | '`' => false,
            // Inside a word (snake_case) `_` is part of it; at a word edge it marks emphasis.
            '_' => i > 0 && in_word(i - 1) && in_word(i + 1),
            _ => true,
        })
        .map(|i| chars[i])
        .collect();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    // Removing a direction can leave "word ." behind.
    [" .", " ,", " !", " ?", " ;", " :"]
        .iter()
        .fold(s, |acc, p| acc.replace(p, &p[1..]))
}

fn strip_list_marker(s: &str) -> &str {
    for marker in ["- ", "* ", "+ ", "• "] {
        if let Some(rest) = s.strip_prefix(marker) {
            return rest;
        }
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 3 {
        let rest = &s[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return rest;
        }
    }
    s
}

fn remove_delimited(s: &str, open: char, close: char) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            _ if c == open => depth += 1,
            _ if c == close && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

const TERMINALS: [char; 9] = ['.', '!', '?', '…', '。', '！', '？', '؟', '।'];
const CLOSERS: [char; 10] = ['"', '\'', '”', '’', ')', '」', '』', '»', '】', '）'];
/// Titles precede a name, so they never end a sentence. Other abbreviations (e.g., etc.) are
/// caught by the lowercase word after them; these are followed by a number.
const TITLES: [&str; 8] = ["mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr"];
const NUMBERED: [&str; 4] = ["no", "fig", "vol", "approx"];

/// Splits narration into sentences, keeping their punctuation. Line breaks always end a
/// sentence, so a paragraph without a final mark still stands alone.
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        let mut start = 0;
        let mut i = 0;
        while i < chars.len() {
            if !TERMINALS.contains(&chars[i]) {
                i += 1;
                continue;
            }
            let mark = i;
            while i < chars.len() && TERMINALS.contains(&chars[i]) {
                i += 1;
            }
            while i < chars.len() && CLOSERS.contains(&chars[i]) {
                i += 1;
            }
            if ends_sentence(&chars, mark, i) {
                push_sentence(&mut out, &chars[start..i]);
                start = i;
            }
        }
        push_sentence(&mut out, &chars[start..]);
    }
    out
}

/// `mark` is the first terminal char, `after` the index just past the marks and closers.
fn ends_sentence(chars: &[char], mark: usize, after: usize) -> bool {
    let run: String = chars[mark..after].iter().collect();
    let cjk = run.contains(['。', '！', '？']);
    let next = chars[after..].iter().find(|c| !c.is_whitespace());
    let Some(&next) = next else { return true };
    if cjk {
        return true;
    }
    // "3.5", "example.com": a mark glued to the next word is not an ending.
    if !chars[after].is_whitespace() {
        return false;
    }
    if next.is_lowercase() {
        return false;
    }
    if run == "." {
        let from = chars[..mark]
            .iter()
            .rposition(|c| !(c.is_alphanumeric() || *c == '.'))
            .map_or(0, |p| p + 1);
        let word = chars[from..mark].iter().collect::<String>().to_lowercase();
        if TITLES.contains(&word.as_str()) {
            return false;
        }
        if next.is_ascii_digit() && NUMBERED.contains(&word.as_str()) {
            return false;
        }
    }
    true
}

fn push_sentence(out: &mut Vec<String>, chars: &[char]) {
    let s: String = chars.iter().collect();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if !s.is_empty() {
        out.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_cleanup() {
        let reply = "<think>plan it\n</think>\n# Why Cats Purr\n\n**Cats** purr [soft music] *often*.\n\n\n- It is a __calm__ sound (mostly). 【音乐】\n```\nsnake_case stays.\n```";
        assert_eq!(
            clean_script(reply),
            "Cats purr often.\nIt is a calm sound (mostly).\nsnake_case stays."
        );
        assert_eq!(
            clean_script("Title: Purring\nNarrator: Cats purr."),
            "Cats purr."
        );
        assert_eq!(
            clean_script("Sure! Here is your script:\nCats purr."),
            "Cats purr."
        );
        assert_eq!(
            clean_script("reasoning only</think>Cats purr."),
            "Cats purr."
        );
        assert_eq!(clean_script("Cats purr.<think>cut off mid"), "Cats purr.");
        assert_eq!(
            clean_script("**Cats purr loudly.**\nThey do."),
            "Cats purr loudly.\nThey do."
        );
        assert_eq!(clean_script("# Just a heading"), "Just a heading");
    }

    #[test]
    fn sentence_splitting() {
        let s = split_sentences(
            "Mr. Smith paid 3.5 dollars, e.g. for milk. \"Really?\" he asked! Wait... it works.\nNo mark here",
        );
        assert_eq!(
            s,
            [
                "Mr. Smith paid 3.5 dollars, e.g. for milk.",
                "\"Really?\" he asked!",
                "Wait... it works.",
                "No mark here"
            ]
        );
        assert_eq!(
            split_sentences("He said \"go.\" Then left."),
            ["He said \"go.\"", "Then left."]
        );
        assert_eq!(
            split_sentences("猫会发出呼噜声。为什么？因为开心！"),
            ["猫会发出呼噜声。", "为什么？", "因为开心！"]
        );
        assert_eq!(
            split_sentences("  one long line without punctuation "),
            ["one long line without punctuation"]
        );
        assert!(split_sentences(" \n ").is_empty());
    }
}
