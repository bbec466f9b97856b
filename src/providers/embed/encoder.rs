//! The BERT encoder of all-MiniLM-L6-v2 on the CPU, written out on plain `f32` buffers: the
//! same arithmetic as candle's `BertModel` (absolute positions, post-norm layers, erf GELU),
//! several times faster on a small machine.
//!
//! Where the speed comes from: texts are packed (no padding rows: every linear layer runs
//! on real tokens only, attention within each text), Q, K and V come from one product with
//! their weights concatenated at load, bias, residual, GELU and layer norm are folded into the
//! products' output rows while they are still in cache, scratch buffers are allocated once per
//! call, and the rows are split between threads with one hand-over per layer instead of a
//! thread pool per operation.

use super::kernels::{axpy, gelu, layer_norm, matmul, softmax};
use candle_core::Result;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use std::ops::Range;

/// A linear layer stored as `[inputs × outputs]` (PyTorch keeps the transpose), so rows of
/// activations multiply it directly.
struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    /// Several checkpoint layers with the same input side by side: `[q | k | v]` for one
    /// product instead of three.
    fn load(vb: &VarBuilder, names: &[&str], inputs: usize, outputs: usize) -> Result<Linear> {
        let width = outputs * names.len();
        let (mut weight, mut bias) = (vec![0f32; inputs * width], Vec::with_capacity(width));
        for (part, name) in names.iter().enumerate() {
            let w = vb
                .get((outputs, inputs), &format!("{name}.weight"))?
                .to_vec2::<f32>()?;
            for (o, row) in w.iter().enumerate() {
                for (i, x) in row.iter().enumerate() {
                    weight[i * width + part * outputs + o] = *x;
                }
            }
            bias.extend(vb.get(outputs, &format!("{name}.bias"))?.to_vec1::<f32>()?);
        }
        Ok(Linear { weight, bias })
    }

    fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// `out = x · W + bias (+ residual)` for the rows of `x`.
    fn forward(&self, x: &[f32], residual: Option<&[f32]>, out: &mut [f32]) {
        let (n, k) = (self.outputs(), self.weight.len() / self.outputs());
        let rows = x.len() / k;
        let out = &mut out[..rows * n];
        for (r, row) in out.chunks_exact_mut(n).enumerate() {
            row.copy_from_slice(&self.bias);
            if let Some(residual) = residual {
                row.iter_mut()
                    .zip(&residual[r * n..])
                    .for_each(|(y, s)| *y += s);
            }
        }
        matmul(out, x, &self.weight, (rows, k, n), true);
    }
}

/// A layer norm's scale and shift.
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl Norm {
    fn load(vb: VarBuilder, width: usize) -> Result<Norm> {
        Ok(Norm {
            gamma: vb.get(width, "weight")?.to_vec1()?,
            beta: vb.get(width, "bias")?.to_vec1()?,
        })
    }
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    up: Linear,
    down: Linear,
    output_norm: Norm,
}

/// Per-thread working memory, sized for its rows and reused by every layer.
#[derive(Default)]
struct Scratch {
    context: Vec<f32>,
    attended: Vec<f32>,
    inner: Vec<f32>,
    keys: Vec<f32>,
    scores: Vec<f32>,
}

pub struct Encoder {
    words: Vec<f32>,
    positions: Vec<f32>,
    /// Token type 0's row: every text is a single segment.
    segment: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    eps: f32,
    threads: usize,
}

impl Encoder {
    /// Whether `config` is the architecture written out here; anything else runs on candle.
    pub fn supports(config: &Config) -> bool {
        config.hidden_act == HiddenAct::Gelu
            && config.num_attention_heads > 0
            && config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
    }

