//! Greedy decoding of one 30 s window with openai-whisper's logit rules (suppressed tokens,
//! no blank start, timestamp pairing and monotonicity), language detection, and cutting the
//! result into timestamped segments.

use super::decoder::{Cross, DecoderState};
use super::model::{Ct2Config, SpecialTokens, WhisperModel};
use super::model_error;
use crate::providers::ProviderError;
use candle_core::{IndexOp, Tensor};
use tokio_util::sync::CancellationToken;

/// Seconds per timestamp token step.
pub const TIME_PRECISION: f64 = 0.02;
/// The first timestamp may be at most 1 s into the window (openai's default).
const MAX_INITIAL_TIMESTAMP_STEPS: usize = 50;

/// The tokens sampled for one window.
pub struct Decoded {
    /// Text and timestamp tokens, without the final `<|endoftext|>`.
    pub tokens: Vec<u32>,
    pub avg_logprob: f64,
    /// Probability of `<|nospeech|>` at the start: high on silence or noise.
    pub no_speech_prob: f64,
}

/// A run of text between two timestamps, in seconds from the start of the audio.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    /// Text tokens only.
    pub tokens: Vec<u32>,
}

fn run<T>(what: &str, r: candle_core::Result<T>) -> Result<T, ProviderError> {
    r.map_err(|e| model_error(what, e))
}

/// The most likely `<|xx|>` language token for a window's audio.
pub fn detect_language(model: &WhisperModel, cross: &Cross) -> Result<u32, ProviderError> {
    let logits = run("language detection", first_logits(model, cross))?;
    model
        .config
        .lang_ids
        .iter()
        .copied()
        .filter(|&id| (id as usize) < logits.len())
        .max_by(|&a, &b| logits[a as usize].total_cmp(&logits[b as usize]))
        .ok_or_else(|| model_error("language detection", "config.json lists no lang_ids"))
}

/// Logits after `<|startoftranscript|>` alone: where the language token would come.
fn first_logits(model: &WhisperModel, cross: &Cross) -> candle_core::Result<Vec<f32>> {
    let d = &model.decoder;
    let mut state = d.start(cross)?;
    let (hidden, _) = d.forward(&[model.tokens.sot], &mut state, false)?;
    d.logits(&hidden)?.i(0)?.to_vec1()
}

/// Feeds the prompt; returns the no-speech probability (read at the
/// `<|startoftranscript|>` position) and the hidden state of the prompt's last token.
fn feed_prompt(
    model: &WhisperModel,
    prompt: &[u32],
    state: &mut DecoderState,
) -> candle_core::Result<(f32, Tensor)> {
    let d = &model.decoder;
    let (hidden, _) = d.forward(prompt, state, false)?;
    let first = d.logits(&hidden.narrow(1, 0, 1)?)?;
    let no_speech = candle_nn::ops::softmax_last_dim(&first)?
        .i((0, model.tokens.no_speech as usize))?
        .to_scalar::<f32>()?;
    Ok((no_speech, hidden.narrow(1, prompt.len() - 1, 1)?))
}

/// The next token's logits; only those of `<|endoftext|>` and the timestamps where the rules
/// will mask every other token anyway.
fn next_logits(
    model: &WhisperModel,
    hidden: &Tensor,
    sampled: &[u32],
) -> candle_core::Result<Vec<f32>> {
    let t = model.tokens;
    if only_timestamps(sampled, t) {
        return model.decoder.logits_from(hidden, t.eot as usize);
    }
    model.decoder.logits(hidden)?.i(0)?.to_vec1()
}

/// Whether the rules allow nothing but a timestamp or `<|endoftext|>` after `sampled`: the
/// first token, and the closing timestamp after a segment's text.
fn only_timestamps(sampled: &[u32], t: SpecialTokens) -> bool {
    let is_ts = |tok: &u32| *tok >= t.timestamp_begin;
    match sampled {
        [] => true,
        [.., before, last] => is_ts(last) && !is_ts(before),
        [_] => false,
    }
}

/// Greedy decoding of one window. `cancel` is checked before every step.
pub fn decode_window(
    model: &WhisperModel,
    cross: &Cross,
    language: u32,
    cancel: &CancellationToken,
) -> Result<Decoded, ProviderError> {
    let t = model.tokens;
    let d = &model.decoder;
    let prompt = [t.sot, language, t.transcribe];
    let max_tokens = d.max_len() / 2;
    let mut state: DecoderState = run("decoder", d.start(cross))?;
    let (no_speech_prob, mut last) = run("decoder", feed_prompt(model, &prompt, &mut state))?;

    let mut sampled: Vec<u32> = Vec::new();
    let mut sum_logprob = 0f64;
    loop {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let mut logits = run("decoder", next_logits(model, &last, &sampled))?;
        apply_rules(&mut logits, &sampled, t, &model.config);
        let next = argmax(&logits);
        sum_logprob += f64::from(logits[next] - log_sum_exp(&logits));
        let next = next as u32;
        if next == t.eot {
            break;
        }
        sampled.push(next);
        if sampled.len() >= max_tokens {
            break;
        }
        let (hidden, _) = run("decoder", d.forward(&[next], &mut state, false))?;
        last = hidden;
    }
    Ok(Decoded {
        avg_logprob: sum_logprob / (sampled.len() + 1) as f64,
        tokens: sampled,
        no_speech_prob: f64::from(no_speech_prob),
    })
}

