//! Whisper's text decoder, written out instead of using candle's for two things candle's
//! does not offer: a self-attention key/value cache (each greedy step feeds one token, not
//! the whole prefix) and the cross-attention scores that word timestamps are read from.
//! Weights come from the same `VarBuilder` names candle uses.

use candle_core::{D, DType, Result, Tensor};
use candle_nn::{LayerNorm, Linear, Module, VarBuilder};
use candle_transformers::models::whisper::Config;

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
    out: Linear,
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

struct Block {
    self_attn: Attention,
    self_ln: LayerNorm,
    cross_attn: Attention,
    cross_ln: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    mlp_ln: LayerNorm,
}

/// The decoder's weights, shared (read-only) by every transcription.
pub struct Decoder {
    embed: Tensor,
    positions: Tensor,
    blocks: Vec<Block>,
    ln: LayerNorm,
}

/// Per-sequence state: the cross-attention keys/values of one window's audio, and the
/// self-attention cache of the tokens fed so far.
pub struct DecoderState {
    cross: Vec<(Tensor, Tensor)>,
    cache: Vec<Option<(Tensor, Tensor)>>,
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
                Ok(Block {
                    self_attn: Attention::load(vb.pp("self_attn"), d, heads)?,
                    self_ln: layer_norm(&vb.pp("self_attn_layer_norm"), d)?,
                    cross_attn: Attention::load(vb.pp("encoder_attn"), d, heads)?,
                    cross_ln: layer_norm(&vb.pp("encoder_attn_layer_norm"), d)?,
                    fc1: linear(&vb.pp("fc1"), d, 4 * d, true)?,
                    fc2: linear(&vb.pp("fc2"), 4 * d, d, true)?,
                    mlp_ln: layer_norm(&vb.pp("final_layer_norm"), d)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Decoder {
            embed: vb.get((cfg.vocab_size, d), "embed_tokens.weight")?,
            positions: vb.get((cfg.max_target_positions, d), "embed_positions.weight")?,
            blocks,
            ln: layer_norm(&vb.pp("layer_norm"), d)?,
        })
    }

    /// The longest token sequence the positional table covers (448 for Whisper).
    pub fn max_len(&self) -> usize {
        self.positions.dim(0).unwrap_or(0)
    }

    /// A fresh state for the audio features `[1, S, D]` of one window: the cross-attention
    /// keys and values are computed once here instead of at every step.
    pub fn start(&self, audio: &Tensor) -> Result<DecoderState> {
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
        Ok(DecoderState {
            cross,
            cache: vec![None; self.blocks.len()],
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
            let (k, v) = match &state.cache[i] {
                Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
                None => (k, v),
            };
            let (attn, _) = a.attend(
                &a.query.forward(&h)?,
                &k.transpose(2, 3)?.contiguous()?,
                &v,
                mask.as_ref(),
            )?;
            state.cache[i] = Some((k, v));
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
        hidden
            .squeeze(0)?
            .matmul(&self.embed.t()?)?
            .to_dtype(DType::F32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::stt::ct2::tests::tiny_reference;
    use candle_core::Device;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn matches_candles_decoder_fed_at_once_or_step_by_step() {
        let (vb, config, mut reference, mel) = tiny_reference();
        let ours = Decoder::load(vb.pp("model.decoder"), &config).unwrap();
        let audio = reference.encoder.forward(&mel, true).unwrap();
        let tokens = [3u32, 7, 1, 11, 0];

        let ids = Tensor::new(&tokens[..], &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let hidden = reference.decoder.forward(&ids, &audio, true).unwrap();
        let want = reference
            .decoder
            .final_linear(&hidden)
            .unwrap()
            .squeeze(0)
            .unwrap();

        let mut state = ours.start(&audio).unwrap();
        let (hidden, scores) = ours.forward(&tokens, &mut state, true).unwrap();
        let all_at_once = ours.logits(&hidden).unwrap();
        assert_eq!(all_at_once.dims(), &[5, 12]);
        // candle's blocks use the tanh GELU, ours the exact one (as CT2's "activation" 3
        // and openai-whisper do): the tiny weights keep the difference far below this.
        assert!(
            max_diff(&all_at_once, &want) < 2e-3,
            "{}",
            max_diff(&all_at_once, &want)
        );
        assert_eq!(scores.len(), 2);
        assert_eq!(scores[0].dims(), &[1, 2, 5, 10]);

        let mut state = ours.start(&audio).unwrap();
        let mut rows = Vec::new();
        for &token in &tokens {
            let (hidden, _) = ours.forward(&[token], &mut state, false).unwrap();
            rows.push(ours.logits(&hidden).unwrap());
        }
        let stepwise = Tensor::cat(&rows, 0).unwrap();
        assert!(max_diff(&stepwise, &all_at_once) < 1e-5);
        assert_eq!(state.len, 5);

        let too_long = vec![0u32; ours.max_len() + 1];
        assert!(
            ours.forward(&too_long, &mut ours.start(&audio).unwrap(), false)
                .is_err()
        );
    }
}
