//! Whisper's audio encoder: two GELU convolutions (the second halves the frame rate to one
//! per 20 ms), sinusoidal positions, pre-norm self-attention blocks. Written out rather than
//! taken from candle because candle's uses the tanh approximation of GELU where Whisper
//! (openai-whisper, and CT2's `activation` 3 in this model) uses the exact one (features
//! differ by up to ~0.7 on real input), and its forward needs `&mut self` for a cache the
//! encoder never uses, which would force a lock or a clone per transcription.

use super::decoder::{Attention, layer_norm, linear};
use super::encoder_cpu;
use super::host::norm;
use crate::providers::embed::kernels::Norm;
use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, LayerNorm, Linear, Module, VarBuilder};
use candle_transformers::models::whisper::Config;

pub(super) struct Block {
    pub(super) attn: Attention,
    attn_ln: LayerNorm,
    pub(super) fc1: Linear,
    pub(super) fc2: Linear,
    mlp_ln: LayerNorm,
}

pub struct Encoder {
    pub(super) conv1: Conv1d,
    pub(super) conv2: Conv1d,
    pub(super) positions: Tensor,
    pub(super) blocks: Vec<Block>,
    ln_post: LayerNorm,
    /// Each block's two layer norms and the final one again, for the CPU kernels.
    pub(super) norms: Vec<[Norm; 2]>,
    pub(super) final_norm: Norm,
}

fn conv(vb: &VarBuilder, inp: usize, out: usize, stride: usize) -> Result<Conv1d> {
    let config = Conv1dConfig {
        padding: 1,
        stride,
        dilation: 1,
        groups: 1,
        cudnn_fwd_algo: None,
    };
    Ok(Conv1d::new(
        vb.get((out, inp, 3), "weight")?,
        Some(vb.get(out, "bias")?),
        config,
    ))
}

/// openai-whisper's `sinusoids(length, channels)`: sines then cosines of geometrically
/// spaced frequencies.
fn sinusoids(length: usize, channels: usize, device: &Device) -> Result<Tensor> {
    let half = channels / 2;
    let step = 10_000f64.ln() / (half.saturating_sub(1).max(1)) as f64;
    let mut table = vec![0f32; length * channels];
    for t in 0..length {
        for i in 0..half {
            let angle = t as f64 * (-(i as f64) * step).exp();
            table[t * channels + i] = angle.sin() as f32;
            table[t * channels + half + i] = angle.cos() as f32;
        }
    }
    Tensor::from_vec(table, (length, channels), device)
}

