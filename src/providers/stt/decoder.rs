//! Whisper's text decoder, written out instead of using candle's for two things candle's
//! does not offer: a self-attention key/value cache (each greedy step feeds one token, not
//! the whole prefix) and the cross-attention scores that word timestamps are read from.
//! Weights come from the same `VarBuilder` names candle uses.

use super::host::{Host, norm};
use super::matvec::matvec;
use super::step::step;
use crate::providers::embed::kernels::Norm;
use candle_core::{D, DType, Result, Tensor};
use candle_nn::{LayerNorm, Linear, Module, VarBuilder};
use candle_transformers::models::whisper::Config;

/// Up to this many rows, logits on the CPU are one [`matvec`] per row: each row reads the
/// 100 MB embedding once either way, and a general product would repack it first.
const MATVEC_ROWS: usize = 4;

pub(super) fn linear(vb: &VarBuilder, inp: usize, out: usize, bias: bool) -> Result<Linear> {
    let weight = vb.get((out, inp), "weight")?;
    let bias = if bias {
        Some(vb.get(out, "bias")?)
    } else {
        None
    };
    Ok(Linear::new(weight, bias))
}

pub(super) fn layer_norm(vb: &VarBuilder, size: usize) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(size, "weight")?,
        vb.get(size, "bias")?,
        1e-5,
    ))
}

/// Multi-head attention (shared with the encoder).
pub(super) struct Attention {
    pub(super) query: Linear,
    pub(super) key: Linear,
    pub(super) value: Linear,
    pub(super) out: Linear,
    heads: usize,
}

impl Attention {
    pub(super) fn load(vb: VarBuilder, d: usize, heads: usize) -> Result<Self> {
        Ok(Attention {
            query: linear(&vb.pp("q_proj"), d, d, true)?,
            key: linear(&vb.pp("k_proj"), d, d, false)?,
            value: linear(&vb.pp("v_proj"), d, d, true)?,
            out: linear(&vb.pp("out_proj"), d, d, true)?,
            heads,
        })
    }

    pub(super) fn heads(&self) -> usize {
        self.heads
    }

    /// `[1, T, D]` → `[1, H, T, D/H]`.
    pub(super) fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        x.reshape((b, t, self.heads, d / self.heads))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Softmax attention of `q` over keys `k_t` (`[1, H, dh, S]`, already transposed) and
    /// values `v`; returns the output `[1, T, D]` and the scaled scores `[1, H, T, S]`.
    pub(super) fn attend(
        &self,
        q: &Tensor,
        k_t: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let d = q.dim(D::Minus1)?;
        // 1/sqrt(d_head), applied once (openai-whisper splits it as d_head^-0.25 on q and k).
        let q = (self.split_heads(q)? * (d as f64 / self.heads as f64).powf(-0.5))?;
        let scores = q.matmul(k_t)?;
        let weights = match mask {
            Some(mask) => candle_nn::ops::softmax_last_dim(&scores.broadcast_add(mask)?)?,
            None => candle_nn::ops::softmax_last_dim(&scores)?,
        };
        let (b, _, t, _) = weights.dims4()?;
        let mixed = weights.matmul(v)?.transpose(1, 2)?.reshape((b, t, d))?;
        Ok((self.out.forward(&mixed)?, scores))
    }
}

pub(super) struct Block {
    pub(super) self_attn: Attention,
    self_ln: LayerNorm,
    pub(super) cross_attn: Attention,
    cross_ln: LayerNorm,
    pub(super) fc1: Linear,
    pub(super) fc2: Linear,
    mlp_ln: LayerNorm,
    /// The three layer norms again (self, cross, MLP), for the CPU step's kernels.
    pub(super) norms: [Norm; 3],
}

/// The decoder's weights, shared (read-only) by every transcription.
pub struct Decoder {
    pub(super) embed: Tensor,
    pub(super) positions: Tensor,
    pub(super) blocks: Vec<Block>,
    ln: LayerNorm,
    pub(super) final_norm: Norm,
    heads: usize,
}

/// The cross-attention keys and values of one window's audio, per layer: keys transposed
/// `[1, H, dh, S]` and values `[1, H, S, dh]`. Computed once per window and shared by
/// language detection, decoding and word alignment (cloning copies handles only).
#[derive(Clone)]
pub struct Cross(Vec<(Tensor, Tensor)>);

