//! The BERT encoder of all-MiniLM-L6-v2 on the CPU, written out on plain `f32` buffers: the
//! same arithmetic as candle's `BertModel` (absolute positions, post-norm layers, erf GELU),
//! with about 3× its throughput per CPU-second on a 2-core machine.
//!
//! Where the time goes, and what is saved: the linear layers are ~85 % of the time; they
//! run on weights packed once at load ([`Packed`], about 90 % of the FPU's peak, where `gemm`
//! repacked 42 MB of weights on every call and a one-text batch spent most of its time doing
//! so). Around them, texts are packed (no padding rows: the linear layers
//! see real tokens only, attention stays within each text), Q, K and V come from one product
//! with their weights concatenated at load, each bias is folded into the GELU or layer-norm
//! pass that follows, residuals are accumulated in place, buffers are reused between calls,
//! and the rows are split between threads with one hand-over per layer instead of a thread
//! pool per operation (candle's spins while rayon's runs the products).

use super::attention::{HEAD, attend};
use super::kernels::{Norm, avx2_fma, gelu, layer_norm, parallel};
use super::packed::{Packed, Start};
use crate::procstat::available_cores;
use candle_core::Result;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

/// Rows per band at least: fewer, and a thread would spend more time reading the weights
/// from memory and waiting for the other than multiplying.
const MIN_BAND: usize = 12;

/// Buffers up to this many values in all are kept for the next call (16 MB: a batch of 32
/// narration sentences needs about 6); a batch of long texts frees what it needed.
const KEEP: usize = 4 << 20;

/// A linear layer stored as `[inputs × outputs]` (PyTorch keeps the transpose), so rows of
/// activations multiply it directly, packed for the kernel.
struct Linear {
    weight: Packed,
    bias: Vec<f32>,
}

impl Linear {
    /// Several checkpoint layers with the same input side by side: `[q | k | v]` for one
    /// product instead of three.
    fn load(vb: &VarBuilder, names: &[&str], inputs: usize, outputs: usize) -> Result<Linear> {
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
        let weight = Packed::new(&weight, inputs, width);
        Ok(Linear { weight, bias })
    }

    fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// `out = x · W + bias`, for the products no element-wise pass follows.
    #[inline(always)]
    fn biased(&self, x: &[f32], out: &mut [f32], avx2_fma: bool) {
        let rows = x.len() / self.weight.inputs();
        let out = &mut out[..rows * self.outputs()];
        self.weight
            .product(x, out, Start::Bias(&self.bias), avx2_fma);
    }

    /// `out (+)= x · W` for the rows of `x`, without the bias (see [`layer_norm`], [`gelu`]).
    #[inline(always)]
    fn product(&self, x: &[f32], out: &mut [f32], accumulate: bool, avx2_fma: bool) {
        let start = if accumulate {
            Start::Accumulate
        } else {
            Start::Zero
        };
        self.weight.product(x, out, start, avx2_fma);
    }
}

fn norm(vb: VarBuilder, width: usize, eps: f64) -> Result<Norm> {
    Ok(Norm {
        gamma: vb.get(width, "weight")?.to_vec1()?,
        beta: vb.get(width, "bias")?.to_vec1()?,
        eps: eps as f32,
    })
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    up: Linear,
    down: Linear,
    output_norm: Norm,
}

/// One band's working memory, kept between calls: fresh buffers of a few MB cost page faults
/// and zeroing on every batch.
#[derive(Default)]
struct Band {
    context: Vec<f32>,
    inner: Vec<f32>,
    scores: Vec<f32>,
}

/// The batch-wide buffers of one call, kept between calls like [`Band`].
#[derive(Default)]
struct Buffers {
    hidden: Vec<f32>,
    qkv: Vec<f32>,
    next_qkv: Vec<f32>,
    bands: Vec<Band>,
}

