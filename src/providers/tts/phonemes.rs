//! Text → Piper phoneme ids: espeak-ng's IPA clause by clause, the clause punctuation put
//! back as Piper's own phonemizer does (so pauses and question intonation survive), then
//! every codepoint mapped through the voice's `phoneme_id_map` and framed `^ _ … _ $`.

use crate::media::MediaError;
use crate::media::tool::{find_tool, run_tool};
use crate::providers::ProviderError;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use tokio_util::sync::CancellationToken;

const PAD: char = '_';
const BOS: char = '^';
const EOS: char = '$';

/// A voice's symbol table, from the `phoneme_id_map` (and optional `phoneme_map`
/// substitutions) of its `.onnx.json`.
#[derive(Clone, Debug)]
pub struct PhonemeTable {
    ids: HashMap<char, Vec<i64>>,
    substitutions: HashMap<char, Vec<char>>,
}

impl PhonemeTable {
    /// Builds the table; Piper's symbols are single codepoints, other keys are ignored.
    pub fn new(
        id_map: &HashMap<String, Vec<i64>>,
        phoneme_map: &HashMap<String, Vec<String>>,
    ) -> Result<Self, String> {
        let ids: HashMap<char, Vec<i64>> = id_map
            .iter()
            .filter_map(|(key, ids)| single_char(key).map(|c| (c, ids.clone())))
            .collect();
        for needed in [PAD, BOS, EOS] {
            if !ids.contains_key(&needed) {
                return Err(format!("phoneme_id_map has no '{needed}'"));
            }
        }
        let substitutions = phoneme_map
            .iter()
            .filter_map(|(key, to)| {
                let to = to.iter().flat_map(|s| s.chars()).collect();
                single_char(key).map(|c| (c, to))
            })
            .collect();
        Ok(PhonemeTable { ids, substitutions })
    }

    /// Whether the voice has a symbol for `c` (used to keep only known punctuation).
    pub fn knows(&self, c: char) -> bool {
        self.ids.contains_key(&c)
    }

    /// `^ _ p1 _ p2 _ … pn _ $`, exactly Piper's framing; unknown codepoints are skipped
    /// (and reported once per process, so a long script does not flood the log).
    pub fn ids(&self, phonemes: &str) -> Vec<i64> {
        let pad = &self.ids[&PAD];
        let mut out = Vec::with_capacity(phonemes.len() * 2 + 3);
        out.extend(&self.ids[&BOS]);
        out.extend(pad);
        let expanded = phonemes
            .chars()
            .flat_map(|c| match self.substitutions.get(&c) {
                Some(to) => to.clone(),
                None => vec![c],
            });
        for c in expanded {
            match self.ids.get(&c) {
                Some(ids) => {
                    out.extend(ids);
                    out.extend(pad);
                }
                None => warn_unknown(c),
            }
        }
        out.extend(&self.ids[&EOS]);
        out
    }
}

fn single_char(key: &str) -> Option<char> {
    let mut chars = key.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

fn warn_unknown(c: char) {
    static SEEN: OnceLock<Mutex<HashSet<char>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if seen.insert(c) {
        tracing::warn!(phoneme = %c.escape_unicode(), "the Piper voice has no id for this phoneme; skipped");
    }
}

/// A clause of the input text and the punctuation that ends it, as Piper writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub text: String,
    pub end: char,
}

/// The punctuation Piper appends for a clause ending in `c`, if `c` ends clauses for espeak.
fn clause_mark(c: char) -> Option<char> {
    match c {
        '.' | ',' | ';' | ':' | '!' | '?' => Some(c),
        '…' => Some('.'),
        // espeak-ng breaks at dashes with comma intonation.
        '—' | '–' => Some(','),
        _ => None,
    }
}

/// Splits at clause punctuation that is followed by a space or the end (so "3.5", "10:30"
/// and "Hello,world" stay whole, as espeak-ng keeps them), closing quotes and brackets
/// allowed in between. Clauses without a letter or digit are dropped (espeak says nothing
/// for them); a last clause without punctuation ends in '.' like espeak's end of text.
pub fn split_clauses(text: &str) -> Vec<Clause> {
    let chars: Vec<char> = text.chars().collect();
    let mut clauses = Vec::new();
    let mut start = 0;
    for (i, &c) in chars.iter().enumerate() {
        let Some(end) = clause_mark(c) else { continue };
        let mut next = i + 1;
        while chars.get(next).is_some_and(|c| "\"')]}”’»".contains(*c)) {
            next += 1;
        }
        // espeak-ng ends a clause at '…' even when a word follows without a space.
        if c == '…' || chars.get(next).is_none_or(|c| c.is_whitespace()) {
            let text: String = chars[start..next].iter().collect();
            clauses.push(Clause { text, end });
            start = next;
        }
    }
    let rest: String = chars[start..].iter().collect();
    clauses.push(Clause {
        text: rest,
        end: '.',
    });
    clauses.retain(|c| c.text.chars().any(char::is_alphanumeric));
    clauses
}

