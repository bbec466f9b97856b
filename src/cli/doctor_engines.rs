//! Doctor checks of the engines: the local model files, optional CLIP weights, the LLM
//! endpoint and its key.

use super::Check;
use crate::config::Config;
use crate::providers::models::{FETCH_COMMAND, ModelKind, ModelStatus, status};
use std::path::Path;

/// Each local model: present, missing or corrupt, and whether this config needs it.
pub(super) fn model_checks(cfg: &Config) -> Vec<Check> {
    let dir = cfg.models_dir();
    let uses_local_llm = match cfg.llm.provider.as_str() {
        "local" => true,
        "auto" => cfg.llm.base_url.trim().is_empty(),
        _ => false,
    };
    ModelKind::ALL
        .into_iter()
        .map(|kind| {
            let name = format!("model {}", kind.folder());
            let (required, fallback) = match kind {
                ModelKind::Llm => (
                    cfg.llm.provider == "local",
                    "the bundled example script is used",
                ),
                ModelKind::Piper => (false, "the espeak-ng voice is used"),
                ModelKind::Whisper => (false, "no word timings; uploaded narration cannot be used"),
                ModelKind::MiniLm => (false, "clips are matched by shared words"),
            };
            let needed = match kind {
                ModelKind::Llm => uses_local_llm,
                ModelKind::Piper => cfg.voice.provider == "piper",
                ModelKind::Whisper => cfg.stt.provider == "whisper",
                ModelKind::MiniLm => true,
            };
            let check = match status(&dir, kind) {
                ModelStatus::Present => Check::pass(
                    &name,
                    format!("{} in {}", kind.label(), dir.join(kind.folder()).display()),
                ),
                ModelStatus::Missing(why) if needed => {
                    Check::fail(&name, format!("{why}; meanwhile {fallback}"), FETCH_COMMAND)
                }
                ModelStatus::Missing(why) => Check::fail(
                    &name,
                    format!("{why} (not used by this config)"),
                    FETCH_COMMAND,
                ),
                ModelStatus::Corrupt(why) => {
                    Check::fail(&name, format!("corrupt: {why}"), FETCH_COMMAND)
                }
            };
            check.required_if(required)
        })
        .collect()
}

/// CLIP weights only matter when the user points `[select] clip_model` at them.
pub(super) fn clip_check(cfg: &Config) -> Option<Check> {
    let dir = cfg.select.clip_model.trim();
    if dir.is_empty() {
        return None;
    }
    let name = "CLIP weights";
    Some(
        match crate::providers::vision::check_folder(Path::new(dir)) {
            Ok(()) => Check::pass(name, format!("{dir} (keyframes scored against the words)")),
            Err(e) => Check::fail(
                name,
                e.to_string(),
                "fix [select] clip_model, or set it to \"\" for text-only matching",
            ),
        },
    )
}

pub(super) fn llm_check(cfg: &Config) -> Check {
    let name = "LLM endpoint";
    let check = if cfg.llm.provider == "none" {
        Check::pass(
            name,
            "llm.provider = \"none\": the bundled example script is used",
        )
    } else if cfg.llm.base_url.trim().is_empty() {
        Check::fail(
            name,
            "no LLM endpoint: the local model writes the script",
            "for a larger model, set [llm] base_url, model and OPENAI_API_KEY (any OpenAI-compatible server)",
        )
    } else {
        Check::pass(
            name,
            format!(
                "{} (model {})",
                without_userinfo(cfg.llm.base_url.trim()),
                cfg.llm.model
            ),
        )
    };
    check.advisory()
}

/// `https://user:pass@host/v1` → `https://<redacted>@host/v1`: URLs can carry credentials.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://<redacted>{}", &rest[at..]),
        None => url.to_string(),
    }
}

pub(super) fn api_key_check(cfg: &Config) -> Check {
    let var = cfg.llm.api_key_env.trim();
    let var = if var.is_empty() {
        "OPENAI_API_KEY"
    } else {
        var
    };
    let name = "LLM API key";
    // Only whether it is set: the value never leaves the Secret.
    let check = if !cfg.llm.api_key.is_empty() {
        Check::pass(name, "set")
    } else {
        Check::fail(
            name,
            format!("not set ({var} is empty; local servers such as Ollama need none)"),
            format!("export {var}=<your key>"),
        )
    };
    check.advisory()
}