/// openai-whisper's SuppressBlank, SuppressTokens and ApplyTimestampRules, in that order.
fn apply_rules(logits: &mut [f32], sampled: &[u32], t: SpecialTokens, config: &Ct2Config) {
    let (eot, tb) = (t.eot as usize, t.timestamp_begin as usize);
    let mask = |logits: &mut [f32], range: std::ops::Range<usize>| {
        let end = range.end.min(logits.len());
        logits[range.start.min(end)..end].fill(f32::NEG_INFINITY);
    };
    if sampled.is_empty() {
        for &id in &config.suppress_ids_begin {
            mask(logits, id as usize..id as usize + 1);
        }
    }
    for &id in &config.suppress_ids {
        mask(logits, id as usize..id as usize + 1);
    }
    // Every special token but <|endoftext|> (language, task, <|notimestamps|>...).
    mask(logits, eot + 1..tb);

    let is_ts = |tok: u32| tok >= t.timestamp_begin;
    let n = sampled.len();
    let last_was_ts = n >= 1 && is_ts(sampled[n - 1]);
    let penultimate_was_ts = n < 2 || is_ts(sampled[n - 2]);
    if last_was_ts {
        if penultimate_was_ts {
            // A segment just closed: text (or the end) must follow.
            mask(logits, tb..logits.len());
        } else {
            // A segment's text ended: its closing timestamp (or the end) must follow.
            mask(logits, 0..eot);
        }
    }
    if let Some(&last_ts) = sampled.iter().rev().find(|&&tok| is_ts(tok)) {
        // Time never goes back, and a closed segment cannot have zero length.
        let bound = if last_was_ts && !penultimate_was_ts {
            last_ts
        } else {
            last_ts + 1
        };
        mask(logits, tb..bound as usize);
    }
    if n == 0 {
        mask(logits, 0..tb);
        mask(logits, tb + MAX_INITIAL_TIMESTAMP_STEPS + 1..logits.len());
    }
    // If a timestamp is likelier than any single text token, sample a timestamp.
    let ts_mass = log_sum_exp(&logits[tb.min(logits.len())..]);
    let best_text = logits[..tb.min(logits.len())]
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    if ts_mass > best_text {
        mask(logits, 0..tb);
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// log Σ exp(v); −∞ for an empty or all −∞ slice.
fn log_sum_exp(v: &[f32]) -> f32 {
    let max = v.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    if max == f32::NEG_INFINITY {
        return max;
    }
    let sum: f32 = v.iter().map(|&x| (x - max).exp()).sum();
    max + sum.ln()
}

/// Cuts a window's tokens at timestamp pairs, as openai-whisper's `transcribe` does.
/// Returns the segments and how many mel frames the window consumed (where the next
/// window starts, relative to this one).
pub fn split_segments(
    tokens: &[u32],
    timestamp_begin: u32,
    time_offset: f64,
    window_frames: usize,
) -> (Vec<Segment>, usize) {
    let is_ts = |tok: u32| tok >= timestamp_begin;
    let time = |tok: u32| f64::from(tok - timestamp_begin) * TIME_PRECISION;
    let text = |run: &[u32]| run.iter().copied().filter(|&tok| !is_ts(tok)).collect();
    let n = tokens.len();
    let single_ending = n >= 2 && !is_ts(tokens[n - 2]) && is_ts(tokens[n - 1]);
    let mut cuts: Vec<usize> = (1..n)
        .filter(|&i| is_ts(tokens[i - 1]) && is_ts(tokens[i]))
        .collect();
    if cuts.is_empty() {
        // No closed pair: one segment for the whole window, ending at the last timestamp.
        let end = match tokens.iter().rev().find(|&&tok| is_ts(tok)) {
            Some(&tok) if tok != timestamp_begin => time(tok),
            _ => window_frames as f64 / 100.0,
        };
        let seg = Segment {
            start: time_offset,
            end: time_offset + end,
            tokens: text(tokens),
        };
        let segments = if seg.tokens.is_empty() {
            Vec::new()
        } else {
            vec![seg]
        };
        return (segments, window_frames);
    }
    if single_ending {
        cuts.push(n);
    }
    let mut segments = Vec::new();
    let mut from = 0;
    for &cut in &cuts {
        let run = &tokens[from..cut];
        if let (Some(&first), Some(&last)) = (run.first(), run.last()) {
            let (first, last) = (first.max(timestamp_begin), last.max(timestamp_begin));
            let seg = Segment {
                start: time_offset + time(first),
                end: time_offset + time(last),
                tokens: text(run),
            };
            if !seg.tokens.is_empty() {
                segments.push(seg);
            }
        }
        from = cut;
    }
    let consumed = if single_ending {
        window_frames
    } else {
        // Resume at the last closing timestamp: the text after it was cut off mid-way.
        let last = tokens[from - 1].max(timestamp_begin);
        ((f64::from(last - timestamp_begin) * TIME_PRECISION * 100.0).round() as usize).max(1)
    };
    (segments, consumed)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
