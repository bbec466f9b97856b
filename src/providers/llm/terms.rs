//! Recovering per-sentence search terms from messy JSON-ish LLM replies.

use super::text::strip_think;

/// Search terms, one group per sentence, from a reply that should be a JSON array of arrays but
/// may carry reasoning, fences, prose, trailing commas, single or smart quotes, a flat list or a
/// wrapping object. Groups are deduplicated, capped at `per_sentence`, and padded from their
/// neighbours when the model returned fewer groups than `sentences`.
pub fn recover_terms(
    reply: &str,
    sentences: usize,
    per_sentence: usize,
) -> Result<Vec<Vec<String>>, String> {
    let text: Vec<char> = strip_think(reply)
        .replace("```json", " ")
        .replace("```", " ")
        .replace(['“', '”'], "\"")
        .replace(['‘', '’'], "'")
        .chars()
        .collect();
    let starts: Vec<usize> = (0..text.len())
        .filter(|&i| matches!(text[i], '[' | '{'))
        .collect();
    if starts.is_empty() {
        return Err("no JSON array in the reply".into());
    }
    // Prose before the array may hold brackets of its own: the first start with terms wins.
    let mut groups = starts
        .iter()
        .take(64)
        .map(|&i| scan_groups(&text, i))
        .find(|g| g.iter().flatten().any(|t| !t.trim().is_empty()))
        .ok_or("the reply's JSON holds no search terms")?;
    let want = sentences.max(1);
    if groups.len() == 1 && sentences > 1 {
        // A flat list: deal its terms out over the sentences.
        let terms = groups.remove(0);
        groups = vec![Vec::new(); want];
        for (k, term) in terms.into_iter().enumerate() {
            groups[k % want].push(term);
        }
    }
    let mut groups: Vec<Vec<String>> = groups.into_iter().map(|g| tidy(g, per_sentence)).collect();
    if sentences > 0 {
        groups.resize(want, Vec::new());
    }
    let filled = groups.clone();
    for (i, group) in groups.iter_mut().enumerate().filter(|(_, g)| g.is_empty()) {
        // Nearest non-empty neighbour, the earlier one on a tie.
        let near = (1..filled.len())
            .flat_map(|d| [i.checked_sub(d), Some(i + d)])
            .flatten()
            .find(|&j| filled.get(j).is_some_and(|g| !g.is_empty()));
        if let Some(j) = near {
            *group = filled[j].clone();
        }
    }
    Ok(groups)
}

fn tidy(group: Vec<String>, per_sentence: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for term in group {
        let term = term.trim_matches(|c: char| c.is_whitespace() || "\"'.,;:".contains(c));
        let term = term.split_whitespace().collect::<Vec<_>>().join(" ");
        if !term.is_empty() && !out.iter().any(|t| t.to_lowercase() == term.to_lowercase()) {
            out.push(term);
        }
    }
    out.truncate(per_sentence.max(1));
    out
}

/// Reads the JSON-ish value opening at `start` and groups its strings by the container that
/// holds them. Commas, numbers and literals are ignored, which makes trailing or missing commas
/// harmless; object keys are skipped; a truncated reply simply ends the scan. Strings loose in
/// an object (often the echoed sentence) are dropped when lists carry the terms.
fn scan_groups(c: &[char], start: usize) -> Vec<Vec<String>> {
    let mut stack: Vec<(usize, bool)> = Vec::new();
    let mut containers = 0;
    let mut found: Vec<(usize, bool, String)> = Vec::new();
    let mut i = start;
    while i < c.len() {
        match c[i] {
            open @ ('[' | '{') => {
                // An empty inner list is still a sentence's group; keep its place.
                if open == '[' && stack.last().is_some_and(|&(_, in_object)| !in_object) {
                    found.push((containers, false, String::new()));
                }
                stack.push((containers, open == '{'));
                containers += 1;
            }
            ']' | '}' => {
                stack.pop();
                if stack.is_empty() {
                    break;
                }
            }
            quote @ ('"' | '\'') => {
                let (text, end) = read_string(c, i + 1, quote);
                i = end;
                let is_key = next_visible(c, i + 1) == Some(':');
                if let (Some(&(parent, in_object)), false) = (stack.last(), is_key) {
                    found.push((parent, in_object, text));
                }
            }
            _ => {}
        }
        i += 1;
    }
    let lists_hold_terms = found.iter().any(|(_, in_object, _)| !in_object);
    let mut groups: Vec<(usize, Vec<String>)> = Vec::new();
    for (parent, in_object, text) in found {
        if in_object && lists_hold_terms {
            continue;
        }
        match groups.last_mut() {
            Some((p, terms)) if *p == parent => terms.push(text),
            _ => groups.push((parent, vec![text])),
        }
    }
    groups.into_iter().map(|(_, terms)| terms).collect()
}

