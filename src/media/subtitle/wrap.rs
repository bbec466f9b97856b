//! Line wrapping by rendered width: a sentence is cut into tokens (words; single CJK
//! characters with their punctuation glued on), measured in pixels, and packed into cues of
//! at most two lines whose widths are as even as possible. A sentence too long for two
//! lines becomes several cues sharing its time, cut at word timings when there are some.

use super::Cue;
use super::highlight::TimedWord;

/// East Asian wide characters (CJK ideographs, kana, Hangul, full-width forms).
pub(super) fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

fn is_hangul(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7A3)
}

pub(super) fn char_cols(c: char) -> usize {
    if is_wide(c) { 2 } else { 1 }
}

/// Punctuation that must not start a line.
pub(super) fn is_closing(c: char) -> bool {
    "，。、！？：；」』）】》〉…・ー～,.!?;:)]}%".contains(c)
}

/// Punctuation that must not end a line.
fn is_opening(c: char) -> bool {
    "「『（【《〈“‘([{".contains(c)
}

/// Clause ends: a good place to break a line or a long sentence.
fn is_clause_end(c: char) -> bool {
    ",;:，、；：。！？.!?".contains(c)
}

/// Letters and digits, lowercased: how script words and timed words are compared.
pub(super) fn normalized(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A unit that is never broken inside.
#[derive(Clone, Debug)]
struct Token {
    text: String,
    px: f64,
    cols: usize,
    space_before: bool,
    /// The whitespace-separated word of the sentence this token belongs to, and how many
    /// characters of that word come before it.
    word: usize,
    offset: usize,
}

/// How wide text is and how wide a line may be: `px` by the measure, `cols` in columns (a
/// CJK character counting two, `max_line_chars`).
pub(super) struct Wrapper<'a> {
    pub measure: &'a dyn Fn(&str) -> f64,
    pub max_px: f64,
    pub max_cols: usize,
}