impl Buffers {
    /// Values allocated in all.
    fn capacity(&self) -> usize {
        let bands: usize = self
            .bands
            .iter()
            .map(|b| b.context.capacity() + b.inner.capacity() + b.scores.capacity())
            .sum();
        self.hidden.capacity() + self.qkv.capacity() + self.next_qkv.capacity() + bands
    }
}

pub struct Encoder {
    words: Vec<f32>,
    positions: Vec<f32>,
    /// Token type 0's row: every text is a single segment.
    segment: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    threads: usize,
    /// Whether this CPU runs the AVX2+FMA build of the element-wise code and products.
    avx2_fma: bool,
    /// Buffers of finished calls; concurrent calls each take their own.
    spare: Mutex<Vec<Buffers>>,
}

impl Encoder {
    /// Whether `config` is the architecture written out here; anything else runs on candle.
    pub fn supports(config: &Config) -> bool {
        config.hidden_act == HiddenAct::Gelu
            && config.hidden_size == HEAD * config.num_attention_heads
            && config.num_hidden_layers > 0
    }

    /// Reads the weights through `vb` (names with or without a `bert.` prefix).
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Encoder> {
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let (hidden, inner, eps) = (
            config.hidden_size,
            config.intermediate_size,
            config.layer_norm_eps,
        );
        let table = |name: &str, rows: usize| -> Result<Vec<f32>> {
            vb.get((rows, hidden), name)?.flatten_all()?.to_vec1()
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let vb = vb.pp(format!("encoder.layer.{i}"));
                let qkv = ["query", "key", "value"].map(|n| format!("attention.self.{n}"));
                let qkv: Vec<&str> = qkv.iter().map(String::as_str).collect();
                Ok(Layer {
                    qkv: Linear::load(&vb, &qkv, hidden, hidden)?,
                    attention_out: Linear::load(&vb, &["attention.output.dense"], hidden, hidden)?,
                    attention_norm: norm(vb.pp("attention.output.LayerNorm"), hidden, eps)?,
                    up: Linear::load(&vb, &["intermediate.dense"], hidden, inner)?,
                    down: Linear::load(&vb, &["output.dense"], inner, hidden)?,
                    output_norm: norm(vb.pp("output.LayerNorm"), hidden, eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let segments = table(
            "embeddings.token_type_embeddings.weight",
            config.type_vocab_size,
        )?;
        Ok(Encoder {
            words: table("embeddings.word_embeddings.weight", config.vocab_size)?,
            positions: table(
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings,
            )?,
            segment: segments[..hidden].to_vec(),
            embedding_norm: norm(vb.pp("embeddings.LayerNorm"), hidden, eps)?,
            layers,
            hidden,
            threads: available_cores(),
            avx2_fma: avx2_fma(),
            spare: Mutex::default(),
        })
    }

    /// Runs the texts (token ids, one after another in the batch) through the encoder and
    /// hands `pool` the last hidden state of every token, `[Σ lengths × hidden]`.
    pub fn forward<R>(&self, texts: &[&[u32]], pool: impl FnOnce(&[f32]) -> R) -> Result<R> {
        // A panic elsewhere while holding the lock leaves the list itself intact.
        let spare = || self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buffers = spare().pop().unwrap_or_default();
        let result = self
            .run(texts, &mut buffers)
            .map(|()| pool(&buffers.hidden));
        if buffers.capacity() <= KEEP {
            spare().push(buffers);
        }
        result
    }

    fn run(&self, texts: &[&[u32]], buffers: &mut Buffers) -> Result<()> {
        let h = self.hidden;
        let Buffers {
            hidden,
            qkv,
            next_qkv,
            bands,
        } = buffers;
        hidden.clear();
        let mut spans = Vec::with_capacity(texts.len());
        for ids in texts {
            let start = hidden.len() / h;
            if ids.len() > self.positions.len() / h {
                candle_core::bail!("{} tokens, more than the model's positions", ids.len());
            }
            for (position, &id) in ids.iter().enumerate() {
                let Some(word) = self.words.get(id as usize * h..(id as usize + 1) * h) else {
                    candle_core::bail!("token id {id} is outside the vocabulary");
                };
                let position = &self.positions[position * h..(position + 1) * h];
                hidden.extend((0..h).map(|i| word[i] + position[i] + self.segment[i]));
            }
            spans.push(start..start + ids.len());
        }
        let tokens = hidden.len() / h;
        layer_norm(hidden, None, &self.embedding_norm);

        // Each thread owns a contiguous band of rows through every layer; only attention
        // reads other rows (its text's keys and values), from the previous hand-over.
        let threads = self.threads.min(tokens / MIN_BAND).max(1);
        let band = tokens.div_ceil(threads).max(1);
        bands.resize_with(threads, Band::default);
        let width = 3 * h;
        qkv.resize(tokens * width, 0.0);
        next_qkv.resize(tokens * width, 0.0);
        let first = &self.layers[0].qkv;
        let work = hidden.chunks(band * h).zip(qkv.chunks_mut(band * width));
        parallel(work, |(rows, out)| first.biased(rows, out, self.avx2_fma));
        for (l, layer) in self.layers.iter().enumerate() {
            let following = self.layers.get(l + 1).map(|next| &next.qkv);
            let (qkv_read, spans) = (&qkv[..], &spans[..]);
            let work = hidden
                .chunks_mut(band * h)
                .zip(next_qkv.chunks_mut(band * width))
                .zip(bands.iter_mut())
                .enumerate();
            parallel(work, |(b, ((rows, next), scratch))| {
                let range = b * band..b * band + rows.len() / h;
                let pass = Pass {
                    layer,
                    qkv: qkv_read,
                    spans,
                    range,
                };
                self.layer(&pass, rows, scratch);
                if let Some(following) = following {
                    following.biased(rows, next, self.avx2_fma);
                }
            });
            std::mem::swap(qkv, next_qkv);
        }
        Ok(())
    }

    fn layer(&self, pass: &Pass<'_>, rows: &mut [f32], band: &mut Band) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: `avx2_fma` is only set when the CPU reported both features.
            return unsafe { self.layer_avx2_fma(pass, rows, band) };
        }
        self.layer_body(pass, rows, band);
    }

    /// [`Self::layer_body`] compiled for AVX2 and FMA: its element-wise loops (attention,
    /// GELU, layer norm) run 8 lanes wide instead of the SSE2 baseline's 4.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn layer_avx2_fma(&self, pass: &Pass<'_>, rows: &mut [f32], band: &mut Band) {
        self.layer_body(pass, rows, band);
    }

    /// One layer for the band's rows, replaced by the layer's output; the layer's Q, K and V
    /// for the whole batch are already in `pass.qkv`.
    #[inline(always)]
    fn layer_body(&self, pass: &Pass<'_>, rows: &mut [f32], band: &mut Band) {
        let Pass {
            layer,
            qkv,
            spans,
            ref range,
        } = *pass;
        let avx2_fma = self.avx2_fma;
        let (h, count) = (self.hidden, range.len());
        band.context.resize(count * h, 0.0);
        band.inner.resize(count * layer.up.outputs(), 0.0);
        attend(
            qkv,
            h,
            spans,
            range.clone(),
            &mut band.context,
            &mut band.scores,
        );
        // rows = LN(rows + context · W + b): the layer input is the residual, overwritten.
        layer
            .attention_out
            .product(&band.context, rows, true, avx2_fma);
        layer_norm(rows, Some(&layer.attention_out.bias), &layer.attention_norm);
        layer.up.product(rows, &mut band.inner, false, avx2_fma);
        gelu(&mut band.inner, &layer.up.bias);
        layer.down.product(&band.inner, rows, true, avx2_fma);
        layer_norm(rows, Some(&layer.down.bias), &layer.output_norm);
    }
}

/// What every band of one layer shares.
struct Pass<'a> {
    layer: &'a Layer,
    qkv: &'a [f32],
    spans: &'a [Range<usize>],
    /// This band's rows.
    range: Range<usize>,
}
