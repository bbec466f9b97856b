//! The loaded model (weights of one supported architecture, its tokenizer and chat format)
//! and the token-by-token generation loop. Runs on a blocking thread; the async side lives
//! in `super` (`local.rs`).

use super::chat_template::ChatFamily;
use super::gguf_tokenizer::{GgufTokenizer, md_int, md_str};
use super::requant;
use candle_core::quantized::gguf_file::Content;
use candle_core::{DType, Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::{
    quantized_gemma3, quantized_llama, quantized_qwen2, quantized_qwen3,
};
use std::fs::File;
use std::io::{Read, Seek};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// `general.architecture` values this provider runs.
pub const SUPPORTED: [&str; 4] = ["llama", "qwen2", "qwen3", "gemma3"];

/// Prompt tokens per forward pass: big enough for fast matrix kernels, small enough that a
/// cancel during a long prompt is noticed soon.
const PREFILL_CHUNK: usize = 128;

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Qwen3(quantized_qwen3::ModelWeights),
    /// candle's Gemma 3 cannot clear its KV cache, so each call starts from a clean copy
    /// (cloning shares the weight tensors; only the cache differs).
    Gemma3 {
        clean: quantized_gemma3::ModelWeights,
        live: quantized_gemma3::ModelWeights,
    },
}

impl Weights {
    fn forward(&mut self, x: &Tensor, pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Weights::Llama(m) => m.forward(x, pos),
            Weights::Qwen2(m) => m.forward(x, pos),
            Weights::Qwen3(m) => m.forward(x, pos),
            Weights::Gemma3 { live, .. } => live.forward(x, pos),
        }
    }

    /// Drops the KV cache so no state leaks from one request into the next.
    fn reset(&mut self) {
        match self {
            Weights::Llama(m) => m.clear_kv_cache(),
            Weights::Qwen2(m) => m.clear_kv_cache(),
            Weights::Qwen3(m) => m.clear_kv_cache(),
            Weights::Gemma3 { clean, live } => *live = clean.clone(),
        }
    }
}

/// Sampling settings of one request.
#[derive(Clone, Debug)]
pub struct Params {
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
    pub max_tokens: usize,
    /// >1 makes recently generated tokens less likely: small models otherwise loop.
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
}

/// Token counts and timings of one generation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub prompt_ms: f64,
    pub generated_tokens: usize,
    pub generate_ms: f64,
    /// The reply hit `max_tokens` instead of an end token.
    pub truncated: bool,
}

impl GenerationStats {
    pub fn prompt_tokens_per_s(&self) -> f64 {
        self.prompt_tokens as f64 * 1000.0 / self.prompt_ms.max(1e-3)
    }
    pub fn generated_tokens_per_s(&self) -> f64 {
        self.generated_tokens as f64 * 1000.0 / self.generate_ms.max(1e-3)
    }
}

/// Why a file did not load: a model of a kind this provider cannot run, or a damaged file.
pub enum LoadError {
    Unsupported(String),
    Broken(String),
}

pub enum GenError {
    Cancelled,
    Failed(String),
}

impl From<candle_core::Error> for GenError {
    fn from(e: candle_core::Error) -> Self {
        GenError::Failed(format!("inference failed: {e}"))
    }
}

pub struct Engine {
    weights: Mutex<Weights>,
    tokenizer: GgufTokenizer,
    family: ChatFamily,
    stops: Vec<u32>,
    context: usize,
    device: Device,
}

impl Engine {
    /// Reads weights, tokenizer and chat format from an opened GGUF file. Errors are plain
    /// sentences; the caller adds the path and what to do.
    pub fn load(mut file: File, device: Device) -> Result<Engine, LoadError> {
        let ct = Content::read(&mut file)
            .map_err(|e| LoadError::Broken(format!("not a readable GGUF file ({e})")))?;
        let md = &ct.metadata;
        let arch = md_str(md, "general.architecture")
            .unwrap_or("(none)")
            .to_string();
        if !SUPPORTED.contains(&arch.as_str()) {
            return Err(LoadError::Unsupported(format!(
                "model architecture {arch:?} is not supported; supported architectures: {}",
                SUPPORTED.join(", ")
            )));
        }
        let tokenizer = GgufTokenizer::from_metadata(md).map_err(|e| {
            if e.contains("not supported") {
                LoadError::Unsupported(e)
            } else {
                LoadError::Broken(e)
            }
        })?;
        let template = md_str(md, "tokenizer.chat_template");
        let family =
            ChatFamily::detect(template, |t| tokenizer.token_id(t).is_some()).ok_or_else(|| {
                LoadError::Unsupported(
                    "the chat template is not ChatML, Gemma or Llama 3, which are supported".into(),
                )
            })?;
        let mut stops: Vec<u32> = family
            .stop_tokens()
            .iter()
            .filter_map(|t| tokenizer.token_id(t))
            .collect();
        stops.extend(tokenizer.eos);
        let context = md_int(md, &format!("{arch}.context_length"))
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(4096);
        let bad = |e: candle_core::Error| {
            LoadError::Broken(format!("cannot read the {arch} weights ({e})"))
        };
        let file_len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        let weights = if requant::worthwhile(&ct, file_len, &device) {
            let (ct, mut memory) = requant::to_q8_0(&ct, &mut file, &device).map_err(bad)?;
            load_weights(&arch, ct, &mut memory, &device)
        } else {
            load_weights(&arch, ct, &mut file, &device)
        }
        .map_err(bad)?;
        Ok(Engine {
            weights: Mutex::new(weights),
            tokenizer,
            family,
            stops,
            context,
            device,
        })
    }