/// Per-sequence state: the cross-attention keys/values of one window's audio, and the
/// self-attention cache of the tokens fed so far.
pub struct DecoderState {
    pub(super) cross: Vec<(Tensor, Tensor)>,
    /// Per layer: keys and values `[1, H, max_len, dh]`, the first `len` positions filled;
    /// allocated once so a step writes one row instead of copying the whole cache.
    pub(super) cache: Vec<(Tensor, Tensor)>,
    pub len: usize,
}

impl Decoder {
    /// Loads from `vb` at the `model.decoder` level.
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let d = cfg.d_model;
        let heads = cfg.decoder_attention_heads;
        let blocks = (0..cfg.decoder_layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                let self_ln = layer_norm(&vb.pp("self_attn_layer_norm"), d)?;
                let cross_ln = layer_norm(&vb.pp("encoder_attn_layer_norm"), d)?;
                let mlp_ln = layer_norm(&vb.pp("final_layer_norm"), d)?;
                Ok(Block {
                    self_attn: Attention::load(vb.pp("self_attn"), d, heads)?,
                    cross_attn: Attention::load(vb.pp("encoder_attn"), d, heads)?,
                    fc1: linear(&vb.pp("fc1"), d, 4 * d, true)?,
                    fc2: linear(&vb.pp("fc2"), 4 * d, d, true)?,
                    norms: [norm(&self_ln)?, norm(&cross_ln)?, norm(&mlp_ln)?],
                    self_ln,
                    cross_ln,
                    mlp_ln,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let ln = layer_norm(&vb.pp("layer_norm"), d)?;
        Ok(Decoder {
            embed: vb.get((cfg.vocab_size, d), "embed_tokens.weight")?,
            positions: vb.get((cfg.max_target_positions, d), "embed_positions.weight")?,
            blocks,
            final_norm: norm(&ln)?,
            ln,
            heads,
        })
    }

    pub(super) fn d_model(&self) -> usize {
        self.embed.dim(1).unwrap_or(0)
    }

    pub(super) fn heads(&self) -> usize {
        self.heads
    }

    /// Whether steps and logits can take the CPU kernels' path.
    fn on_cpu(&self) -> bool {
        self.embed.device().is_cpu() && self.embed.dtype() == DType::F32
    }

    /// The longest token sequence the positional table covers (448 for Whisper).
    pub fn max_len(&self) -> usize {
        self.positions.dim(0).unwrap_or(0)
    }

    /// The cross-attention keys and values for the audio features `[1, S, D]` of one window,
    /// computed once here instead of at every step.
    pub fn cross(&self, audio: &Tensor) -> Result<Cross> {
        let cross = self
            .blocks
            .iter()
            .map(|b| {
                let a = &b.cross_attn;
                let k_t = a
                    .split_heads(&a.key.forward(audio)?)?
                    .transpose(2, 3)?
                    .contiguous()?;
                let v = a.split_heads(&a.value.forward(audio)?)?;
                Ok((k_t, v))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Cross(cross))
    }

    /// A fresh state, no token fed yet, attending to `cross`.
    pub fn start(&self, cross: &Cross) -> Result<DecoderState> {
        let (d, device) = (self.d_model(), self.embed.device());
        let shape = (1, self.heads, self.max_len(), d / self.heads);
        let cache = self
            .blocks
            .iter()
            .map(|_| {
                Ok((
                    Tensor::zeros(shape, DType::F32, device)?,
                    Tensor::zeros(shape, DType::F32, device)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DecoderState {
            cross: cross.0.clone(),
            cache,
            len: 0,
        })
    }

    /// Feeds `tokens` after those already in `state`. Returns the normalized hidden states
    /// `[1, T, D]` and, if `want_cross`, each layer's cross-attention scores `[1, H, T, S]`
    /// (scaled, before softmax, as openai-whisper's alignment hooks record them).
    pub fn forward(
        &self,
        tokens: &[u32],
        state: &mut DecoderState,
        want_cross: bool,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let t = tokens.len();
        let past = state.len;
        if past + t > self.max_len() {
            candle_core::bail!(
                "{} tokens exceed the decoder's {}",
                past + t,
                self.max_len()
            );
        }
        if let ([token], false, true) = (tokens, want_cross, self.on_cpu()) {
            return Ok((step(self, *token, state)?, Vec::new()));
        }
        let device = self.embed.device();
        let ids = Tensor::new(tokens, device)?;
        let mut x = self
            .embed
            .index_select(&ids, 0)?
            .add(&self.positions.narrow(0, past, t)?)?
            .unsqueeze(0)?;
        // Causal mask for a multi-token feed: token i sees cached tokens and itself.
        let mask = if t > 1 {
            let values: Vec<f32> = (0..t)
                .flat_map(|i| {
                    (0..past + t).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
                })
                .collect();
            Some(Tensor::from_vec(values, (t, past + t), device)?)
        } else {
            None
        };
        let mut cross_scores = Vec::new();
        for (i, block) in self.blocks.iter().enumerate() {
            let a = &block.self_attn;
            let h = block.self_ln.forward(&x)?;
            let k = a.split_heads(&a.key.forward(&h)?)?;
            let v = a.split_heads(&a.value.forward(&h)?)?;
            let (cache_k, cache_v) = &state.cache[i];
            cache_k.slice_set(&k, 2, past)?;
            cache_v.slice_set(&v, 2, past)?;
            let (attn, _) = a.attend(
                &a.query.forward(&h)?,
                &cache_k
                    .narrow(2, 0, past + t)?
                    .transpose(2, 3)?
                    .contiguous()?,
                &cache_v.narrow(2, 0, past + t)?.contiguous()?,
                mask.as_ref(),
            )?;
            x = (x + attn)?;

            let c = &block.cross_attn;
            let h = block.cross_ln.forward(&x)?;
            let (k_t, v) = &state.cross[i];
            let (attn, scores) = c.attend(&c.query.forward(&h)?, k_t, v, None)?;
            if want_cross {
                cross_scores.push(scores);
            }
            x = (x + attn)?;

            let h = block.mlp_ln.forward(&x)?;
            x = (&x + block.fc2.forward(&block.fc1.forward(&h)?.gelu_erf()?)?)?;
        }
        state.len += t;
        Ok((self.ln.forward(&x)?, cross_scores))
    }

    /// Logits `[rows, vocab]` (f32) for hidden states `[1, rows, D]`: the output projection
    /// is tied to the token embeddings.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.project(hidden, &self.embed)
    }

    /// The logits of the one row of `hidden` (`[1, 1, D]`) for the tokens from `first` on,
    /// the others −∞: when the decoding rules allow only timestamps (and the end), reading
    /// the 50k text rows of the embedding would be half a step's memory traffic for nothing.
    pub fn logits_from(&self, hidden: &Tensor, first: usize) -> Result<Vec<f32>> {
        let vocab = self.embed.dim(0)?;
        let first = first.min(vocab);
        let tail = self.project(hidden, &self.embed.narrow(0, first, vocab - first)?)?;
        let mut logits = vec![f32::NEG_INFINITY; first];
        logits.extend(tail.flatten_all()?.to_vec1::<f32>()?);
        Ok(logits)
    }

    /// `hidden [1, rows, D]` times the transpose of `embed`'s rows.
    fn project(&self, hidden: &Tensor, embed: &Tensor) -> Result<Tensor> {
        let hidden = hidden.squeeze(0)?;
        let (rows, d) = hidden.dims2()?;
        if rows > MATVEC_ROWS || !self.on_cpu() || hidden.dtype() != DType::F32 {
            return hidden.matmul(&embed.t()?)?.to_dtype(DType::F32);
        }
        let vocab = embed.dim(0)?;
        let mut logits = vec![0f32; rows * vocab];
        let (embed, hidden) = (Host::new(embed)?, hidden.contiguous()?);
        let hidden = Host::new(&hidden)?;
        for (out, x) in logits
            .chunks_exact_mut(vocab)
            .zip(hidden.get().chunks_exact(d))
        {
            matvec(embed.get(), x, None, out, false);
        }
        Tensor::from_vec(logits, (rows, vocab), self.embed.device())
    }
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
