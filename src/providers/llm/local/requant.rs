//! CPU speed-up at load time: candle has SIMD (AVX2/NEON) dot products for Q8_0, Q4_0 and
//! the K-quants, but Q4_1, Q5_0 and Q5_1 run a scalar loop. Re-encoding those tensors as Q8_0
//! (near lossless: 8-bit codes for values that had 4 or 5 bits) made SmolLM2-135M Q4_1 decode
//! about 2.5× faster on 2 cores. The model loaders read from a GGUF stream, so the result is
//! an in-memory GGUF.

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Result};
use std::io::{Cursor, Read, Seek};

/// Larger files keep their encoding: Q8_0 takes up to twice the memory, which matters more
/// than speed for multi-billion-parameter models.
const MAX_BYTES: u64 = 1 << 30;

fn slow_on_cpu(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// Whether [`to_q8_0`] would change anything for this file on this device.
pub fn worthwhile(ct: &Content, file_len: u64, device: &Device) -> bool {
    device.is_cpu()
        && file_len <= MAX_BYTES
        && ct.tensor_infos.values().any(|t| slow_on_cpu(t.ggml_dtype))
}

/// The same model with its slow-on-CPU tensors as Q8_0, as GGUF content and a reader over it.
pub fn to_q8_0<R: Read + Seek>(
    ct: &Content,
    reader: &mut R,
    device: &Device,
) -> Result<(Content, Cursor<Vec<u8>>)> {
    let mut names: Vec<&String> = ct.tensor_infos.keys().collect();
    // File order keeps the output deterministic and reads the input front to back.
    names.sort_by_key(|n| ct.tensor_infos[*n].offset);
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = ct.tensor(reader, name, device)?;
        let tensor = if slow_on_cpu(tensor.dtype()) && tensor.shape().elem_count() % 32 == 0 {
            QTensor::quantize(&tensor.dequantize(device)?, GgmlDType::Q8_0)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &Value)> = ct.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut buffer = Cursor::new(Vec::new());
    gguf_file::write(&mut buffer, &metadata, &refs)?;
    drop(tensors);
    buffer.set_position(0);
    let content = Content::read(&mut buffer)?;
    Ok((content, buffer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    #[test]
    fn q4_1_tensors_become_q8_0_with_the_same_values() -> Result<()> {
        let dev = Device::Cpu;
        let values: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin()).collect();
        let original = Tensor::from_vec(values, (2, 32), &dev)?;
        let q4_1 = QTensor::quantize(&original, GgmlDType::Q4_1)?;
        let norm = QTensor::quantize(
            &Tensor::ones(32, candle_core::DType::F32, &dev)?,
            GgmlDType::F32,
        )?;
        let name = Value::String("llama".into());
        let mut file = Cursor::new(Vec::new());
        gguf_file::write(
            &mut file,
            &[("general.architecture", &name)],
            &[("blk.0.ffn_up.weight", &q4_1), ("blk.0.norm.weight", &norm)],
        )?;
        file.set_position(0);
        let ct = Content::read(&mut file)?;
        assert!(worthwhile(&ct, 1000, &dev));
        let (out, mut reader) = to_q8_0(&ct, &mut file, &dev)?;
        assert_eq!(out.metadata["general.architecture"].to_string()?, "llama");
        let up = out.tensor(&mut reader, "blk.0.ffn_up.weight", &dev)?;
        assert_eq!(up.dtype(), GgmlDType::Q8_0);
        let before = q4_1.dequantize(&dev)?;
        let diff = (up.dequantize(&dev)? - before)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert!(diff < 0.01, "Q8_0 drifted by {diff}");
        let norm = out.tensor(&mut reader, "blk.0.norm.weight", &dev)?;
        assert_eq!(norm.dtype(), GgmlDType::F32);
        // Done once: the result has nothing slow left.
        assert!(!worthwhile(&out, 1000, &dev));
        Ok(())
    }

    #[test]
    fn big_files_keep_their_encoding() -> Result<()> {
        let dev = Device::Cpu;
        let q4_1 = QTensor::quantize(
            &Tensor::zeros(32, candle_core::DType::F32, &dev)?,
            GgmlDType::Q4_1,
        )?;
        let mut file = Cursor::new(Vec::new());
        gguf_file::write(&mut file, &[], &[("w", &q4_1)])?;
        file.set_position(0);
        let ct = Content::read(&mut file)?;
        assert!(worthwhile(&ct, MAX_BYTES, &dev));
        assert!(!worthwhile(&ct, MAX_BYTES + 1, &dev));
        Ok(())
    }
}
