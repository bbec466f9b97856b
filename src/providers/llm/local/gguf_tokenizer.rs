//! The tokenizer a GGUF file carries in its metadata (no `tokenizer.json` needed): byte-level
//! BPE (`tokenizer.ggml.model = "gpt2"`: SmolLM2, Qwen, Llama 3) through the `tokenizers`
//! crate, or SentencePiece (`"llama"`: Gemma) through [`super::spm`].

use super::spm::Spm;
use candle_core::quantized::gguf_file::{Content, Value};
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

/// GGUF `token_type` values (llama.cpp's `llama_token_type`).
const TYPE_CONTROL: i64 = 3;
const TYPE_USER_DEFINED: i64 = 4;

/// Qwen2/Qwen3 split: letters with one leading non-letter, digits one by one (llama.cpp's
/// `LLAMA_VOCAB_PRE_TYPE_QWEN2`).
const QWEN2_SPLIT: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3 split: the same with digits in groups of up to three.
const LLAMA3_SPLIT: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

enum Engine {
    Bpe(Box<Tokenizer>),
    Spm(Spm),
}

/// Text ⇄ token ids for one GGUF model. Control and user-defined tokens written in the text
/// (`<|im_start|>`) encode as their single id, which is how chat prompts are built.
pub struct GgufTokenizer {
    engine: Engine,
    vocab: HashMap<String, u32>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    /// Whether a prompt starts with `bos` (Gemma, Llama 3: yes; SmolLM2, Qwen: no).
    pub add_bos: bool,
}

/// Metadata readers that accept any integer width, as GGUF writers differ.
pub(crate) fn md_int(md: &HashMap<String, Value>, key: &str) -> Option<i64> {
    md.get(key).and_then(value_int)
}

fn value_int(v: &Value) -> Option<i64> {
    match v {
        Value::U8(x) => Some(i64::from(*x)),
        Value::I8(x) => Some(i64::from(*x)),
        Value::U16(x) => Some(i64::from(*x)),
        Value::I16(x) => Some(i64::from(*x)),
        Value::U32(x) => Some(i64::from(*x)),
        Value::I32(x) => Some(i64::from(*x)),
        Value::U64(x) => i64::try_from(*x).ok(),
        Value::I64(x) => Some(*x),
        _ => None,
    }
}

pub(crate) fn md_str<'a>(md: &'a HashMap<String, Value>, key: &str) -> Option<&'a str> {
    md.get(key)
        .and_then(|v| v.to_string().ok())
        .map(String::as_str)
}

fn md_array<'a>(md: &'a HashMap<String, Value>, key: &str) -> Result<&'a [Value], String> {
    match md.get(key) {
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("metadata {key} is not an array")),
        None => Err(format!("metadata {key} is missing")),
    }
}

fn md_strings(md: &HashMap<String, Value>, key: &str) -> Result<Vec<String>, String> {
    md_array(md, key)?
        .iter()
        .map(|v| {
            v.to_string()
                .cloned()
                .map_err(|_| format!("{key} holds a non-string"))
        })
        .collect()
}

impl GgufTokenizer {
    /// The tokenizer of a GGUF file, reading its metadata only (not the weights).
    pub fn from_gguf_file(path: &Path) -> Result<Self, String> {
        let mut file =
            File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let content = Content::read(&mut file)
            .map_err(|e| format!("{} is not a readable GGUF file: {e}", path.display()))?;
        Self::from_metadata(&content.metadata)
    }