/// Joins espeak-ng's IPA lines (one per clause) with the clauses' punctuation:
/// "ðˈɪs, ɪz ɐ tˈɛst." When espeak split the text differently than we did (an
/// abbreviation, a very long clause), the lines are joined plainly and only the final
/// punctuation is kept: the words are right, at worst a pause is lost.
pub fn with_punctuation(lines: &[&str], clauses: &[Clause], table: &PhonemeTable) -> String {
    let mark = |c: char| {
        if table.knows(c) {
            c.to_string()
        } else {
            String::new()
        }
    };
    if lines.len() == clauses.len() {
        return lines
            .iter()
            .zip(clauses)
            .map(|(line, clause)| format!("{line}{}", mark(clause.end)))
            .collect::<Vec<_>>()
            .join(" ");
    }
    tracing::debug!(
        lines = lines.len(),
        clauses = clauses.len(),
        "espeak-ng split clauses differently; keeping only the final punctuation"
    );
    let end = clauses.last().map_or('.', |c| c.end);
    format!("{}{}", lines.join(" "), mark(end))
}

/// Phonemizes one sentence with `espeak-ng -q --ipa`. The text goes through `scratch` (a
/// file) so a sentence starting with '-' is never read as an option.
pub async fn phonemize(
    text: &str,
    voice: &str,
    table: &PhonemeTable,
    scratch: &Path,
    cancel: &CancellationToken,
) -> Result<String, ProviderError> {
    let clauses = split_clauses(text);
    if clauses.is_empty() {
        return Ok(String::new());
    }
    tokio::fs::write(scratch, text)
        .await
        .map_err(|e| media_error(format!("cannot write {}: {e}", scratch.display())))?;
    let exe = find_tool("espeak-ng").map_err(from_media)?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("-q")
        .arg("--ipa")
        .arg("-v")
        .arg(voice)
        .arg("-f")
        .arg(scratch);
    let output = run_tool(&mut cmd, "espeak-ng", cancel)
        .await
        .map_err(from_media)?;
    let _ = tokio::fs::remove_file(scratch).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    Ok(with_punctuation(&lines, &clauses, table))
}

fn media_error(message: String) -> ProviderError {
    ProviderError::Media {
        provider: "piper (espeak-ng phonemizer)".into(),
        message,
        transient: false,
    }
}

fn from_media(err: MediaError) -> ProviderError {
    match err {
        MediaError::Cancelled => ProviderError::Cancelled,
        other => media_error(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PhonemeTable {
        let symbols = ["_", "^", "$", " ", "!", ",", ".", "?", "h", "i", "ˈ", "ə"];
        let ids = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.to_string(), vec![i as i64]))
            .collect();
        let subs = HashMap::from([("x".to_string(), vec!["h".to_string(), "i".to_string()])]);
        PhonemeTable::new(&ids, &subs).unwrap()
    }

    #[test]
    fn frames_like_piper_and_skips_unknown_symbols() {
        // ^ _ h _ ˈ _ i _ $  (the 'Z' has no id and is dropped)
        assert_eq!(table().ids("hˈZi"), vec![1, 0, 8, 0, 10, 0, 9, 0, 2]);
        assert_eq!(table().ids(""), vec![1, 0, 2]);
        // phoneme_map substitutions expand before the lookup.
        assert_eq!(table().ids("x"), vec![1, 0, 8, 0, 9, 0, 2]);
        let no_pad = HashMap::from([("^".to_string(), vec![1]), ("$".to_string(), vec![2])]);
        assert!(PhonemeTable::new(&no_pad, &HashMap::new()).is_err());
    }

    #[test]
    fn splits_clauses_where_espeak_does() {
        let got = split_clauses("Hello, world. 3.5 at 10:30; \"really?\" yes");
        let texts: Vec<(&str, char)> = got.iter().map(|c| (c.text.trim(), c.end)).collect();
        assert_eq!(
            texts,
            vec![
                ("Hello,", ','),
                ("world.", '.'),
                ("3.5 at 10:30;", ';'),
                ("\"really?\"", '?'),
                ("yes", '.'),
            ]
        );
        assert!(split_clauses(" ... ").is_empty());
        assert_eq!(split_clauses("Wait — really")[0].end, ',');
        assert_eq!(split_clauses("Yes…no").len(), 2);
    }

    #[test]
    fn puts_punctuation_back_and_falls_back_when_counts_differ() {
        let clauses = split_clauses("Hi, hi?");
        assert_eq!(
            with_punctuation(&["hˈi", "hi"], &clauses, &table()),
            "hˈi, hi?"
        );
        assert_eq!(with_punctuation(&["hˈi hi"], &clauses, &table()), "hˈi hi?");
        // ';' is not in this voice's table, so it is left out rather than mapped to nothing.
        let clauses = split_clauses("Hi; hi");
        assert_eq!(
            with_punctuation(&["hi", "hi"], &clauses, &table()),
            "hi hi."
        );
    }

    #[tokio::test]
    async fn espeak_ng_gives_ipa_with_clause_punctuation() {
        let dir = tempfile::tempdir().unwrap();
        let mut ids: HashMap<String, Vec<i64>> = HashMap::new();
        for (i, c) in "_^$ ,.?!;:".chars().enumerate() {
            ids.insert(c.to_string(), vec![i as i64]);
        }
        let table = PhonemeTable::new(&ids, &HashMap::new()).unwrap();
        let scratch = dir.path().join("s.txt");
        let cancel = CancellationToken::new();
        let ipa = phonemize("-rf: Hello, world!", "en-us", &table, &scratch, &cancel)
            .await
            .unwrap();
        // Stress marks and IPA vowels prove IPA mode; the marks prove clause handling.
        assert!(ipa.contains('ˈ') && ipa.contains('ə'), "{ipa}");
        assert_eq!(ipa.matches(',').count(), 1, "{ipa}");
        assert!(ipa.ends_with('!') && ipa.contains(':'), "{ipa}");
        assert!(!scratch.exists());
    }
}