impl Wrapper<'_> {
    fn tokenize(&self, text: &str) -> Vec<Token> {
        let mut raw: Vec<Token> = Vec::new();
        let (mut space, mut word, mut offset) = (false, 0usize, 0usize);
        let mut current: Option<Token> = None;
        // Korean written with spaces breaks at the spaces, like Latin; without, anywhere.
        let spaced = text.trim().contains(char::is_whitespace);
        let new = |space_before, word, offset| Token {
            text: String::new(),
            px: 0.0,
            cols: 0,
            space_before,
            word,
            offset,
        };
        for c in text.chars() {
            if c.is_whitespace() {
                raw.extend(current.take());
                if !space && offset > 0 {
                    word += 1;
                    offset = 0;
                }
                space = true;
            } else if is_wide(c) && !(spaced && is_hangul(c)) {
                raw.extend(current.take());
                let mut token = new(std::mem::take(&mut space), word, offset);
                token.text.push(c);
                raw.push(token);
                offset += 1;
            } else {
                let token =
                    current.get_or_insert_with(|| new(std::mem::take(&mut space), word, offset));
                token.text.push(c);
                offset += 1;
            }
        }
        raw.extend(current);

        // Without a space between them, closing punctuation sticks to what precedes it and
        // opening punctuation to what follows (the usual CJK line-breaking rules).
        let mut glued: Vec<Token> = Vec::with_capacity(raw.len());
        for token in raw {
            match glued.last_mut() {
                Some(prev)
                    if !token.space_before
                        && (token.text.starts_with(is_closing)
                            || prev.text.ends_with(is_opening)) =>
                {
                    prev.text.push_str(&token.text);
                }
                _ => glued.push(token),
            }
        }

        // A token wider than a line (a URL, a very long word) is cut so every line can fit.
        let mut tokens = Vec::with_capacity(glued.len());
        for mut token in glued {
            token.cols = token.text.chars().map(char_cols).sum();
            token.px = (self.measure)(&token.text);
            if self.fits(token.px, token.cols) {
                tokens.push(token);
                continue;
            }
            let mut piece = new(token.space_before, token.word, token.offset);
            for (i, c) in token.text.chars().enumerate() {
                let mut longer = piece.text.clone();
                longer.push(c);
                let (px, cols) = ((self.measure)(&longer), piece.cols + char_cols(c));
                if !piece.text.is_empty() && !self.fits(px, cols) {
                    let next = new(false, token.word, token.offset + i);
                    tokens.push(std::mem::replace(&mut piece, next));
                    piece.text.push(c);
                    piece.px = (self.measure)(&piece.text);
                    piece.cols = char_cols(c);
                } else {
                    (piece.text, piece.px, piece.cols) = (longer, px, cols);
                }
            }
            tokens.push(piece);
        }
        tokens
    }

    fn fits(&self, px: f64, cols: usize) -> bool {
        px <= self.max_px + 1e-9 && cols <= self.max_cols
    }

    /// Running sums over `tokens`, so any line's size is two subtractions.
    fn lines<'t>(&self, tokens: &'t [Token]) -> Lines<'t> {
        let space_px = (self.measure)(" ");
        let mut lines = Lines {
            tokens,
            px: vec![0.0],
            cols: vec![0],
            lead_px: vec![0.0],
            lead_cols: vec![0],
            max_px: self.max_px,
            max_cols: self.max_cols,
        };
        for t in tokens {
            let lead = usize::from(t.space_before);
            lines.px.push(lines.px[lines.px.len() - 1] + t.px);
            lines.cols.push(lines.cols[lines.cols.len() - 1] + t.cols);
            let (lp, lc) = (
                lines.lead_px[lines.lead_px.len() - 1],
                lines.lead_cols[lines.lead_cols.len() - 1],
            );
            lines.lead_px.push(lp + space_px * lead as f64);
            lines.lead_cols.push(lc + lead);
        }
        lines
    }

    /// The cues of one sentence spoken from `start` to `end`. With `words` (its
    /// whitespace-separated words, timed) the cues change when the next cue's first word
    /// is spoken; otherwise time is shared in proportion to characters.
    pub fn sentence_cues(
        &self,
        text: &str,
        start: f64,
        end: f64,
        words: Option<&[TimedWord]>,
    ) -> Vec<Cue> {
        let tokens = self.tokenize(text);
        let span = end - start;
        if tokens.is_empty() || !span.is_finite() || span <= 0.0 {
            return Vec::new();
        }
        let lines = self.lines(&tokens);
        let chunks = lines.split_chunks();
        let chars = |r: &(usize, usize)| -> usize {
            tokens[r.0..r.1]
                .iter()
                .map(|t| t.text.chars().count())
                .sum()
        };
        let total = chunks.iter().map(chars).sum::<usize>().max(1);
        let mut bounds = Vec::with_capacity(chunks.len() + 1);
        let mut done = 0;
        bounds.push(start);
        for range in &chunks[..chunks.len() - 1] {
            done += chars(range);
            bounds.push(start + span * done as f64 / total as f64);
        }
        bounds.push(end);
        if let Some(timed) = words.and_then(|w| word_bounds(text, w, &tokens, &chunks, start, end))
        {
            bounds = timed;
        }
        chunks
            .iter()
            .enumerate()
            .map(|(i, r)| Cue {
                start: bounds[i],
                end: bounds[i + 1],
                text: lines.wrap_two(r.0, r.1),
            })
            .collect()
    }
}

/// A sentence's tokens with running sums of their widths and of the spaces before them.
struct Lines<'t> {
    tokens: &'t [Token],
    px: Vec<f64>,
    cols: Vec<usize>,
    lead_px: Vec<f64>,
    lead_cols: Vec<usize>,
    max_px: f64,
    max_cols: usize,
}