    /// Reads the weights through `vb` (names with or without a `bert.` prefix).
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Encoder> {
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let (hidden, inner) = (config.hidden_size, config.intermediate_size);
        let table = |name: &str, rows: usize| -> Result<Vec<f32>> {
            vb.get((rows, hidden), name)?.flatten_all()?.to_vec1()
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let vb = vb.pp(format!("encoder.layer.{i}"));
                let q = ["query", "key", "value"].map(|n| format!("attention.self.{n}"));
                let q: Vec<&str> = q.iter().map(String::as_str).collect();
                Ok(Layer {
                    qkv: Linear::load(&vb, &q, hidden, hidden)?,
                    attention_out: Linear::load(&vb, &["attention.output.dense"], hidden, hidden)?,
                    attention_norm: Norm::load(vb.pp("attention.output.LayerNorm"), hidden)?,
                    up: Linear::load(&vb, &["intermediate.dense"], hidden, inner)?,
                    down: Linear::load(&vb, &["output.dense"], inner, hidden)?,
                    output_norm: Norm::load(vb.pp("output.LayerNorm"), hidden)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Encoder {
            words: table("embeddings.word_embeddings.weight", config.vocab_size)?,
            positions: table(
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings,
            )?,
            segment: table(
                "embeddings.token_type_embeddings.weight",
                config.type_vocab_size,
            )?[..hidden]
                .to_vec(),
            embedding_norm: Norm::load(vb.pp("embeddings.LayerNorm"), hidden)?,
            layers,
            hidden,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps as f32,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// The last hidden state of every token of every text, texts packed one after another:
    /// `[Σ lengths × hidden]`.
    pub fn forward(&self, texts: &[&[u32]]) -> Result<Vec<f32>> {
        let h = self.hidden;
        let mut spans = Vec::with_capacity(texts.len());
        let mut hidden = Vec::new();
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
        let norm = &self.embedding_norm;
        layer_norm(&mut hidden, &norm.gamma, &norm.beta, self.eps);

        // Each thread owns a contiguous band of rows through every layer; only attention
        // reads other rows (its text's keys and values), from the previous hand-over.
        // A band under a few rows is not worth a thread.
        let threads = self.threads.min(tokens.div_ceil(8)).max(1);
        let band = tokens.div_ceil(threads).max(1);
        let mut scratch: Vec<Scratch> = (0..threads).map(|_| Scratch::default()).collect();
        let qkv_width = 3 * h;
        let mut qkv = vec![0f32; tokens * qkv_width];
        let mut next_qkv = vec![0f32; tokens * qkv_width];
        if let Some(first) = self.layers.first() {
            parallel(
                hidden
                    .chunks(band * h)
                    .zip(qkv.chunks_mut(band * qkv_width)),
                |(x, out)| first.qkv.forward(x, None, out),
            );
        }
        for (l, layer) in self.layers.iter().enumerate() {
            let following = self.layers.get(l + 1);
            let (qkv_read, spans) = (&qkv, &spans);
            let bands = hidden
                .chunks_mut(band * h)
                .zip(next_qkv.chunks_mut(band * qkv_width))
                .zip(scratch.iter_mut())
                .enumerate();
            parallel(bands, |(b, ((rows, next), scratch))| {
                let first = b * band;
                let range = first..first + rows.len() / h;
                self.layer(layer, qkv_read, spans, range, rows, scratch);
                if let Some(following) = following {
                    following.qkv.forward(rows, None, next);
                }
            });
            std::mem::swap(&mut qkv, &mut next_qkv);
        }
        Ok(hidden)
    }

    /// One layer for the rows `range` (held in `rows`, replaced by the layer's output), with
    /// the whole batch's Q, K, V in `qkv`.
    #[inline(always)]
    fn layer(
        &self,
        layer: &Layer,
        qkv: &[f32],
        spans: &[Range<usize>],
        range: Range<usize>,
        rows: &mut [f32],
        scratch: &mut Scratch,
    ) {
        let h = self.hidden;
        let count = range.len();
        scratch.context.resize(count * h, 0.0);
        scratch.attended.resize(count * h, 0.0);
        scratch.inner.resize(count * layer.up.outputs(), 0.0);
        self.attention(qkv, spans, range, scratch);

        let Scratch {
            context,
            attended,
            inner,
            ..
        } = scratch;
        layer.attention_out.forward(context, Some(&*rows), attended);
        let norm = &layer.attention_norm;
        layer_norm(attended, &norm.gamma, &norm.beta, self.eps);
        layer.up.forward(attended, None, inner);
        gelu(inner);
        layer.down.forward(inner, Some(&attended[..]), rows);
        let norm = &layer.output_norm;
        layer_norm(rows, &norm.gamma, &norm.beta, self.eps);
    }

    /// Scaled dot-product attention of the query rows `range` over the keys of their own
    /// text, heads side by side in `scratch.context`.
    #[inline(always)]
    fn attention(
        &self,
        qkv: &[f32],
        spans: &[Range<usize>],
        range: Range<usize>,
        scratch: &mut Scratch,
    ) {
        let (h, width) = (self.hidden, 3 * self.hidden);
        let head = h / self.heads;
        let scale = 1.0 / (head as f32).sqrt();
        scratch.context.fill(0.0);
        for span in spans
            .iter()
            .filter(|s| s.start < range.end && range.start < s.end)
        {
            let len = span.len();
            let queries = span.start.max(range.start)..span.end.min(range.end);
            scratch.keys.resize(head * len, 0.0);
            scratch.scores.resize(len, 0.0);
            for at in (0..h).step_by(head) {
                // Keys transposed to [head × len]: each score row is then a sum of
                // contiguous, vectorizable rows instead of `len` short dot products.
                for (j, token) in span.clone().enumerate() {
                    let key = &qkv[token * width + h + at..][..head];
                    for (d, x) in key.iter().enumerate() {
                        scratch.keys[d * len + j] = *x;
                    }
                }
                for query in queries.clone() {
                    let q = &qkv[query * width + at..][..head];
                    let scores = &mut scratch.scores[..len];
                    scores.fill(0.0);
                    for (d, x) in q.iter().enumerate() {
                        axpy(scores, x * scale, &scratch.keys[d * len..(d + 1) * len]);
                    }
                    softmax(scores);
                    let out = &mut scratch.context[(query - range.start) * h + at..][..head];
                    for (p, token) in scores.iter().zip(span.clone()) {
                        axpy(out, *p, &qkv[token * width + 2 * h + at..][..head]);
                    }
                }
            }
        }
    }
}

/// Runs `work` on every item, the first on this thread and each other one on a thread of its
/// own, and returns when all are done: the hand-over between layers.
fn parallel<I, F>(items: I, work: F)
where
    I: Iterator,
    I::Item: Send,
    F: Fn(I::Item) + Sync,
{
    std::thread::scope(|scope| {
        let mut items = items;
        let Some(first) = items.next() else { return };
        let work = &work;
        for item in items {
            scope.spawn(move || work(item));
        }
        work(first);
    });
}