    /// Builds the tokenizer from GGUF metadata; the error says which key is wrong.
    pub fn from_metadata(md: &HashMap<String, Value>) -> Result<Self, String> {
        let tokens = md_strings(md, "tokenizer.ggml.tokens")?;
        let types: Vec<i64> = match md_array(md, "tokenizer.ggml.token_type") {
            Ok(items) => items.iter().map(|v| value_int(v).unwrap_or(1)).collect(),
            Err(_) => vec![1; tokens.len()],
        };
        let id = |key: &str| md_int(md, key).and_then(|v| u32::try_from(v).ok());
        let model = md_str(md, "tokenizer.ggml.model").unwrap_or("gpt2");
        let add_bos = md
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.to_bool().ok())
            .unwrap_or(model == "llama");
        let specials: Vec<(String, u32, bool)> = tokens
            .iter()
            .zip(&types)
            .enumerate()
            .filter(|(_, (_, t))| matches!(**t, TYPE_CONTROL | TYPE_USER_DEFINED))
            .map(|(i, (tok, t))| (tok.clone(), i as u32, *t == TYPE_CONTROL))
            .collect();
        let engine = match model {
            "gpt2" => Engine::Bpe(Box::new(byte_level_bpe(md, &tokens, &specials)?)),
            "llama" => {
                let scores: Vec<f32> = md_array(md, "tokenizer.ggml.scores")?
                    .iter()
                    .map(|v| v.to_f32().unwrap_or(0.0))
                    .collect();
                let space_prefix = md
                    .get("tokenizer.ggml.add_space_prefix")
                    .and_then(|v| v.to_bool().ok())
                    .unwrap_or(true);
                Engine::Spm(Spm::new(tokens.clone(), scores, types, space_prefix))
            }
            other => {
                return Err(format!(
                    "tokenizer.ggml.model = {other:?} is not supported (supported: \"gpt2\" \
                     byte-level BPE, \"llama\" SentencePiece)"
                ));
            }
        };
        let vocab = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as u32))
            .collect();
        Ok(GgufTokenizer {
            engine,
            vocab,
            bos: id("tokenizer.ggml.bos_token_id"),
            eos: id("tokenizer.ggml.eos_token_id"),
            add_bos,
        })
    }

    /// Token ids for `text`; special tokens written in it become their single ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        match &self.engine {
            Engine::Bpe(tk) => tk
                .encode(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| format!("cannot tokenize the prompt: {e}")),
            Engine::Spm(spm) => Ok(spm.encode(text)),
        }
    }

    /// The text of `ids`, control tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, String> {
        match &self.engine {
            Engine::Bpe(tk) => tk
                .decode(ids, true)
                .map_err(|e| format!("cannot decode the reply: {e}")),
            Engine::Spm(spm) => Ok(spm.decode(ids)),
        }
    }

    /// The id of a vocabulary entry, e.g. `<|im_end|>`.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }
}

