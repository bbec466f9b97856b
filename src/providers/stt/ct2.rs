//! Reads a CTranslate2 Whisper `model.bin` (binary v6, `WhisperSpec`) and renames its
//! tensors to the names `candle_transformers::models::whisper` expects, splitting the fused
//! attention projections, so no converted copy of the weights is ever written.

use super::PROVIDER;
use crate::providers::ProviderError;
use crate::providers::models::FETCH_COMMAND;
use candle_core::{DType, Device, Tensor};
use candle_transformers::models::whisper::Config;
use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

const VERSION: u32 = 6;
const SPEC: &str = "WhisperSpec";

/// The weights under candle's names (f32, on the CPU) and the dimensions read from them.
pub struct Ct2Weights {
    pub tensors: HashMap<String, Tensor>,
    pub config: Config,
}

/// Parses `path`. Any format problem becomes "corrupt model, re-run the fetch script".
pub fn load(path: &Path, suppress_tokens: Vec<u32>) -> Result<Ct2Weights, ProviderError> {
    let file =
        std::fs::File::open(path).map_err(|e| corrupt(path, &format!("cannot open: {e}")))?;
    let mut reader = Reader {
        inner: BufReader::with_capacity(1 << 20, file),
    };
    parse(&mut reader, suppress_tokens).map_err(|why| corrupt(path, &why))
}

fn corrupt(path: &Path, why: &str) -> ProviderError {
    // First line only: candle errors carry a backtrace when RUST_BACKTRACE is set.
    let why = why.lines().next().unwrap_or_default();
    ProviderError::Invalid {
        provider: PROVIDER.into(),
        message: format!(
            "{}: corrupt model ({why}), re-run {FETCH_COMMAND}",
            path.display()
        ),
    }
}

struct Reader<R> {
    inner: R,
}

impl<R: Read> Reader<R> {
    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; n];
        self.inner
            .read_exact(&mut buf)
            .map_err(|_| "file ends early".to_string())?;
        Ok(buf)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut buf = [0u8; N];
        self.inner
            .read_exact(&mut buf)
            .map_err(|_| "file ends early".to_string())?;
        Ok(buf)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// A `u16` length, then that many bytes ending in a NUL.
    fn string(&mut self) -> Result<String, String> {
        let len = self.u16()? as usize;
        let mut raw = self.bytes(len)?;
        if raw.last() == Some(&0) {
            raw.pop();
        }
        String::from_utf8(raw).map_err(|_| "a name is not UTF-8".to_string())
    }
}

fn parse<R: Read>(r: &mut Reader<R>, suppress_tokens: Vec<u32>) -> Result<Ct2Weights, String> {
    let version = r.u32()?;
    if version != VERSION {
        return Err(format!("binary version {version}, expected {VERSION}"));
    }
    let spec = r.string()?;
    if spec != SPEC {
        return Err(format!("spec {spec:?}, expected {SPEC:?}"));
    }
    let _revision = r.u32()?;
    let n_vars = r.u32()?;
    let mut tensors = HashMap::new();
    let mut scalars = HashMap::new();
    for _ in 0..n_vars {
        let name = r.string()?;
        let rank = r.u8()? as usize;
        let dims = (0..rank)
            .map(|_| r.u32().map(|d| d as usize))
            .collect::<Result<Vec<_>, _>>()?;
        let dtype = r.u8()?;
        let nbytes = r.u32()? as usize;
        let data = r.bytes(nbytes)?;
        if rank == 0 {
            // Scalars are options of the spec (num_heads, activation...): keep the integers.
            scalars.insert(name, scalar(dtype, &data));
            continue;
        }
        let dt = match dtype {
            0 => DType::F32,
            4 => DType::F16,
            5 => DType::BF16,
            other => return Err(format!("{name} has dtype {other}; only float models load")),
        };
        if nbytes != dims.iter().product::<usize>() * dt.size_in_bytes() {
            return Err(format!("{name}: {nbytes} bytes do not fit shape {dims:?}"));
        }
        let tensor = Tensor::from_raw_buffer(&data, dt, &dims, &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|e| format!("{name}: {e}"))?;
        for (candle_name, t) in rename(&name, tensor).map_err(|e| format!("{name}: {e}"))? {
            tensors.insert(candle_name, t);
        }
    }
    // Aliases (the output projection tied to the embeddings) need nothing: candle ties them.
    let config = config_from(&tensors, &scalars, suppress_tokens)?;
    Ok(Ct2Weights { tensors, config })
}

fn scalar(dtype: u8, data: &[u8]) -> i64 {
    match (dtype, data) {
        (1, [b, ..]) => i64::from(*b as i8),
        (2, [a, b, ..]) => i64::from(i16::from_le_bytes([*a, *b])),
        (3, [a, b, c, d, ..]) => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
        _ => 0,
    }
}

