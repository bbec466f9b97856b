//! Word-level timing from cross-attention, as openai-whisper's `find_alignment` does: the
//! decoder re-reads the final tokens, the alignment heads' attention over the audio frames
//! is softmaxed, standardized, median-filtered and averaged, and dynamic time warping over
//! its negative maps each token to the frame (20 ms) where it is spoken.

use super::decoder::Cross;
use super::model::WhisperModel;
use super::model_error;
use super::words::{WordTiming, split_to_word_tokens};
use crate::providers::ProviderError;
use candle_core::{D, IndexOp, Tensor};

/// Encoder frames (one per 20 ms) per second.
const FRAMES_PER_SECOND: f64 = 50.0;
/// openai-whisper's median filter width over frames.
const MEDIAN_WIDTH: usize = 7;

/// Times (seconds from the window start) and probabilities for the words of `text_tokens`,
/// given the window's audio (as the decoder attends to it) and how many mel frames of it
/// hold audio.
pub fn find_alignment(
    model: &WhisperModel,
    cross: &Cross,
    language: u32,
    language_code: &str,
    text_tokens: &[u32],
    mel_frames: usize,
) -> Result<Vec<WordTiming>, ProviderError> {
    if text_tokens.is_empty() {
        return Ok(Vec::new());
    }
    let t = model.tokens;
    let sot_sequence = [t.sot, language, t.transcribe];
    let mut tokens = sot_sequence.to_vec();
    tokens.push(t.no_timestamps);
    tokens.extend_from_slice(text_tokens);
    tokens.push(t.eot);
    // [heads, tokens, frames] over the frames that hold audio (two mel frames each).
    let frames = (mel_frames / 2).clamp(1, 1500);
    let (token_probs, per_head) = attention(
        model,
        cross,
        &tokens,
        sot_sequence.len(),
        text_tokens,
        frames,
    )
    .map_err(|e| model_error("word alignment", e))?;

    // Rows from <|notimestamps|> (which predicts the first text token) to the last text
    // token (which predicts <|endoftext|>): filtered per head, averaged, negated.
    let first_row = sot_sequence.len();
    let n = text_tokens.len() + 1;
    let mut cost = vec![0f32; n * frames];
    for head in &per_head {
        for (r, row) in head[first_row..first_row + n].iter().enumerate() {
            let filtered = median_filter(row, MEDIAN_WIDTH);
            for (acc, v) in cost[r * frames..(r + 1) * frames].iter_mut().zip(filtered) {
                *acc -= v / per_head.len() as f32;
            }
        }
    }
    let (text_idx, time_idx) = dtw(&cost, n, frames);

    // The frame where each token's row is first reached.
    let jump_times: Vec<f64> = (0..text_idx.len())
        .filter(|&i| i == 0 || text_idx[i] != text_idx[i - 1])
        .map(|i| time_idx[i] as f64 / FRAMES_PER_SECOND)
        .collect();

    let mut with_eot = text_tokens.to_vec();
    with_eot.push(t.eot);
    let (words, word_tokens) = split_to_word_tokens(&with_eot, t.eot, language_code, |ids| {
        model.tokenizer.decode(ids, false).unwrap_or_default()
    });
    let mut timings = Vec::new();
    let mut at = 0;
    // The last "word" is <|endoftext|>: its start is where the last real word ends.
    for (text, toks) in words
        .iter()
        .zip(&word_tokens)
        .take(words.len().saturating_sub(1))
    {
        let next = at + toks.len();
        let start = jump_times.get(at).copied().unwrap_or(0.0);
        let end = jump_times.get(next).copied().unwrap_or(start);
        let p = &token_probs[at.min(token_probs.len())..next.min(token_probs.len())];
        timings.push(WordTiming {
            text: text.clone(),
            tokens: toks.clone(),
            start,
            end,
            probability: if p.is_empty() {
                0.0
            } else {
                p.iter().sum::<f32>() / p.len() as f32
            },
        });
        at = next;
    }
    Ok(timings)
}

/// Per alignment head, per token, per audio frame.
type HeadWeights = Vec<Vec<Vec<f32>>>;

/// Runs the decoder over `tokens` and returns each text token's probability (where it was
/// predicted, one row earlier, among text tokens only) and the alignment heads' attention
/// `[heads][tokens][frames]`, softmaxed over frames and standardized over tokens.
fn attention(
    model: &WhisperModel,
    cross: &Cross,
    tokens: &[u32],
    first: usize,
    text_tokens: &[u32],
    frames: usize,
) -> candle_core::Result<(Vec<f32>, HeadWeights)> {
    let d = &model.decoder;
    let mut state = d.start(cross)?;
    let (hidden, scores) = d.forward(tokens, &mut state, true)?;
    let logits = d
        .logits(&hidden.narrow(1, first, text_tokens.len())?)?
        .narrow(1, 0, model.tokens.eot as usize)?
        .contiguous()?;
    let probs: Vec<Vec<f32>> = candle_nn::ops::softmax_last_dim(&logits)?.to_vec2()?;
    let token_probs = text_tokens
        .iter()
        .zip(&probs)
        .map(|(&tok, row)| row.get(tok as usize).copied().unwrap_or(0.0))
        .collect();

    let heads = model
        .config
        .alignment_heads
        .iter()
        .map(|&(layer, head)| scores[layer].i((0, head))?.narrow(D::Minus1, 0, frames))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let weights = candle_nn::ops::softmax_last_dim(&Tensor::stack(&heads, 0)?)?;
    // Standardize each frame's column over the tokens, per head (torch.std_mean over
    // dim -2, biased), so frames all heads attend to stand out.
    let mean = weights.mean_keepdim(1)?;
    let centered = weights.broadcast_sub(&mean)?;
    let std = (centered.sqr()?.mean_keepdim(1)?.sqrt()? + 1e-10)?;
    let per_head = centered.broadcast_div(&std)?.to_vec3()?;
    Ok((token_probs, per_head))
}