/// GPT-2 style BPE over bytes mapped to printable characters, with the pre-tokenizer the
/// original tokenizer used (named by `tokenizer.ggml.pre`): splitting numbers differently
/// would hand the model token sequences it never saw in training.
fn byte_level_bpe(
    md: &HashMap<String, Value>,
    tokens: &[String],
    specials: &[(String, u32, bool)],
) -> Result<Tokenizer, String> {
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let merges = md_strings(md, "tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| match m.split_once(' ') {
            Some((a, b)) => Ok((a.to_string(), b.to_string())),
            None => Err(format!("tokenizer.ggml.merges entry {m:?} has no space")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pre = md_str(md, "tokenizer.ggml.pre").unwrap_or("default");
    let llama3 = matches!(pre, "llama3" | "llama-bpe" | "llama-v3" | "smaug-bpe");
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        // Llama 3 looks a whole pre-token up before merging, as its original tokenizer does.
        .ignore_merges(llama3)
        .build()
        .map_err(|e| format!("invalid BPE vocabulary: {e}"))?;
    let split = |pattern: &str| -> Result<PreTokenizerWrapper, String> {
        let split = Split::new(
            SplitPattern::Regex(pattern.into()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| format!("pre-tokenizer pattern: {e}"))?;
        Ok(Sequence::new(vec![
            split.into(),
            ByteLevel::new(false, false, false).into(),
        ])
        .into())
    };
    let pre_tokenizer: PreTokenizerWrapper = match pre {
        "qwen2" | "qwen35" => split(QWEN2_SPLIT)?,
        _ if llama3 => split(LLAMA3_SPLIT)?,
        "gpt-2" => ByteLevel::new(false, true, true).into(),
        other => {
            if !matches!(other, "smollm" | "starcoder" | "refact" | "default") {
                tracing::warn!(pre = other, "unknown GGUF pre-tokenizer, using SmolLM2's");
            }
            Sequence::new(vec![
                Digits::new(true).into(),
                ByteLevel::new(false, true, true).into(),
            ])
            .into()
        }
    };
    let mut tk = Tokenizer::new(bpe);
    tk.with_pre_tokenizer(Some(pre_tokenizer));
    tk.with_decoder(Some(ByteLevelDecoder::default()));
    let added = specials
        .iter()
        .map(|(content, _, control)| AddedToken::from(content.clone(), *control));
    tk.add_tokens(added)
        .map_err(|e| format!("cannot register special tokens: {e}"))?;
    Ok(tk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel as Bl;

    /// A miniature SmolLM2-like vocabulary: control tokens, every byte character, and merges
    /// that would glue "2024" and "the" together if digits were not split first.
    fn metadata() -> HashMap<String, Value> {
        let mut tokens: Vec<String> = vec!["<|endoftext|>".into(), "<|im_start|>".into()];
        tokens.push("<|im_end|>".into());
        let mut bytes: Vec<char> = Bl::alphabet().into_iter().collect();
        bytes.sort_unstable();
        tokens.extend(bytes.iter().map(char::to_string));
        let merges = ["2 0", "2 4", "20 24", "t h", "th e", "Ġ the"];
        for m in merges {
            tokens.push(m.replace(' ', ""));
        }
        let mut types = vec![Value::I32(3); 3];
        types.resize(tokens.len(), Value::I32(1));
        let strings = |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
        HashMap::from([
            ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
            ("tokenizer.ggml.pre".into(), Value::String("smollm".into())),
            ("tokenizer.ggml.tokens".into(), strings(tokens)),
            ("tokenizer.ggml.token_type".into(), Value::Array(types)),
            (
                "tokenizer.ggml.merges".into(),
                strings(merges.iter().map(|m| m.to_string()).collect()),
            ),
            ("tokenizer.ggml.bos_token_id".into(), Value::U32(1)),
            ("tokenizer.ggml.eos_token_id".into(), Value::U32(2)),
        ])
    }

    #[test]
    fn byte_level_round_trip_with_specials_and_digits() {
        let tk = GgufTokenizer::from_metadata(&metadata()).unwrap();
        assert_eq!((tk.bos, tk.eos, tk.add_bos), (Some(1), Some(2), false));
        let text = "<|im_start|>user\nIn 2024 the café said \"hi\" 🙂<|im_end|>";
        let ids = tk.encode(text).unwrap();
        assert_eq!(ids[0], 1);
        assert_eq!(*ids.last().unwrap(), 2);
        assert!(ids.contains(&tk.token_id("Ġthe").unwrap()));
        // Digits stay single tokens even though "2024" is a merge in the vocabulary.
        let year = tk.encode("2024").unwrap();
        assert_eq!(year.len(), 4, "{year:?}");
        assert_eq!(
            tk.token_id("2024").map(|id| year.contains(&id)),
            Some(false)
        );
        // Control tokens are dropped on decode; everything else comes back byte for byte.
        let decoded = tk.decode(&ids).unwrap();
        assert_eq!(decoded, "user\nIn 2024 the café said \"hi\" 🙂");
    }

    #[test]
    fn unsupported_tokenizer_models_are_named() {
        let mut md = metadata();
        md.insert("tokenizer.ggml.model".into(), Value::String("bert".into()));
        let err = GgufTokenizer::from_metadata(&md).err().unwrap();
        assert!(err.contains("\"bert\"") && err.contains("gpt2"), "{err}");
        md.remove("tokenizer.ggml.tokens");
        let err = GgufTokenizer::from_metadata(&md).err().unwrap();
        assert!(err.contains("tokenizer.ggml.tokens"), "{err}");
    }
}
