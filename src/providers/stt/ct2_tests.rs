//! Tests for the CT2 reader, on tiny models written here in the CT2 v6 layout; the writer is
//! shared with the decoder tests.

use super::*;
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::model::Whisper;

/// Sizes of a tiny Whisper-shaped model.
#[derive(Clone, Copy)]
pub(crate) struct Tiny {
    pub d: usize,
    pub heads: usize,
    pub mels: usize,
    pub vocab: usize,
    pub positions: usize,
    pub layers: usize,
}

pub(crate) const TINY: Tiny = Tiny {
    d: 8,
    heads: 2,
    mels: 4,
    vocab: 12,
    positions: 10,
    layers: 2,
};

/// Writes CT2 files by hand: the format as MODELS.md describes it.
pub(crate) struct Writer {
    pub out: Vec<u8>,
    vars: Vec<u8>,
    count: u32,
    seed: u32,
}

impl Writer {
    pub fn new(version: u32, spec: &str) -> Self {
        let mut out = version.to_le_bytes().to_vec();
        push_str(&mut out, spec);
        out.extend_from_slice(&3u32.to_le_bytes());
        Writer {
            out,
            vars: Vec::new(),
            count: 0,
            seed: 12345,
        }
    }

    /// A float16 tensor with small deterministic values k/256, exact in f16.
    pub fn tensor(&mut self, name: &str, dims: &[usize]) -> Vec<f32> {
        let n: usize = dims.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|_| {
                self.seed = self.seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                ((self.seed >> 16) % 129) as f32 / 256.0 - 0.25
            })
            .collect();
        push_str(&mut self.vars, name);
        self.vars.push(dims.len() as u8);
        for &d in dims {
            self.vars.extend_from_slice(&(d as u32).to_le_bytes());
        }
        self.vars.push(4);
        self.vars.extend_from_slice(&((n * 2) as u32).to_le_bytes());
        for &v in &values {
            self.vars.extend_from_slice(&f16_bits(v).to_le_bytes());
        }
        self.count += 1;
        values
    }

    pub fn scalar_i16(&mut self, name: &str, value: i16) {
        push_str(&mut self.vars, name);
        self.vars.push(0);
        self.vars.push(2);
        self.vars.extend_from_slice(&2u32.to_le_bytes());
        self.vars.extend_from_slice(&value.to_le_bytes());
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&self.count.to_le_bytes());
        self.out.extend_from_slice(&self.vars);
        self.out.extend_from_slice(&1u32.to_le_bytes());
        push_str(&mut self.out, "decoder/projection/weight");
        push_str(&mut self.out, "decoder/embeddings/weight");
        self.out
    }
}

fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
    buf.push(0);
}

/// f32 → f16 bits for normal values with at most 11 significant bits (all we write).
fn f16_bits(v: f32) -> u16 {
    if v == 0.0 {
        return 0;
    }
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = (((bits >> 23) & 0xff) as i32 - 127 + 15) as u16;
    let mantissa = ((bits >> 13) & 0x3ff) as u16;
    sign | (exp << 10) | mantissa
}

/// A complete tiny model; returns the file bytes and the fused self-attention weight of
/// encoder layer 0 (to check the split).
pub(crate) fn tiny_model(t: Tiny) -> (Vec<u8>, Vec<f32>) {
    let d = t.d;
    let mut w = Writer::new(6, "WhisperSpec");
    w.tensor("encoder/conv1/weight", &[d, t.mels, 3]);
    w.tensor("encoder/conv1/bias", &[d]);
    w.tensor("encoder/conv2/weight", &[d, d, 3]);
    w.tensor("encoder/conv2/bias", &[d]);
    let mut fused = Vec::new();
    for side in ["encoder", "decoder"] {
        w.scalar_i16(&format!("{side}/num_heads"), t.heads as i16);
        for l in 0..t.layers {
            let p = format!("{side}/layer_{l}");
            let qkv = w.tensor(&format!("{p}/self_attention/linear_0/weight"), &[3 * d, d]);
            if side == "encoder" && l == 0 {
                fused = qkv;
            }
            w.tensor(&format!("{p}/self_attention/linear_0/bias"), &[3 * d]);
            w.tensor(&format!("{p}/self_attention/linear_1/weight"), &[d, d]);
            w.tensor(&format!("{p}/self_attention/linear_1/bias"), &[d]);
            let mut blocks = vec!["self_attention", "ffn"];
            if side == "decoder" {
                w.tensor(&format!("{p}/attention/linear_0/weight"), &[d, d]);
                w.tensor(&format!("{p}/attention/linear_0/bias"), &[d]);
                w.tensor(&format!("{p}/attention/linear_1/weight"), &[2 * d, d]);
                w.tensor(&format!("{p}/attention/linear_1/bias"), &[2 * d]);
                w.tensor(&format!("{p}/attention/linear_2/weight"), &[d, d]);
                w.tensor(&format!("{p}/attention/linear_2/bias"), &[d]);
                blocks.push("attention");
            }
            w.tensor(&format!("{p}/ffn/linear_0/weight"), &[4 * d, d]);
            w.tensor(&format!("{p}/ffn/linear_0/bias"), &[4 * d]);
            w.tensor(&format!("{p}/ffn/linear_1/weight"), &[d, 4 * d]);
            w.tensor(&format!("{p}/ffn/linear_1/bias"), &[d]);
            for block in blocks {
                w.tensor(&format!("{p}/{block}/layer_norm/gamma"), &[d]);
                w.tensor(&format!("{p}/{block}/layer_norm/beta"), &[d]);
            }
        }
        w.tensor(&format!("{side}/layer_norm/gamma"), &[d]);
        w.tensor(&format!("{side}/layer_norm/beta"), &[d]);
    }
    w.tensor("encoder/position_encodings/encodings", &[1500, d]);
    w.tensor("decoder/embeddings/weight", &[t.vocab, d]);
    w.tensor("decoder/position_encodings/encodings", &[t.positions, d]);
    (w.finish(), fused)
}