/// CT2 name → candle name(s). Fused projections are split row-wise; the key bias is dropped
/// because candle's `k_proj` has none, which is exact: a bias on the keys adds the same
/// q·b to every score of a query, and softmax ignores a constant shift.
fn rename(name: &str, t: Tensor) -> candle_core::Result<Vec<(String, Tensor)>> {
    let parts: Vec<&str> = name.split('/').collect();
    let one = |n: String| Ok(vec![(n, t.clone())]);
    match parts.as_slice() {
        ["encoder", conv @ ("conv1" | "conv2"), p] => one(format!("model.encoder.{conv}.{p}")),
        ["decoder", "embeddings", "weight"] => one("model.decoder.embed_tokens.weight".into()),
        ["decoder", "position_encodings", "encodings"] => {
            one("model.decoder.embed_positions.weight".into())
        }
        [side @ ("encoder" | "decoder"), "layer_norm", p] => {
            one(format!("model.{side}.layer_norm.{}", norm_param(p)))
        }
        [side @ ("encoder" | "decoder"), layer, rest @ ..] if layer.starts_with("layer_") => {
            let index = &layer["layer_".len()..];
            let prefix = format!("model.{side}.layers.{index}");
            let out = match rest {
                [block, "layer_norm", p] => {
                    let module = match *block {
                        "self_attention" => "self_attn_layer_norm",
                        "attention" => "encoder_attn_layer_norm",
                        _ => "final_layer_norm",
                    };
                    vec![(format!("{prefix}.{module}.{}", norm_param(p)), t)]
                }
                ["self_attention", "linear_0", p] => {
                    split(&t, &prefix, "self_attn", &["q_proj", "k_proj", "v_proj"], p)?
                }
                ["self_attention", "linear_1", p] => {
                    vec![(format!("{prefix}.self_attn.out_proj.{p}"), t)]
                }
                ["attention", "linear_0", p] => {
                    vec![(format!("{prefix}.encoder_attn.q_proj.{p}"), t)]
                }
                ["attention", "linear_1", p] => {
                    split(&t, &prefix, "encoder_attn", &["k_proj", "v_proj"], p)?
                }
                ["attention", "linear_2", p] => {
                    vec![(format!("{prefix}.encoder_attn.out_proj.{p}"), t)]
                }
                ["ffn", "linear_0", p] => vec![(format!("{prefix}.fc1.{p}"), t)],
                ["ffn", "linear_1", p] => vec![(format!("{prefix}.fc2.{p}"), t)],
                _ => Vec::new(),
            };
            Ok(out)
        }
        // The encoder's sinusoids are computed by candle; anything else is not needed.
        _ => Ok(Vec::new()),
    }
}

fn norm_param(p: &str) -> &str {
    if p == "gamma" { "weight" } else { "bias" }
}

fn split(
    t: &Tensor,
    prefix: &str,
    module: &str,
    names: &[&str],
    param: &str,
) -> candle_core::Result<Vec<(String, Tensor)>> {
    let rows = t.dim(0)? / names.len();
    let mut out = Vec::new();
    for (i, proj) in names.iter().enumerate() {
        if *proj == "k_proj" && param == "bias" {
            continue;
        }
        let part = t.narrow(0, i * rows, rows)?.contiguous()?;
        out.push((format!("{prefix}.{module}.{proj}.{param}"), part));
    }
    Ok(out)
}

/// The candle config, read from the tensors themselves so tiny/small/medium CT2 models of
/// the same spec load too.
fn config_from(
    tensors: &HashMap<String, Tensor>,
    scalars: &HashMap<String, i64>,
    suppress_tokens: Vec<u32>,
) -> Result<Config, String> {
    let dims = |name: &str| {
        tensors
            .get(name)
            .map(|t| t.dims().to_vec())
            .ok_or_else(|| format!("tensor {name} is missing"))
    };
    let embed = dims("model.decoder.embed_tokens.weight")?;
    let positions = dims("model.decoder.embed_positions.weight")?;
    let conv1 = dims("model.encoder.conv1.weight")?;
    let layers = |side: &str| {
        (0..)
            .take_while(|i| tensors.contains_key(&format!("model.{side}.layers.{i}.fc1.weight")))
            .count()
    };
    let heads = |side: &str| {
        scalars
            .get(&format!("{side}/num_heads"))
            .map_or(8, |&h| h.max(1) as usize)
    };
    let (vocab_size, d_model) = (embed[0], embed[1]);
    Ok(Config {
        num_mel_bins: conv1.get(1).copied().unwrap_or(80),
        // Two 30 s windows of 100 frames/s, halved by the stride-2 convolution.
        max_source_positions: 1500,
        d_model,
        encoder_attention_heads: heads("encoder"),
        encoder_layers: layers("encoder"),
        vocab_size,
        max_target_positions: positions[0],
        decoder_attention_heads: heads("decoder"),
        decoder_layers: layers("decoder"),
        suppress_tokens,
    })
}

#[cfg(test)]
#[path = "ct2_tests.rs"]
pub(crate) mod tests;
