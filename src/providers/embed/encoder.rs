//! The BERT encoder of all-MiniLM-L6-v2 on the CPU, written out on plain `f32` buffers: the
//! same arithmetic as candle's `BertModel` (absolute positions, post-norm layers, erf GELU),
//! with about 3× its throughput per CPU-second on a 2-core machine in `f32`, ~4× with the
//! linear layers in 16-bit fixed point ([`Precision`]).
//!
//! Where the time goes, and what is saved: the linear layers are ~85 % of the time in `f32`;
//! they run on weights packed once at load (`Packed`, about 90 % of the FPU's peak, where
//! `gemm` repacked 42 MB of weights on every call and a one-text batch spent most of its time
//! doing so), or rounded once at load (`FixedWeights`, ~1.5× faster; see [`Linear`]). Around
//! them, texts are packed (no padding rows: the linear layers see real tokens only, attention
//! stays within each text), Q, K and V come from one product with their weights concatenated
//! at load, each bias is folded into the GELU or layer-norm pass that follows, residuals are
//! accumulated in place, and buffers are reused between calls. Each thread takes whole texts
//! through all six layers when the batch splits evenly at text ends; otherwise bands of rows,
//! with one hand-over per layer instead of a thread pool per operation (candle's spins while
//! rayon's runs the products).

use super::Precision;
use super::attention::{HEAD, attend};
use super::fixed::FixedRows;
use super::kernels::{Norm, avx2_fma, gelu, layer_norm, parallel};
use super::linear::Linear;
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
    fixed: FixedRows,
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
            .map(|b| {
                b.context.capacity() + b.inner.capacity() + b.scores.capacity() + b.fixed.capacity()
            })
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
    pub fn load(vb: VarBuilder, config: &Config, precision: Precision) -> Result<Encoder> {
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
                    qkv: Linear::load(&vb, &qkv, hidden, hidden, precision)?,
                    attention_out: Linear::load(
                        &vb,
                        &["attention.output.dense"],
                        hidden,
                        hidden,
                        precision,
                    )?,
                    attention_norm: norm(vb.pp("attention.output.LayerNorm"), hidden, eps)?,
                    up: Linear::load(&vb, &["intermediate.dense"], hidden, inner, precision)?,
                    down: Linear::load(&vb, &["output.dense"], inner, hidden, precision)?,
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

        let threads = self.threads.min(tokens / MIN_BAND).max(1);
        bands.resize_with(threads, Band::default);
        let width = 3 * h;
        qkv.resize(tokens * width, 0.0);
        next_qkv.resize(tokens * width, 0.0);
        if let Some(ranges) = text_bands(&spans, tokens, threads) {
            self.whole_texts(&ranges, &spans, hidden, qkv, next_qkv, bands);
            return Ok(());
        }

        // Each thread owns a contiguous band of rows through every layer; only attention
        // reads other rows (its text's keys and values), from the previous hand-over.
        let band = tokens.div_ceil(threads).max(1);
        let first = &self.layers[0].qkv;
        let work = hidden
            .chunks(band * h)
            .zip(qkv.chunks_mut(band * width))
            .zip(bands.iter_mut());
        parallel(work, |((rows, out), scratch)| {
            first.biased(rows, out, self.avx2_fma, &mut scratch.fixed)
        });
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
                    following.biased(rows, next, self.avx2_fma, &mut scratch.fixed);
                }
            });
            std::mem::swap(qkv, next_qkv);
        }
        Ok(())
    }

    /// Each thread runs its own texts through every layer: no text spans two bands, so no
    /// band reads another's rows and the threads never wait for each other until the end.
    fn whole_texts(
        &self,
        ranges: &[Range<usize>],
        spans: &[Range<usize>],
        hidden: &mut [f32],
        qkv: &mut [f32],
        next_qkv: &mut [f32],
        bands: &mut [Band],
    ) {
        let (h, width) = (self.hidden, 3 * self.hidden);
        let (mut hidden, mut qkv, mut next_qkv) = (hidden, qkv, next_qkv);
        let mut work = Vec::with_capacity(ranges.len());
        for (range, scratch) in ranges.iter().zip(bands.iter_mut()) {
            let rows;
            (rows, hidden) = std::mem::take(&mut hidden).split_at_mut(range.len() * h);
            let current;
            (current, qkv) = std::mem::take(&mut qkv).split_at_mut(range.len() * width);
            let next;
            (next, next_qkv) = std::mem::take(&mut next_qkv).split_at_mut(range.len() * width);
            // The band's texts, in its own row numbers.
            let local: Vec<Range<usize>> = spans
                .iter()
                .filter(|s| range.start <= s.start && s.end <= range.end)
                .map(|s| s.start - range.start..s.end - range.start)
                .collect();
            work.push((rows, current, next, scratch, local));
        }
        parallel(
            work.into_iter(),
            |(rows, mut qkv, mut next, scratch, spans)| {
                let range = 0..rows.len() / h;
                self.layers[0]
                    .qkv
                    .biased(rows, qkv, self.avx2_fma, &mut scratch.fixed);
                for (l, layer) in self.layers.iter().enumerate() {
                    let pass = Pass {
                        layer,
                        qkv,
                        spans: &spans,
                        range: range.clone(),
                    };
                    self.layer(&pass, rows, scratch);
                    if let Some(following) = self.layers.get(l + 1) {
                        following
                            .qkv
                            .biased(rows, next, self.avx2_fma, &mut scratch.fixed);
                    }
                    std::mem::swap(&mut qkv, &mut next);
                }
            },
        );
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
        let fixed = &mut band.fixed;
        layer
            .attention_out
            .product(&band.context, rows, true, avx2_fma, fixed);
        layer_norm(rows, Some(&layer.attention_out.bias), &layer.attention_norm);
        layer
            .up
            .product(rows, &mut band.inner, false, avx2_fma, fixed);
        gelu(&mut band.inner, &layer.up.bias);
        layer.down.product(&band.inner, rows, true, avx2_fma, fixed);
        layer_norm(rows, Some(&layer.down.bias), &layer.output_norm);
    }
}

/// Bands of whole texts for `threads` threads, cut at the text ends nearest an even split;
/// `None` when there are too few texts, or a band would be over 10 % longer than an even
/// share (its thread would finish last by more than the hand-overs it saves).
fn text_bands(spans: &[Range<usize>], tokens: usize, threads: usize) -> Option<Vec<Range<usize>>> {
    if threads < 2 {
        return None;
    }
    let mut cuts = vec![0];
    for t in 1..threads {
        let target = tokens * t / threads;
        let after = *cuts.last().expect("cuts start with 0");
        let cut = spans
            .iter()
            .map(|s| s.end)
            .filter(|&end| after < end && end < tokens)
            .min_by_key(|&end| end.abs_diff(target))?;
        cuts.push(cut);
    }
    cuts.push(tokens);
    let even = tokens.div_ceil(threads);
    let bands: Vec<Range<usize>> = cuts.windows(2).map(|w| w[0]..w[1]).collect();
    bands
        .iter()
        .all(|b| b.len() * 10 <= even * 11)
        .then_some(bands)
}

/// What every band of one layer shares.
struct Pass<'a> {
    layer: &'a Layer,
    qkv: &'a [f32],
    spans: &'a [Range<usize>],
    /// This band's rows.
    range: Range<usize>,
}

#[cfg(test)]
#[path = "encoder_tests.rs"]
mod tests;
