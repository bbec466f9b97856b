//! Multi-head self-attention of a band of query rows over the tokens of their own text, read
//! from the batch's packed `[Q | K | V]` rows: texts never see each other, so no mask.
//!
//! Per text and head, two small products read Q, K and V in place through strided views
//! (no transposed copies), with a softmax over each score row in between.

use super::kernels::{Mat, matmul, softmax};
use std::ops::Range;

/// Values per head; `Encoder::supports` accepts only models with this head size.
pub const HEAD: usize = 32;

/// Writes `context[r]` (heads side by side, `hidden` values) for every query row
/// `range.start + r`, where `qkv` holds `[Q | K | V]` rows of `3 × hidden` values for the
/// whole batch and `spans` the rows of each text. `scores` is scratch space. Inlined so the
/// caller's target features (AVX2) apply to the softmax loops.
#[inline(always)]
pub fn attend(
    qkv: &[f32],
    hidden: usize,
    spans: &[Range<usize>],
    range: Range<usize>,
    context: &mut [f32],
    scores: &mut Vec<f32>,
) {
    let width = 3 * hidden;
    let scale = 1.0 / (HEAD as f32).sqrt();
    for span in spans
        .iter()
        .filter(|s| s.start < range.end && range.start < s.end)
    {
        let len = span.len();
        let rows = span.start.max(range.start)..span.end.min(range.end);
        scores.resize(rows.len() * len, 0.0);
        let out = &mut context[(rows.start - range.start) * hidden..];
        for at in (0..hidden).step_by(HEAD) {
            let head = |first: usize, count: usize, part: usize| {
                Mat::rows(
                    &qkv[first * width + part * hidden + at..],
                    count,
                    HEAD,
                    width,
                )
            };
            let q = head(rows.start, rows.len(), 0);
            let k = head(span.start, len, 1);
            let v = head(span.start, len, 2);
            matmul(scores, len, q, k.t(), scale, false, 1);
            scores.chunks_exact_mut(len).for_each(softmax);
            let p = Mat::rows(scores, rows.len(), len, len);
            matmul(&mut out[at..], hidden, p, v, 1.0, false, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attention written the obvious way, in f64.
    fn naive(qkv: &[f32], hidden: usize, spans: &[Range<usize>]) -> Vec<f32> {
        let width = 3 * hidden;
        let mut out = vec![0f32; spans.last().map_or(0, |s| s.end) * hidden];
        for span in spans {
            for i in span.clone() {
                for at in (0..hidden).step_by(HEAD) {
                    let dot = |j: usize| -> f64 {
                        (0..HEAD)
                            .map(|d| {
                                qkv[i * width + at + d] as f64
                                    * qkv[j * width + hidden + at + d] as f64
                            })
                            .sum::<f64>()
                            / (HEAD as f64).sqrt()
                    };
                    let s: Vec<f64> = span.clone().map(dot).collect();
                    let max = s.iter().copied().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
                    let total: f64 = e.iter().sum();
                    for d in 0..HEAD {
                        let v: f64 = span
                            .clone()
                            .zip(&e)
                            .map(|(j, e)| e / total * qkv[j * width + 2 * hidden + at + d] as f64)
                            .sum();
                        out[i * hidden + at + d] = v as f32;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_naive_attention_for_any_band() {
        let hidden = 2 * HEAD;
        let spans = [0..1, 1..14, 14..23, 23..60];
        let tokens = 60;
        let qkv: Vec<f32> = (0..tokens * 3 * hidden)
            .map(|i| ((i * 7919 % 2003) as f32 / 2003.0 - 0.5) * 3.0)
            .collect();
        let want = naive(&qkv, hidden, &spans);
        // Band edges that cut texts in the middle, as the encoder's threads do.
        for edges in [&[0, 60][..], &[0, 30, 60], &[0, 7, 20, 59, 60]] {
            let mut got = vec![f32::NAN; tokens * hidden];
            let mut scores = Vec::new();
            for band in edges.windows(2).map(|w| w[0]..w[1]) {
                let out = &mut got[band.start * hidden..band.end * hidden];
                attend(&qkv, hidden, &spans, band, out, &mut scores);
            }
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 1e-5, "off by {worst}");
        }
    }
}
