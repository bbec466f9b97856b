//! The audio encoder's forward pass on the CPU, on the `f32` values of its candle tensors:
//! the same arithmetic as [`Encoder::forward`]'s candle ops with the MiniLM encoder's
//! kernels (one `gemm` per product, vectorized erf GELU, softmax and layer norm).
//!
//! What it saves over candle on a window (1500 positions): libm's scalar `erff` and `expf`
//! over ~18 M GELU inputs and ~108 M attention scores, a copy per transpose and per head
//! split, each bias added in a pass of its own, and the convolutions' unfolded input: a
//! kernel-3 convolution is three products of strided views of the input with one tap of
//! the weights each, written straight in the `[frames, channels]` order the blocks use.

use super::encoder::Encoder;
use super::host::Host;
use crate::procstat::available_cores;
use crate::providers::embed::kernels::{
    Mat, avx2_fma, gelu, layer_norm, matmul, parallel, softmax,
};
use candle_core::{Device, Result, Tensor, bail};
use candle_nn::{Conv1d, Linear};

/// A signal of `frames × channels` values, element (t, c) at `t·frame_stride +
/// c·channel_stride`: the mel spectrogram is stored channel-major, activations frame-major.
#[derive(Clone, Copy)]
struct Signal<'a> {
    data: &'a [f32],
    frames: usize,
    channels: usize,
    frame_stride: usize,
    channel_stride: usize,
}

/// `out[t] = Σ_k W[:, :, k] · input[stride·t + k − 1]` (kernel 3, zero padding 1) for the
/// `out.len() / outputs` output frames; the bias is left to the GELU pass that follows.
fn conv3(out: &mut [f32], outputs: usize, input: Signal<'_>, weight: &[f32], stride: usize) {
    let (frames, inputs) = (input.frames, input.channels);
    let out_frames = out.len() / outputs;
    // The middle tap covers every output frame, so it initializes `out`.
    for k in [1, 0, 2] {
        // Output frames whose tap `k` reads inside the input: 0 ≤ stride·t + k − 1 < frames.
        let first = usize::from(k == 0);
        let end = match frames.checked_sub(k) {
            Some(room) => out_frames.min(room / stride + 1),
            None => 0,
        };
        if end <= first {
            continue;
        }
        let a = Mat {
            data: &input.data[(stride * first + k - 1) * input.frame_stride..],
            rows: end - first,
            cols: inputs,
            row_stride: stride * input.frame_stride,
            col_stride: input.channel_stride,
        };
        // Tap k of the `[outputs, inputs, 3]` weights, as an `inputs × outputs` matrix.
        let b = Mat {
            data: &weight[k..],
            rows: inputs,
            cols: outputs,
            row_stride: 3,
            col_stride: 3 * inputs,
        };
        let dst = &mut out[first * outputs..];
        matmul(dst, outputs, a, b, 1.0, k != 1, available_cores());
    }
}

/// `out (+)= x · Wᵀ + b` for the rows of `x`.
fn linear(layer: &Linear, x: &[f32], out: &mut [f32], accumulate: bool) -> Result<()> {
    let weight = Host::new(layer.weight())?;
    let bias = layer.bias().map(Host::new).transpose()?;
    let (n, k) = layer.weight().dims2()?;
    let (x, w) = (
        Mat::rows(x, x.len() / k, k, k),
        Mat::rows(weight.get(), n, k, k).t(),
    );
    match bias.as_ref().map(Host::get) {
        Some(bias) if !accumulate => {
            // Start from the bias: the product then adds onto it instead of a second pass.
            out.chunks_exact_mut(n)
                .for_each(|row| row.copy_from_slice(bias));
            matmul(out, n, x, w, 1.0, true, available_cores());
        }
        bias => {
            matmul(out, n, x, w, 1.0, accumulate, available_cores());
            for row in out.chunks_exact_mut(n) {
                row.iter_mut()
                    .zip(bias.unwrap_or(&[]))
                    .for_each(|(o, b)| *o += b);
            }
        }
    }
    Ok(())
}

/// Softmax attention of every query row over all `frames` positions, each head's keys and
/// values read in place from the `[frames, d]` projections; writes `context` (heads side by
/// side). The query rows are split in one band per thread.
fn attend(q: &[f32], k: &[f32], v: &[f32], context: &mut [f32], d: usize, heads: usize) {
    let frames = q.len() / d;
    let band = frames.div_ceil(available_cores()).max(1);
    parallel(context.chunks_mut(band * d).enumerate(), |(b, out)| {
        attend_band(q, k, v, out, b * band, d, heads)
    });
}

fn attend_band(q: &[f32], k: &[f32], v: &[f32], out: &mut [f32], from: usize, d: usize, h: usize) {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU reported both features.
        return unsafe { attend_band_avx2_fma(q, k, v, out, from, d, h) };
    }
    attend_band_body(q, k, v, out, from, d, h);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn attend_band_avx2_fma(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    from: usize,
    d: usize,
    h: usize,
) {
    attend_band_body(q, k, v, out, from, d, h);
}