/// Median over a sliding window of odd `width`, reflecting at the edges (as
/// openai-whisper's `median_filter` pads).
pub fn median_filter(row: &[f32], width: usize) -> Vec<f32> {
    let half = width / 2;
    let n = row.len();
    if n <= half {
        return row.to_vec();
    }
    let reflect = |i: isize| -> f32 {
        let j = if i < 0 {
            (-i) as usize
        } else if i as usize >= n {
            2 * (n - 1) - i as usize
        } else {
            i as usize
        };
        row[j.min(n - 1)]
    };
    let mut window = vec![0f32; width];
    (0..n)
        .map(|i| {
            for (k, slot) in window.iter_mut().enumerate() {
                *slot = reflect(i as isize + k as isize - half as isize);
            }
            window.sort_unstable_by(f32::total_cmp);
            window[half]
        })
        .collect()
}

/// Dynamic time warping over a row-major `n × m` cost matrix: the monotonic path from
/// (0, 0) to (n-1, m-1) of least total cost, as (row indices, column indices). Ties break
/// as in openai-whisper's `dtw_cpu` (diagonal, then up, then left).
pub fn dtw(x: &[f32], n: usize, m: usize) -> (Vec<usize>, Vec<usize>) {
    let w = m + 1;
    let mut cost = vec![f32::INFINITY; (n + 1) * w];
    let mut trace = vec![0u8; (n + 1) * w];
    cost[0] = 0.0;
    for j in 1..=m {
        for i in 1..=n {
            let c0 = cost[(i - 1) * w + j - 1];
            let c1 = cost[(i - 1) * w + j];
            let c2 = cost[i * w + j - 1];
            let (c, t) = if c0 < c1 && c0 < c2 {
                (c0, 0)
            } else if c1 < c0 && c1 < c2 {
                (c1, 1)
            } else {
                (c2, 2)
            };
            cost[i * w + j] = x[(i - 1) * m + j - 1] + c;
            trace[i * w + j] = t;
        }
    }
    // Backtrace; the first row can only go left and the first column only up.
    let (mut i, mut j) = (n, m);
    let mut path = Vec::with_capacity(n + m);
    while i > 0 || j > 0 {
        path.push((i.saturating_sub(1), j.saturating_sub(1)));
        let t = if i == 0 {
            2
        } else if j == 0 {
            1
        } else {
            trace[i * w + j]
        };
        match t {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    // Paths that touch the padding row/column (index -1 in openai) are clipped to 0.
    path.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_filter_removes_spikes_and_reflects_edges() {
        let row = [0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(median_filter(&row, 7), vec![0.0; 8]);
        let ramp: Vec<f32> = (0..10).map(|v| v as f32).collect();
        // Interior of a ramp is unchanged; at the edge the reflected window [3,2,1,0,1,2,3]
        // has median 2.
        let out = median_filter(&ramp, 7);
        assert_eq!(&out[3..7], &ramp[3..7]);
        assert_eq!(out[0], 2.0);
        assert_eq!(median_filter(&[5.0, 1.0], 7), vec![5.0, 1.0]);
    }

    #[test]
    fn dtw_follows_the_cheap_diagonal_band() {
        // 3 tokens over 9 frames; token k is cheap on frames 3k..3k+3.
        let (n, m) = (3, 9);
        let mut x = vec![1.0f32; n * m];
        for k in 0..n {
            for f in 3 * k..3 * k + 3 {
                x[k * m + f] = -1.0;
            }
        }
        let (rows, cols) = dtw(&x, n, m);
        assert_eq!(rows.first(), Some(&0));
        assert_eq!((rows.last(), cols.last()), (Some(&2), Some(&8)));
        // Monotonic, and each row is entered where its cheap band begins.
        assert!(rows.windows(2).all(|p| p[0] <= p[1]));
        assert!(cols.windows(2).all(|p| p[0] <= p[1]));
        let entered: Vec<usize> = (0..rows.len())
            .filter(|&i| i == 0 || rows[i] != rows[i - 1])
            .map(|i| cols[i])
            .collect();
        assert_eq!(entered, vec![0, 3, 6]);
    }
}