/// The string starting at `from` and the index of its closing quote. An apostrophe ("cat's")
/// only closes a single-quoted string when a separator follows.
fn read_string(c: &[char], from: usize, quote: char) -> (String, usize) {
    let mut out = String::new();
    let mut i = from;
    while i < c.len() {
        match c[i] {
            '\\' if c.get(i + 1) == Some(&'u') => {
                let hex: String = c.iter().skip(i + 2).take(4).collect();
                out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                i += 5;
            }
            '\\' => {
                i += 1;
                out.extend(c.get(i).map(|&e| if "ntr".contains(e) { ' ' } else { e }));
            }
            q if q == quote
                && (quote == '"' || next_visible(c, i + 1).is_none_or(|n| ",]}:".contains(n))) =>
            {
                return (out, i);
            }
            other => out.push(other),
        }
        i += 1;
    }
    (out, i)
}

fn next_visible(c: &[char], from: usize) -> Option<char> {
    c.iter().skip(from).copied().find(|ch| !ch.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(reply: &str, n: usize, k: usize) -> Vec<Vec<String>> {
        recover_terms(reply, n, k).unwrap_or_else(|e| panic!("{e}: {reply}"))
    }

    fn v(groups: &[&[&str]]) -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|g| g.iter().map(|t| t.to_string()).collect())
            .collect()
    }

    #[test]
    fn terms_from_clean_and_messy_replies() {
        let want = v(&[&["cat", "kitten"], &["dog"]]);
        assert_eq!(terms(r#"[["cat","kitten"],["dog"]]"#, 2, 5), want);
        // Prose, fences, reasoning, trailing commas, single and smart quotes.
        let messy = "<think>[x]</think>Here you go [note]:\n```json\n[['cat', \"kitten\", 'CAT',],\n [“dog”,],]\n```\nHope it helps!";
        assert_eq!(terms(messy, 2, 5), want);
        assert_eq!(
            terms(r#"{"terms": [["cat","kitten"],["dog"]]}"#, 2, 5),
            want
        );
        assert_eq!(
            terms(
                r#"[{"sentence":"A cat.","terms":["cat","kitten"]},{"sentence":"B","terms":["dog"]}]"#,
                2,
                5
            ),
            want
        );
        assert_eq!(
            terms("['cat's paw', 'dog']", 1, 5),
            v(&[&["cat's paw", "dog"]])
        );
    }

    #[test]
    fn terms_are_spread_capped_and_filled() {
        assert_eq!(
            terms(r#"["a","b","c","d","e"]"#, 2, 2),
            v(&[&["a", "c"], &["b", "d"]])
        );
        assert_eq!(
            terms(r#"[["a","b","c"],[]]"#, 3, 2),
            v(&[&["a", "b"], &["a", "b"], &["a", "b"]])
        );
        assert_eq!(
            terms(r#"[["a"],[],["c"],[" "]]"#, 4, 3),
            v(&[&["a"], &["a"], &["c"], &["c"]])
        );
        assert_eq!(terms(r#"[["a"],["b"],["c"]]"#, 2, 3), v(&[&["a"], &["b"]]));
        // Truncated by max_tokens: what arrived is kept.
        assert_eq!(
            terms(r#"[["a","b"],["c","#, 2, 3),
            v(&[&["a", "b"], &["c"]])
        );
    }

    #[test]
    fn unusable_terms_are_errors() {
        assert!(recover_terms("I cannot help with that.", 2, 3).is_err());
        assert!(recover_terms("[]", 2, 3).is_err());
        assert!(recover_terms("[[], [\"  \"]]", 2, 3).is_err());
        assert!(recover_terms("[1, 2, true]", 2, 3).is_err());
    }
}
