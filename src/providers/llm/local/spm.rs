//! SentencePiece-style BPE over GGUF scores (`tokenizer.ggml.model = "llama"`, used by Gemma):
//! the same greedy highest-score merge as llama.cpp's SPM tokenizer, with byte fallback.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

const TYPE_CONTROL: i64 = 3;
const TYPE_USER_DEFINED: i64 = 4;
const TYPE_BYTE: i64 = 6;
/// SentencePiece writes spaces as this character inside pieces.
const SPACE: char = '\u{2581}';

pub struct Spm {
    pieces: HashMap<String, u32>,
    tokens: Vec<String>,
    scores: Vec<f32>,
    types: Vec<i64>,
    byte_ids: Vec<Option<u32>>,
    /// Control and user-defined tokens matched literally in the text, by first character.
    specials: HashMap<char, Vec<(String, u32)>>,
    space_prefix: bool,
}

/// A candidate merge of two adjacent symbols: best score first, leftmost on a tie.
#[derive(PartialEq)]
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl Eq for Bigram {}

impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| Reverse(self.left).cmp(&Reverse(other.left)))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One symbol of the text being merged: a byte range and its neighbours.
#[derive(Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

impl Spm {
    pub fn new(tokens: Vec<String>, scores: Vec<f32>, types: Vec<i64>, space_prefix: bool) -> Self {
        let mut byte_ids = vec![None; 256];
        let mut specials: HashMap<char, Vec<(String, u32)>> = HashMap::new();
        for (i, (tok, t)) in tokens.iter().zip(&types).enumerate() {
            if *t == TYPE_BYTE
                && let Some(hex) = tok.strip_prefix("<0x").and_then(|s| s.strip_suffix('>'))
                && let Ok(b) = u8::from_str_radix(hex, 16)
            {
                byte_ids[usize::from(b)] = Some(i as u32);
            }
            if matches!(*t, TYPE_CONTROL | TYPE_USER_DEFINED)
                && let Some(first) = tok.chars().next()
            {
                specials
                    .entry(first)
                    .or_default()
                    .push((tok.clone(), i as u32));
            }
        }
        // The longest special wins where several start at the same place.
        for list in specials.values_mut() {
            list.sort_by_key(|(s, _)| Reverse(s.len()));
        }
        let pieces = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Spm {
            pieces,
            tokens,
            scores,
            types,
            byte_ids,
            specials,
            space_prefix,
        }
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut plain_from = 0;
        let mut first = true;
        let mut i = 0;
        while i < text.len() {
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            let special = self
                .specials
                .get(&c)
                .and_then(|list| list.iter().find(|(s, _)| text[i..].starts_with(s.as_str())));
            match special {
                Some((s, id)) => {
                    self.encode_plain(&text[plain_from..i], first, &mut ids);
                    ids.push(*id);
                    first = false;
                    i += s.len();
                    plain_from = i;
                }
                None => i += c.len_utf8(),
            }
        }
        self.encode_plain(&text[plain_from..], first, &mut ids);
        ids
    }

    fn encode_plain(&self, text: &str, first: bool, ids: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let prefix = if self.space_prefix && first { " " } else { "" };
        let text: String = format!("{prefix}{text}").replace(' ', &SPACE.to_string());
        let mut symbols: Vec<Symbol> = text
            .char_indices()
            .map(|(start, c)| Symbol {
                start,
                len: c.len_utf8(),
                prev: None,
                next: None,
            })
            .collect();
        let n = symbols.len();
        for (k, s) in symbols.iter_mut().enumerate() {
            s.prev = k.checked_sub(1);
            s.next = (k + 1 < n).then_some(k + 1);
        }
        let mut queue = BinaryHeap::new();
        for k in 1..n {
            self.push_bigram(&text, &symbols, k - 1, k, &mut queue);
        }
        while let Some(b) = queue.pop() {
            let (l, r) = (symbols[b.left], symbols[b.right]);
            // Stale entries (a side already merged into something else) are skipped.
            if l.len == 0 || r.len == 0 || l.len + r.len != b.len {
                continue;
            }
            symbols[b.left].len += r.len;
            symbols[b.left].next = r.next;
            symbols[b.right].len = 0;
            if let Some(next) = r.next {
                symbols[next].prev = Some(b.left);
                self.push_bigram(&text, &symbols, b.left, next, &mut queue);
            }
            if let Some(prev) = l.prev {
                self.push_bigram(&text, &symbols, prev, b.left, &mut queue);
            }
        }
        let mut k = Some(0);
        while let Some(at) = k {
            let s = symbols[at];
            let piece = &text[s.start..s.start + s.len];
            match self.pieces.get(piece) {
                Some(id) => ids.push(*id),
                // Characters outside the vocabulary go in as their UTF-8 bytes.
                None => ids.extend(piece.bytes().filter_map(|b| self.byte_ids[usize::from(b)])),
            }
            k = s.next;
        }
    }

    fn push_bigram(
        &self,
        text: &str,
        symbols: &[Symbol],
        left: usize,
        right: usize,
        queue: &mut BinaryHeap<Bigram>,
    ) {
        let (l, r) = (symbols[left], symbols[right]);
        let merged = &text[l.start..r.start + r.len];
        if let Some(&id) = self.pieces.get(merged) {
            queue.push(Bigram {
                score: self.scores.get(id as usize).copied().unwrap_or(0.0),
                left,
                right,
                len: merged.len(),
            });
        }
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            let (Some(tok), Some(t)) = (self.tokens.get(id as usize), self.types.get(id as usize))
            else {
                continue;
            };
            match *t {
                TYPE_CONTROL => {}
                TYPE_BYTE => {
                    let hex = tok.trim_start_matches("<0x").trim_end_matches('>');
                    bytes.extend(u8::from_str_radix(hex, 16).ok());
                }
                _ => bytes.extend(tok.replace(SPACE, " ").bytes()),
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match text.strip_prefix(' ') {
            Some(rest) if self.space_prefix => rest.to_string(),
            _ => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spm() -> Spm {
        let mut tokens: Vec<String> = ["<unk>", "<bos>", "<eos>", "<start_of_turn>"]
            .map(String::from)
            .to_vec();
        let mut types = vec![2, 3, 3, 3];
        for b in 0..=255u8 {
            tokens.push(format!("<0x{b:02X}>"));
            types.push(TYPE_BYTE);
        }
        let words = [
            "▁", "h", "e", "l", "o", "he", "ll", "hell", "hello", "▁hello", "lo",
        ];
        for w in words {
            tokens.push(w.to_string());
            types.push(1);
        }
        // Longer pieces score higher, like real SentencePiece vocabularies.
        let scores = tokens.iter().map(|t| t.chars().count() as f32).collect();
        Spm::new(tokens, scores, types, false)
    }

    #[test]
    fn merges_greedily_and_falls_back_to_bytes() {
        let spm = spm();
        let id = |s: &str| spm.pieces[s];
        let ids = spm.encode("<start_of_turn>hello hello é");
        assert_eq!(ids[0], 3);
        assert_eq!(ids[1..3], [id("hello"), id("▁hello")]);
        // "é" is not a piece: its two UTF-8 bytes come out as byte tokens.
        assert_eq!(ids[3..], [id("▁"), id("<0xC3>"), id("<0xA9>")]);
        assert_eq!(spm.decode(&ids), "hello hello é");
    }
}
