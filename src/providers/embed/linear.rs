//! The encoder's linear layers: checkpoint weights transposed and concatenated at load, then
//! held for the kernel of the configured [`Precision`].

use super::Precision;
use super::fixed::{FixedRows, FixedWeights};
use super::packed::{Packed, Start};
use candle_core::Result;
use candle_nn::VarBuilder;

/// A linear layer stored as `[inputs × outputs]` (PyTorch keeps the transpose), so rows of
/// activations multiply it directly, packed for the kernel.
pub struct Linear {
    weight: Weights,
    pub bias: Vec<f32>,
}

/// How the linear layers multiply: see [`Precision`].
enum Weights {
    F32(Packed),
    Fixed(FixedWeights),
}

impl Linear {
    /// Several checkpoint layers with the same input side by side: `[q | k | v]` for one
    /// product instead of three.
    pub fn load(
        vb: &VarBuilder,
        names: &[&str],
        inputs: usize,
        outputs: usize,
        precision: Precision,
    ) -> Result<Linear> {
        let width = outputs * names.len();
        let (mut weight, mut bias) = (vec![0f32; inputs * width], Vec::with_capacity(width));
        for (part, name) in names.iter().enumerate() {
            let w = vb.get((outputs, inputs), &format!("{name}.weight"))?;
            let w = w.flatten_all()?.to_vec1::<f32>()?;
            for (o, row) in w.chunks_exact(inputs).enumerate() {
                for (i, x) in row.iter().enumerate() {
                    weight[i * width + part * outputs + o] = *x;
                }
            }
            bias.extend(vb.get(outputs, &format!("{name}.bias"))?.to_vec1::<f32>()?);
        }
        let weight = match precision {
            Precision::F32 => Weights::F32(Packed::new(&weight, inputs, width)),
            Precision::Fixed16 => Weights::Fixed(FixedWeights::new(&weight, inputs, width)),
        };
        Ok(Linear { weight, bias })
    }

    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// `out = x · W + bias`, for the products no element-wise pass follows.
    #[inline(always)]
    pub fn biased(&self, x: &[f32], out: &mut [f32], avx2_fma: bool, scratch: &mut FixedRows) {
        let inputs = match &self.weight {
            Weights::F32(w) => w.inputs(),
            Weights::Fixed(w) => w.inputs(),
        };
        let out = &mut out[..x.len() / inputs * self.outputs()];
        self.multiply(x, out, Start::Bias(&self.bias), avx2_fma, scratch);
    }

    /// `out (+)= x · W` for the rows of `x`, without the bias (folded into the
    /// [`layer_norm`](super::kernels::layer_norm) or [`gelu`](super::kernels::gelu) pass after it).
    #[inline(always)]
    pub fn product(
        &self,
        x: &[f32],
        out: &mut [f32],
        accumulate: bool,
        avx2_fma: bool,
        scratch: &mut FixedRows,
    ) {
        let start = if accumulate {
            Start::Accumulate
        } else {
            Start::Zero
        };
        self.multiply(x, out, start, avx2_fma, scratch);
    }

    #[inline(always)]
    fn multiply(
        &self,
        x: &[f32],
        out: &mut [f32],
        start: Start<'_>,
        avx2_fma: bool,
        scratch: &mut FixedRows,
    ) {
        match &self.weight {
            Weights::F32(w) => w.product(x, out, start, avx2_fma),
            Weights::Fixed(w) => w.product(x, out, start, avx2_fma, scratch),
        }
    }
}