    pub fn family(&self) -> ChatFamily {
        self.family
    }

    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }

    /// The assistant's answer to `system` + `user`. `progress` gets the token count after each
    /// token; `cancel` is checked between forward passes.
    pub fn generate(
        &self,
        system: &str,
        user: &str,
        params: &Params,
        cancel: &CancellationToken,
        mut progress: impl FnMut(usize),
    ) -> Result<(String, GenerationStats), GenError> {
        let prompt = self.family.render(system, user);
        let mut tokens = Vec::new();
        if self.tokenizer.add_bos {
            tokens.extend(self.tokenizer.bos);
        }
        tokens.extend(self.tokenizer.encode(&prompt).map_err(GenError::Failed)?);
        if tokens.len() + 8 > self.context {
            return Err(GenError::Failed(format!(
                "the prompt has {} tokens, more than the model's context of {}",
                tokens.len(),
                self.context
            )));
        }
        let max_tokens = params.max_tokens.min(self.context - tokens.len()).max(1);
        // One request at a time: the KV cache lives in the weights. A panic in an earlier call
        // poisons the lock but the reset below makes the state clean again.
        let mut weights = self.weights.lock().unwrap_or_else(PoisonError::into_inner);
        weights.reset();
        let result = self.run(
            &mut weights,
            &tokens,
            params,
            max_tokens,
            cancel,
            &mut progress,
        );
        weights.reset();
        result
    }

    fn run(
        &self,
        weights: &mut Weights,
        prompt: &[u32],
        params: &Params,
        max_tokens: usize,
        cancel: &CancellationToken,
        progress: &mut impl FnMut(usize),
    ) -> Result<(String, GenerationStats), GenError> {
        let mut stats = GenerationStats {
            prompt_tokens: prompt.len(),
            ..Default::default()
        };
        let started = Instant::now();
        let mut logits = None;
        for (k, chunk) in prompt.chunks(PREFILL_CHUNK).enumerate() {
            if cancel.is_cancelled() {
                return Err(GenError::Cancelled);
            }
            let input = Tensor::new(chunk, &self.device)?.unsqueeze(0)?;
            logits = Some(weights.forward(&input, k * PREFILL_CHUNK)?);
        }
        let mut logits = logits.ok_or_else(|| GenError::Failed("the prompt is empty".into()))?;
        stats.prompt_ms = started.elapsed().as_secs_f64() * 1000.0;

        let started = Instant::now();
        let mut sampler = LogitsProcessor::from_sampling(params.seed, sampling(params));
        let mut generated: Vec<u32> = Vec::new();
        stats.truncated = true;
        while generated.len() < max_tokens {
            if cancel.is_cancelled() {
                return Err(GenError::Cancelled);
            }
            let mut step = logits.squeeze(0)?.to_dtype(DType::F32)?;
            if params.repeat_penalty != 1.0 && !generated.is_empty() {
                let recent = &generated[generated.len().saturating_sub(params.repeat_last_n)..];
                step = candle_transformers::utils::apply_repeat_penalty(
                    &step,
                    params.repeat_penalty,
                    recent,
                )?;
            }
            let next = sampler.sample(&step)?;
            if self.stops.contains(&next) {
                stats.truncated = false;
                break;
            }
            generated.push(next);
            progress(generated.len());
            if generated.len() == max_tokens {
                break;
            }
            let input = Tensor::new(&[next], &self.device)?.unsqueeze(0)?;
            logits = weights.forward(&input, prompt.len() + generated.len() - 1)?;
        }
        stats.generated_tokens = generated.len();
        stats.generate_ms = started.elapsed().as_secs_f64() * 1000.0;
        let text = self
            .tokenizer
            .decode(&generated)
            .map_err(GenError::Failed)?;
        Ok((text, stats))
    }
}

fn load_weights<R: Read + Seek>(
    arch: &str,
    ct: Content,
    reader: &mut R,
    device: &Device,
) -> candle_core::Result<Weights> {
    Ok(match arch {
        "llama" => Weights::Llama(quantized_llama::ModelWeights::from_gguf(
            ct, reader, device,
        )?),
        "qwen2" => Weights::Qwen2(quantized_qwen2::ModelWeights::from_gguf(
            ct, reader, device,
        )?),
        "qwen3" => Weights::Qwen3(quantized_qwen3::ModelWeights::from_gguf(
            ct, reader, device,
        )?),
        _ => {
            let clean = quantized_gemma3::ModelWeights::from_gguf(ct, reader, device)?;
            Weights::Gemma3 {
                live: clean.clone(),
                clean,
            }
        }
    })
}

fn sampling(p: &Params) -> Sampling {
    if p.temperature <= 1e-6 {
        Sampling::ArgMax
    } else if p.top_p <= 0.0 || p.top_p >= 1.0 {
        Sampling::All {
            temperature: p.temperature,
        }
    } else {
        Sampling::TopP {
            p: p.top_p,
            temperature: p.temperature,
        }
    }
}