impl Lines<'_> {
    /// (pixels, columns) of tokens `a..b` on one line (the space before `a` not counted).
    fn size(&self, a: usize, b: usize) -> (f64, usize) {
        if b <= a {
            return (0.0, 0);
        }
        (
            self.px[b] - self.px[a] + self.lead_px[b] - self.lead_px[a + 1],
            self.cols[b] - self.cols[a] + self.lead_cols[b] - self.lead_cols[a + 1],
        )
    }

    /// One token always fits: it was cut to fit, or is a single character wider than a line.
    fn fits_line(&self, a: usize, b: usize) -> bool {
        let (px, cols) = self.size(a, b);
        b - a <= 1 || (px <= self.max_px + 1e-9 && cols <= self.max_cols)
    }

    /// The best place to break tokens `a..b` into two lines that fit, if any: the longer
    /// line as short as possible (balanced), a clause end preferred, the top line shorter
    /// on a tie.
    fn best_break(&self, a: usize, b: usize) -> Option<usize> {
        (a + 1..b)
            .filter(|&k| self.fits_line(a, k) && self.fits_line(k, b))
            .map(|k| {
                let (top, bottom) = (self.size(a, k).0, self.size(k, b).0);
                let longer = top.max(bottom);
                let clause = self.tokens[k - 1].text.ends_with(is_clause_end);
                let bonus = if clause {
                    (self.max_px / 8.0).min(longer)
                } else {
                    0.0
                };
                (longer - bonus, top > bottom, k)
            })
            .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)))
            .map(|(_, _, k)| k)
    }

    fn fits_two_lines(&self, a: usize, b: usize) -> bool {
        self.fits_line(a, b) || self.best_break(a, b).is_some()
    }

    fn wrap_two(&self, a: usize, b: usize) -> String {
        match self.best_break(a, b) {
            Some(k) if !self.fits_line(a, b) => {
                format!("{}\n{}", join(&self.tokens[a..k]), join(&self.tokens[k..b]))
            }
            _ => join(&self.tokens[a..b]),
        }
    }

    /// Splits the sentence into the fewest chunks that fit two lines each, balanced so the
    /// last cue is not a stray word, preferring chunk ends at clause punctuation.
    fn split_chunks(&self) -> Vec<(usize, usize)> {
        let n = self.tokens.len();
        if self.fits_two_lines(0, n) {
            return vec![(0, n)];
        }
        // Greedy packing gives the minimum number of chunks (fitting is monotone).
        let (mut count, mut start) = (0, 0);
        while start < n {
            let mut end = start + 1;
            while end < n && self.fits_two_lines(start, end + 1) {
                end += 1;
            }
            count += 1;
            start = end;
        }
        // cost[j][i]: best cost of the first i tokens in j chunks. A token is at least one
        // column wide, so a chunk of two lines never has more than this many tokens.
        let window = 2 * self.max_cols + 2;
        let target = 2.0 * self.max_px;
        let bonus = self.max_px * self.max_px / 4.0;
        let mut cost = vec![vec![f64::INFINITY; n + 1]; count + 1];
        let mut from = vec![vec![0usize; n + 1]; count + 1];
        cost[0][0] = 0.0;
        for j in 1..=count {
            for i in 1..=n {
                for p in i.saturating_sub(window)..i {
                    if !cost[j - 1][p].is_finite() || !self.fits_two_lines(p, i) {
                        continue;
                    }
                    let slack = target - self.size(p, i).0;
                    let clause = i < n && self.tokens[i - 1].text.ends_with(is_clause_end);
                    let c = cost[j - 1][p] + slack * slack - if clause { bonus } else { 0.0 };
                    if c < cost[j][i] {
                        cost[j][i] = c;
                        from[j][i] = p;
                    }
                }
            }
        }
        let mut ranges = Vec::with_capacity(count);
        let mut end = n;
        for j in (1..=count).rev() {
            let start = from[j][end];
            ranges.push((start, end));
            end = start;
        }
        ranges.reverse();
        ranges
    }
}

fn join(tokens: &[Token]) -> String {
    let mut line = String::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 && token.space_before {
            line.push(' ');
        }
        line.push_str(&token.text);
    }
    line
}

/// Cue boundaries at the times the chunks' first words are spoken (inside a word, such as
/// a run of CJK characters, in proportion to its characters), or None when the timed
/// words are not this sentence's words or the times do not increase.
fn word_bounds(
    text: &str,
    words: &[TimedWord],
    tokens: &[Token],
    chunks: &[(usize, usize)],
    start: f64,
    end: f64,
) -> Option<Vec<f64>> {
    let script: Vec<&str> = text.split_whitespace().collect();
    let lined_up = script.len() == words.len()
        && script
            .iter()
            .zip(words)
            .all(|(s, w)| normalized(s) == normalized(&w.text));
    if !lined_up {
        return None;
    }
    let mut bounds = vec![start];
    for &(first, _) in &chunks[1..] {
        let token = &tokens[first];
        let word = &words[token.word];
        let length = script[token.word].chars().count().max(1);
        let at = word.start + (word.end - word.start) * token.offset as f64 / length as f64;
        let previous = bounds.last().copied().unwrap_or(start);
        if !at.is_finite() || at <= previous + 0.05 || at >= end - 0.05 {
            return None;
        }
        bounds.push(at);
    }
    bounds.push(end);
    Some(bounds)
}