impl Encoder {
    /// Loads from `vb` at the `model.encoder` level (candle's names).
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let d = cfg.d_model;
        let blocks = (0..cfg.encoder_layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                Ok(Block {
                    attn: Attention::load(vb.pp("self_attn"), d, cfg.encoder_attention_heads)?,
                    attn_ln: layer_norm(&vb.pp("self_attn_layer_norm"), d)?,
                    fc1: linear(&vb.pp("fc1"), d, 4 * d, true)?,
                    fc2: linear(&vb.pp("fc2"), 4 * d, d, true)?,
                    mlp_ln: layer_norm(&vb.pp("final_layer_norm"), d)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let norms = blocks
            .iter()
            .map(|b: &Block| Ok([norm(&b.attn_ln)?, norm(&b.mlp_ln)?]))
            .collect::<Result<Vec<_>>>()?;
        let ln_post = layer_norm(&vb.pp("layer_norm"), d)?;
        Ok(Encoder {
            conv1: conv(&vb.pp("conv1"), cfg.num_mel_bins, d, 1)?,
            conv2: conv(&vb.pp("conv2"), d, d, 2)?,
            positions: sinusoids(cfg.max_source_positions, d, vb.device())?.to_dtype(DType::F32)?,
            blocks,
            norms,
            final_norm: norm(&ln_post)?,
            ln_post,
        })
    }

    /// `[1, n_mels, frames]` log-mel → `[1, frames / 2, d_model]` audio features, or `None`
    /// if `stop()` said so between layers (a window takes seconds on a busy CPU; cancelling
    /// should not wait for all of it).
    pub fn forward(&self, mel: &Tensor, stop: &dyn Fn() -> bool) -> Result<Option<Tensor>> {
        if mel.device().is_cpu() && mel.dtype() == DType::F32 {
            return encoder_cpu::forward(self, mel, stop);
        }
        self.forward_candle(mel, stop)
    }

    /// [`Self::forward`] in candle ops, for the devices the CPU kernels do not cover.
    fn forward_candle(&self, mel: &Tensor, stop: &dyn Fn() -> bool) -> Result<Option<Tensor>> {
        let x = self.conv1.forward(mel)?.gelu_erf()?;
        let x = self.conv2.forward(&x)?.gelu_erf()?.transpose(1, 2)?;
        let frames = x.dim(1)?;
        let mut x = x.broadcast_add(&self.positions.narrow(0, 0, frames)?)?;
        for block in &self.blocks {
            if stop() {
                return Ok(None);
            }
            let a = &block.attn;
            let h = block.attn_ln.forward(&x)?;
            let k_t = a
                .split_heads(&a.key.forward(&h)?)?
                .transpose(2, 3)?
                .contiguous()?;
            let v = a.split_heads(&a.value.forward(&h)?)?;
            let (attn, _) = a.attend(&a.query.forward(&h)?, &k_t, &v, None)?;
            x = (x + attn)?;
            if stop() {
                return Ok(None);
            }
            let h = block.mlp_ln.forward(&x)?;
            x = (&x + block.fc2.forward(&block.fc1.forward(&h)?.gelu_erf()?)?)?;
        }
        self.ln_post.forward(&x).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::stt::ct2::tests::{max_diff, tiny_reference};

    #[test]
    fn matches_candles_encoder_up_to_the_gelu_approximation() {
        let (vb, config, mut reference, mel) = tiny_reference();
        let ours = Encoder::load(vb.pp("model.encoder"), &config).unwrap();
        let want = reference.encoder.forward(&mel, true).unwrap();
        let got = ours.forward(&mel, &|| false).unwrap().unwrap();
        assert!(ours.forward(&mel, &|| true).unwrap().is_none());
        assert_eq!(got.dims(), &[1, 10, 8]);
        let diff = max_diff(&got, &want);
        // Layer-normalized outputs of order 1; tanh vs erf GELU differ by < 1e-3 each.
        assert!(diff < 2e-2, "{diff}");
    }

    #[test]
    fn cpu_kernels_match_the_candle_ops() {
        let (vb, config, _, mel) = tiny_reference();
        let ours = Encoder::load(vb.pp("model.encoder"), &config).unwrap();
        let want = ours.forward_candle(&mel, &|| false).unwrap().unwrap();
        let got = ours.forward(&mel, &|| false).unwrap().unwrap();
        assert_eq!(got.dims(), want.dims());
        let diff = max_diff(&got, &want);
        // Same arithmetic in another order: float noise on outputs of order 1.
        assert!(diff < 1e-4, "{diff}");
        // An odd number of mel frames: the strided convolution's last tap reads padding.
        let odd = mel.narrow(2, 0, mel.dim(2).unwrap() - 1).unwrap();
        let want = ours.forward_candle(&odd, &|| false).unwrap().unwrap();
        let got = ours.forward(&odd, &|| false).unwrap().unwrap();
        assert_eq!(got.dims(), want.dims());
        let diff = max_diff(&got, &want);
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn sinusoids_start_with_sin_0_and_cos_0() {
        let table: Vec<Vec<f32>> = sinusoids(3, 4, &Device::Cpu).unwrap().to_vec2().unwrap();
        assert_eq!(table[0], vec![0.0, 0.0, 1.0, 1.0]);
        // Channel 0 has frequency 1, the last sine channel 1/10000.
        assert!((table[2][0] - 2f32.sin()).abs() < 1e-6);
        assert!((table[2][1] - (2.0f32 / 10_000.0).sin()).abs() < 1e-6);
    }
}
