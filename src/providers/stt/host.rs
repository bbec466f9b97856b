//! Borrowed views of candle tensors as plain `f32` slices, for the CPU kernels that run the
//! encoder and the decoding steps on the model's own weights without copying them.

use crate::providers::embed::kernels::Norm;
use candle_core::{CpuStorage, Result, Storage, StorageRef, Tensor, bail};
use candle_nn::LayerNorm;
use std::ops::Range;

/// The `f32` values of a contiguous CPU tensor, read-locked while borrowed.
pub struct Host<'a> {
    storage: StorageRef<'a>,
    range: Range<usize>,
}

impl<'a> Host<'a> {
    pub fn new(t: &'a Tensor) -> Result<Host<'a>> {
        let (storage, layout) = t.storage_and_layout();
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("a {:?} tensor is not contiguous", t.dims())
        };
        if !matches!(&*storage, Storage::Cpu(CpuStorage::F32(_))) {
            bail!("the CPU kernels take f32 tensors on the CPU");
        }
        Ok(Host {
            storage,
            range: start..end,
        })
    }

    pub fn get(&self) -> &[f32] {
        match &*self.storage {
            Storage::Cpu(CpuStorage::F32(values)) => &values[self.range.clone()],
            _ => unreachable!("Host::new accepts f32 CPU storage only"),
        }
    }
}

/// A candle layer norm's scale and shift, copied for the kernels (2 KB per norm). Every
/// Whisper norm has the epsilon `decoder::layer_norm` builds it with.
pub fn norm(ln: &LayerNorm) -> Result<Norm> {
    let Some(beta) = ln.bias() else {
        bail!("layer norms need a shift")
    };
    Ok(Norm {
        gamma: ln.weight().to_vec1()?,
        beta: beta.to_vec1()?,
        eps: 1e-5,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::embed::kernels::layer_norm;
    use candle_core::Device;
    use candle_nn::Module;

    #[test]
    fn views_borrow_contiguous_cpu_values_only() {
        let t = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .and_then(|t| t.reshape((3, 4)))
            .unwrap();
        let row = t.narrow(0, 1, 2).unwrap();
        assert_eq!(
            Host::new(&row).unwrap().get(),
            &[4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
        );
        assert!(Host::new(&t.t().unwrap()).is_err());
        assert!(Host::new(&t.to_dtype(candle_core::DType::F64).unwrap()).is_err());
    }

    #[test]
    fn norm_applies_like_candles_layer_norm() {
        let dev = &Device::Cpu;
        let width = 16;
        let gamma = Tensor::arange(1f32, 17.0, dev).unwrap();
        let beta = (Tensor::arange(0f32, 16.0, dev).unwrap() * 0.1).unwrap();
        let ln = LayerNorm::new(gamma, beta, 1e-5);
        let xs: Vec<f32> = (0..3 * width)
            .map(|i| (i as f32 * 0.7).sin() * 3.0)
            .collect();
        let want: Vec<f32> = ln
            .forward(&Tensor::from_vec(xs.clone(), (3, width), dev).unwrap())
            .and_then(|t| t.flatten_all()?.to_vec1())
            .unwrap();
        let mut got = xs;
        layer_norm(&mut got, None, &norm(&ln).unwrap());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "{g} vs {w}");
        }
    }
}