/// Parses tiny-model bytes written to a temporary file.
pub(crate) fn load_bytes(bytes: &[u8]) -> Result<Ct2Weights, ProviderError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("model.bin");
    std::fs::write(&path, bytes).expect("write model");
    load(&path, vec![1, 2])
}

#[test]
fn tiny_model_maps_to_candle_names_and_loads() {
    let (bytes, fused) = tiny_model(TINY);
    let weights = load_bytes(&bytes).unwrap();
    let c = &weights.config;
    assert_eq!(
        (
            c.d_model,
            c.vocab_size,
            c.max_target_positions,
            c.num_mel_bins
        ),
        (8, 12, 10, 4)
    );
    assert_eq!((c.encoder_layers, c.decoder_layers), (2, 2));
    assert_eq!(
        (c.encoder_attention_heads, c.decoder_attention_heads),
        (2, 2)
    );
    assert_eq!(c.suppress_tokens, vec![1, 2]);

    let t = &weights.tensors;
    let names = ["q_proj", "k_proj", "v_proj"];
    for (i, proj) in names.iter().enumerate() {
        let w = &t[&format!("model.encoder.layers.0.self_attn.{proj}.weight")];
        assert_eq!(w.dims(), &[8, 8]);
        // Row block i of the fused [3d, d] matrix.
        let got: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(got, fused[i * 64..(i + 1) * 64].to_vec(), "{proj}");
    }
    assert!(t.contains_key("model.encoder.layers.0.self_attn.q_proj.bias"));
    assert!(!t.contains_key("model.encoder.layers.0.self_attn.k_proj.bias"));
    assert!(t.contains_key("model.decoder.layers.1.encoder_attn.v_proj.bias"));
    assert!(!t.contains_key("model.decoder.layers.1.encoder_attn.k_proj.bias"));
    assert!(t.contains_key("model.decoder.layers.1.encoder_attn_layer_norm.weight"));
    assert!(t.contains_key("model.decoder.layers.0.final_layer_norm.bias"));
    assert!(t.contains_key("model.encoder.layer_norm.weight"));
    assert_eq!(t["model.decoder.embed_positions.weight"].dims(), &[10, 8]);

    // candle's own Whisper finds every tensor it asks for, with the right shape.
    let vb = VarBuilder::from_tensors(weights.tensors, DType::F32, &Device::Cpu);
    let mut model = Whisper::load(&vb, weights.config).unwrap();
    let mel = Tensor::zeros((1, 4, 20), DType::F32, &Device::Cpu).unwrap();
    let features = model.encoder.forward(&mel, true).unwrap();
    assert_eq!(features.dims(), &[1, 10, 8]);
}

#[test]
fn wrong_header_or_truncation_says_corrupt_and_how_to_fix() {
    let check = |bytes: &[u8], detail: &str| {
        let err = load_bytes(bytes).err().expect("must fail").to_string();
        assert!(err.contains("corrupt model"), "{err}");
        assert!(err.contains(FETCH_COMMAND), "{err}");
        assert!(err.contains(detail), "{err}");
    };
    check(&Writer::new(5, "WhisperSpec").finish(), "binary version 5");
    check(
        &Writer::new(6, "TransformerSpec").finish(),
        "TransformerSpec",
    );
    let (bytes, _) = tiny_model(TINY);
    check(&bytes[..bytes.len() / 2], "file ends early");
    check(b"not a model at all", "");

    let mut w = Writer::new(6, "WhisperSpec");
    w.tensor("encoder/conv1/weight", &[2, 2, 3]);
    check(&w.finish(), "embed_tokens.weight is missing");

    let err = load(Path::new("/nonexistent/model.bin"), Vec::new())
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("/nonexistent/model.bin"), "{err}");
}

/// Largest absolute difference between two tensors of the same shape.
pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// The tiny model as weights, candle's reference Whisper built on them, and a small mel
/// input: the common start of the encoder and decoder comparison tests.
pub(crate) fn tiny_reference() -> (VarBuilder<'static>, Config, Whisper, Tensor) {
    let (bytes, _) = tiny_model(TINY);
    let weights = load_bytes(&bytes).unwrap();
    let config = weights.config.clone();
    let vb = VarBuilder::from_tensors(weights.tensors, DType::F32, &Device::Cpu);
    let reference = Whisper::load(&vb, config.clone()).unwrap();
    let mel = Tensor::arange(0f32, 80.0, &Device::Cpu)
        .unwrap()
        .affine(0.05, -2.0)
        .unwrap()
        .sin()
        .unwrap()
        .reshape((1, 4, 20))
        .unwrap();
    (vb, config, reference, mel)
}