/// [`attend`] for the query rows `from..` that `out` holds.
#[inline(always)]
fn attend_band_body(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    from: usize,
    d: usize,
    heads: usize,
) {
    let (frames, rows) = (k.len() / d, out.len() / d);
    let dh = d / heads;
    let scale = 1.0 / (dh as f32).sqrt();
    let mut scores = vec![0f32; rows * frames];
    for at in (0..d).step_by(dh) {
        let q = Mat::rows(&q[from * d + at..], rows, dh, d);
        let k = Mat::rows(&k[at..], frames, dh, d);
        matmul(&mut scores, frames, q, k.t(), scale, false, 1);
        scores.chunks_exact_mut(frames).for_each(softmax);
        let p = Mat::rows(&scores, rows, frames, frames);
        matmul(
            &mut out[at..],
            d,
            p,
            Mat::rows(&v[at..], frames, dh, d),
            1.0,
            false,
            1,
        );
    }
}

/// See [`Encoder::forward`]; `mel` is an `f32` CPU tensor.
pub(super) fn forward(
    enc: &Encoder,
    mel: &Tensor,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Tensor>> {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU reported both features.
        return unsafe { forward_avx2_fma(enc, mel, stop) };
    }
    forward_body(enc, mel, stop)
}

/// [`forward_body`] compiled for AVX2 and FMA: its element-wise loops run 8 lanes wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn forward_avx2_fma(
    enc: &Encoder,
    mel: &Tensor,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Tensor>> {
    forward_body(enc, mel, stop)
}

/// A convolution's bias, which the GELU pass after it adds.
fn conv_bias(conv: &Conv1d) -> Result<Host<'_>> {
    match conv.bias() {
        Some(bias) => Host::new(bias),
        None => bail!("the encoder's convolutions need a bias"),
    }
}

#[inline(always)]
fn forward_body(enc: &Encoder, mel: &Tensor, stop: &dyn Fn() -> bool) -> Result<Option<Tensor>> {
    let (_, mels, mel_frames) = mel.dims3()?;
    let mel = mel.contiguous()?;
    let d = enc.positions.dim(1)?;
    let mut first = vec![0f32; mel_frames * d];
    let mel = Host::new(&mel)?;
    let spectrogram = Signal {
        data: mel.get(),
        frames: mel_frames,
        channels: mels,
        frame_stride: 1,
        channel_stride: mel_frames,
    };
    conv3(
        &mut first,
        d,
        spectrogram,
        Host::new(enc.conv1.weight())?.get(),
        1,
    );
    gelu(&mut first, conv_bias(&enc.conv1)?.get());
    let frames = mel_frames.saturating_sub(1) / 2 + 1;
    let mut x = vec![0f32; frames * d];
    let features = Signal {
        data: &first,
        frames: mel_frames,
        channels: d,
        frame_stride: d,
        channel_stride: 1,
    };
    conv3(&mut x, d, features, Host::new(enc.conv2.weight())?.get(), 2);
    gelu(&mut x, conv_bias(&enc.conv2)?.get());
    drop(first);
    let positions = Host::new(&enc.positions)?;
    let Some(positions) = positions.get().get(..frames * d) else {
        bail!("{frames} frames, more than the encoder's positions")
    };
    x.iter_mut().zip(positions).for_each(|(x, p)| *x += p);

    let mut h = vec![0f32; frames * d];
    let [mut q, mut k, mut v, mut context] = [(); 4].map(|()| vec![0f32; frames * d]);
    let mut inner = Vec::new();
    for (block, norms) in enc.blocks.iter().zip(&enc.norms) {
        if stop() {
            return Ok(None);
        }
        let a = &block.attn;
        h.copy_from_slice(&x);
        layer_norm(&mut h, None, &norms[0]);
        linear(&a.query, &h, &mut q, false)?;
        linear(&a.key, &h, &mut k, false)?;
        linear(&a.value, &h, &mut v, false)?;
        attend(&q, &k, &v, &mut context, d, a.heads());
        linear(&a.out, &context, &mut x, true)?;
        if stop() {
            return Ok(None);
        }
        h.copy_from_slice(&x);
        layer_norm(&mut h, None, &norms[1]);
        let Some(up_bias) = block.fc1.bias() else {
            bail!("the encoder's fc1 needs a bias")
        };
        let (up_bias, up) = (Host::new(up_bias)?, Host::new(block.fc1.weight())?);
        let width = up_bias.get().len();
        inner.resize(frames * width, 0.0);
        let w = Mat::rows(up.get(), width, d, d).t();
        matmul(
            &mut inner,
            width,
            Mat::rows(&h, frames, d, d),
            w,
            1.0,
            false,
            available_cores(),
        );
        gelu(&mut inner, up_bias.get());
        linear(&block.fc2, &inner, &mut x, true)?;
    }
    layer_norm(&mut x, None, &enc.final_norm);
    Tensor::from_vec(x, (1, frames, d), &Device::Cpu).map(Some)
}
