//! One greedy decoding step (a single token) on the CPU, written on the `f32` values of the
//! decoder's candle tensors: a step reads every decoder weight, the cross-attention keys and
//! values and the 51865×512 embedding once, ~230 MB, so it is bound by memory bandwidth.
//! candle runs each of its ~80 small products through a general matrix product that repacks
//! the weights for a single row; here each weight is read once, in place, by [`matvec`].
//!
//! The arithmetic is the decoder's, in another summation order: layer norms, exact-erf GELU
//! and softmax are the MiniLM encoder's kernels.

use super::decoder::{Decoder, DecoderState};
use super::host::Host;
use super::matvec::{axpy, dot, matvec};
use crate::providers::embed::kernels::{gelu, layer_norm, softmax};
use candle_core::{Result, Tensor, bail};
use candle_nn::Linear;
use std::ops::Range;

/// `out (+)= x · Wᵀ + b` for one row `x`.
fn linear(layer: &Linear, x: &[f32], out: &mut [f32], accumulate: bool) -> Result<()> {
    let weight = Host::new(layer.weight())?;
    let bias = layer.bias().map(Host::new).transpose()?;
    matvec(
        weight.get(),
        x,
        bias.as_ref().map(Host::get),
        out,
        accumulate,
    );
    Ok(())
}

/// The rest of one head's attention once its `scores` are in: `out = Σ softmax(scores)_j ·
/// values[at(j)]`.
#[inline(always)]
fn softmax_mix(
    scores: &mut [f32],
    out: &mut [f32],
    at: impl Fn(usize) -> Range<usize>,
    values: &[f32],
) {
    softmax(scores);
    out.fill(0.0);
    for (j, &w) in scores.iter().enumerate() {
        axpy(out, w, &values[at(j)]);
    }
}

/// Working vectors of one step.
struct Scratch {
    x: Vec<f32>,
    h: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    context: Vec<f32>,
    inner: Vec<f32>,
    scores: Vec<f32>,
}

/// Feeds `token` after the `state.len` tokens in `state` and returns the final hidden state
/// `[1, 1, D]`. The caller has checked there is room for one more position.
pub(super) fn step(decoder: &Decoder, token: u32, state: &mut DecoderState) -> Result<Tensor> {
    #[cfg(target_arch = "x86_64")]
    if crate::providers::embed::kernels::avx2_fma() {
        // SAFETY: the CPU reported both features.
        return unsafe { step_avx2_fma(decoder, token, state) };
    }
    step_body(decoder, token, state)
}

/// [`step_body`] compiled for AVX2 and FMA: its loops run 8 lanes wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn step_avx2_fma(decoder: &Decoder, token: u32, state: &mut DecoderState) -> Result<Tensor> {
    step_body(decoder, token, state)
}

#[inline(always)]
fn step_body(decoder: &Decoder, token: u32, state: &mut DecoderState) -> Result<Tensor> {
    let d = decoder.d_model();
    let heads = decoder.heads();
    let dh = d / heads;
    let scale = 1.0 / (dh as f32).sqrt();
    let past = state.len;
    let mut s = Scratch {
        x: vec![0f32; d],
        h: vec![0f32; d],
        q: vec![0f32; d],
        k: vec![0f32; d],
        v: vec![0f32; d],
        context: vec![0f32; d],
        inner: Vec::new(),
        scores: Vec::new(),
    };
    {
        let embed = Host::new(&decoder.embed)?;
        let positions = Host::new(&decoder.positions)?;
        let row = token as usize * d..(token as usize + 1) * d;
        let Some(word) = embed.get().get(row) else {
            bail!("token {token} is outside the vocabulary")
        };
        let position = &positions.get()[past * d..(past + 1) * d];
        for ((x, w), p) in s.x.iter_mut().zip(word).zip(position) {
            *x = w + p;
        }
    }
    let max_len = decoder.max_len();
    for (i, block) in decoder.blocks.iter().enumerate() {
        // Self-attention over the cached tokens and this one.
        let a = &block.self_attn;
        s.h.copy_from_slice(&s.x);
        layer_norm(&mut s.h, None, &block.norms[0]);
        linear(&a.query, &s.h, &mut s.q, false)?;
        linear(&a.key, &s.h, &mut s.k, false)?;
        linear(&a.value, &s.h, &mut s.v, false)?;
        let (cache_k, cache_v) = &state.cache[i];
        // `[1, H, 1, dh]` is the same memory order as the projected row.
        let row = |values: &[f32]| {
            Tensor::from_slice(values, (1, heads, 1, dh), &candle_core::Device::Cpu)
        };
        cache_k.slice_set(&row(&s.k)?, 2, past)?;
        cache_v.slice_set(&row(&s.v)?, 2, past)?;
        {
            let (keys, values) = (Host::new(cache_k)?, Host::new(cache_v)?);
            let (keys, values) = (keys.get(), values.get());
            s.scores.resize(past + 1, 0.0);
            for head in 0..heads {
                let q = &s.q[head * dh..(head + 1) * dh];
                let base = head * max_len * dh;
                for (j, score) in s.scores.iter_mut().enumerate() {
                    *score = dot(q, &keys[base + j * dh..base + (j + 1) * dh]) * scale;
                }
                let out = &mut s.context[head * dh..(head + 1) * dh];
                softmax_mix(
                    &mut s.scores,
                    out,
                    |j| base + j * dh..base + (j + 1) * dh,
                    values,
                );
            }
        }
        linear(&a.out, &s.context, &mut s.x, true)?;

        // Cross-attention over the window's audio: keys stored transposed, `[H, dh, S]`.
        let c = &block.cross_attn;
        s.h.copy_from_slice(&s.x);
        layer_norm(&mut s.h, None, &block.norms[1]);
        linear(&c.query, &s.h, &mut s.q, false)?;
        {
            let (k_t, v) = &state.cross[i];
            let frames = k_t.dim(3)?;
            let (keys, values) = (Host::new(k_t)?, Host::new(v)?);
            let (keys, values) = (keys.get(), values.get());
            s.scores.resize(frames, 0.0);
            for head in 0..heads {
                s.scores.fill(0.0);
                for e in 0..dh {
                    let row = (head * dh + e) * frames;
                    axpy(
                        &mut s.scores,
                        s.q[head * dh + e] * scale,
                        &keys[row..row + frames],
                    );
                }
                let base = head * frames * dh;
                let out = &mut s.context[head * dh..(head + 1) * dh];
                softmax_mix(
                    &mut s.scores,
                    out,
                    |j| base + j * dh..base + (j + 1) * dh,
                    values,
                );
            }
        }
        linear(&c.out, &s.context, &mut s.x, true)?;

        // MLP: the bias of the first product is added by the GELU pass.
        s.h.copy_from_slice(&s.x);
        layer_norm(&mut s.h, None, &block.norms[2]);
        let up = Host::new(block.fc1.weight())?;
        let Some(up_bias) = block.fc1.bias() else {
            bail!("step: fc1 has no bias")
        };
        let up_bias = Host::new(up_bias)?;
        s.inner.resize(up_bias.get().len(), 0.0);
        matvec(up.get(), &s.h, None, &mut s.inner, false);
        gelu(&mut s.inner, up_bias.get());
        linear(&block.fc2, &s.inner, &mut s.x, true)?;
    }
    layer_norm(&mut s.x, None, &decoder.final_norm);
    state.len += 1;
    Tensor::from_vec(s.x, (1, 1, d), &candle_core::Device::Cpu)
}
