//! Checks on the values themselves (ranges, allowed sets, formats), run after loading and
//! again after command-line flags are applied.

use super::Config;
use super::error::{ConfigError, show_str};
use crate::pipeline::stage::Stage;
use std::collections::BTreeMap;

#[path = "validate_media.rs"]
mod media;

pub fn validate(cfg: &Config) -> Result<(), ConfigError> {
    validate_with(cfg, &BTreeMap::new())
}

pub(super) struct Rules<'a> {
    origins: &'a BTreeMap<String, String>,
}

impl Rules<'_> {
    pub(super) fn invalid(
        &self,
        key: &str,
        value: String,
        allowed: impl Into<String>,
    ) -> ConfigError {
        ConfigError::InvalidValue {
            origin: self.origins.get(key).cloned().unwrap_or_default(),
            key: key.to_string(),
            value,
            allowed: allowed.into(),
        }
    }

    pub(super) fn one_of(&self, key: &str, value: &str, set: &[&str]) -> Result<(), ConfigError> {
        if set.contains(&value) {
            return Ok(());
        }
        let quoted: Vec<String> = set.iter().map(|s| format!("{s:?}")).collect();
        Err(self.invalid(
            key,
            show_str(key, value),
            format!("one of {}", quoted.join(", ")),
        ))
    }

    pub(super) fn int(&self, key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            return Ok(());
        }
        Err(self.invalid(
            key,
            value.to_string(),
            format!("a whole number from {min} to {max}"),
        ))
    }

    pub(super) fn float(
        &self,
        key: &str,
        value: f64,
        min: f64,
        max: f64,
    ) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            return Ok(());
        }
        Err(self.invalid(
            key,
            format!("{value:?}"),
            format!("a number from {min:?} to {max:?}"),
        ))
    }

    pub(super) fn colour(&self, key: &str, value: &str) -> Result<(), ConfigError> {
        let ok = value.len() == 7
            && value.starts_with('#')
            && value[1..].chars().all(|c| c.is_ascii_hexdigit());
        if ok {
            return Ok(());
        }
        Err(self.invalid(
            key,
            show_str(key, value),
            "a colour written \"#RRGGBB\", e.g. \"#FFFFFF\"",
        ))
    }
}

pub(super) fn validate_with(
    cfg: &Config,
    origins: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let r = Rules { origins };

    let llm = &cfg.llm;
    r.one_of(
        "llm.provider",
        &llm.provider,
        &["auto", "openai", "local", "none"],
    )?;
    r.int("llm.max_tokens", llm.max_tokens.into(), 16, 4096)?;
    if !(llm.top_p > 0.0 && llm.top_p <= 1.0) {
        return Err(r.invalid(
            "llm.top_p",
            llm.top_p.to_string(),
            "a number above 0 and at most 1",
        ));
    }
    let url = llm.base_url.trim();
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        return Err(r.invalid(
            "llm.base_url",
            show_str("llm.base_url", url),
            "a URL starting with http:// or https://, or \"\" for no LLM",
        ));
    }
    if !url.is_empty()
        && matches!(llm.provider.as_str(), "openai" | "auto")
        && llm.model.trim().is_empty()
    {
        return Err(r.invalid(
            "llm.model",
            "\"\"".into(),
            "a model name, e.g. \"gpt-4o-mini\"",
        ));
    }
    r.float("llm.temperature", llm.temperature, 0.0, 2.0)?;
    r.int("llm.timeout_secs", llm.timeout_secs, 1, 3600)?;

    r.int("script.paragraphs", cfg.script.paragraphs.into(), 1, 10)?;
    r.int("terms.per_sentence", cfg.terms.per_sentence.into(), 1, 8)?;

    let voice = &cfg.voice;
    r.one_of("voice.provider", &voice.provider, &["piper", "espeak"])?;
    r.float("voice.loudness_lufs", voice.loudness_lufs, -30.0, -5.0)?;
    r.one_of("models.device", &cfg.models.device, &["cpu", "cuda"])?;
    r.one_of(
        "models.embed_precision",
        &cfg.models.embed_precision,
        &crate::providers::embed::Precision::NAMES,
    )?;
    r.one_of("stt.provider", &cfg.stt.provider, &["whisper", "none"])?;
    if cfg.script.sentences != 0 {
        r.int("script.sentences", cfg.script.sentences.into(), 3, 30)?;
    }
    r.float("voice.rate", voice.rate, 0.5, 2.0)?;
    r.float("voice.volume", voice.volume, 0.0, 2.0)?;
    r.int(
        "voice.sentence_gap_ms",
        voice.sentence_gap_ms.into(),
        0,
        2000,
    )?;

    media::validate_footage(&r, cfg)?;

    media::validate_video(&r, cfg)?;

    // Only emptiness is checked here: the dashboard knows the built-in names and reads files.
    if cfg.ui.theme.trim().is_empty() {
        return Err(r.invalid(
            "ui.theme",
            show_str("ui.theme", &cfg.ui.theme),
            "\"dark\", \"light\", \"high-contrast\" or the path of a theme .toml file",
        ));
    }

    let select = &cfg.select;
    r.float("select.min_relevance", select.min_relevance, 0.0, 3.0)?;
    r.int(
        "select.alternative_rounds",
        select.alternative_rounds.into(),
        0,
        3,
    )?;
    r.float("select.clip_weight", select.clip_weight, 0.0, 1.0)?;

    let pipe = &cfg.pipeline;
    r.int("pipeline.max_attempts", pipe.max_attempts.into(), 1, 10)?;
    if pipe.backoff_base_ms < 1 || pipe.backoff_base_ms > pipe.backoff_max_ms {
        return Err(r.invalid(
            "pipeline.backoff_base_ms",
            pipe.backoff_base_ms.to_string(),
            format!(
                "at least 1 and at most pipeline.backoff_max_ms ({})",
                pipe.backoff_max_ms
            ),
        ));
    }
    let stages: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
    for (stage, &limit) in &pipe.limits {
        if !stages.contains(&stage.as_str()) {
            return Err(r.invalid(
                "pipeline.limits",
                format!("{stage:?}"),
                format!("stage names: {}", stages.join(", ")),
            ));
        }
        r.int(&format!("pipeline.limits.{stage}"), limit as u64, 1, 64)?;
    }
    r.int("pipeline.cpu_slots", pipe.cpu_slots as u64, 0, 256)?;
    r.int(
        "pipeline.footage_budget_mb",
        pipe.footage_budget_mb,
        0,
        1_000_000,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_checks_each_rule() {
        type Breaker = fn(&mut Config);
        let cases: Vec<(&str, Breaker)> = vec![
            ("llm.provider", |c| c.llm.provider = "claude".into()),
            ("llm.base_url", |c| c.llm.base_url = "localhost:8080".into()),
            ("llm.temperature", |c| c.llm.temperature = f64::NAN),
            ("llm.timeout_secs", |c| c.llm.timeout_secs = 0),
            ("script.paragraphs", |c| c.script.paragraphs = 11),
            ("terms.per_sentence", |c| c.terms.per_sentence = 0),
            ("voice.provider", |c| c.voice.provider = "festival".into()),
            ("voice.loudness_lufs", |c| c.voice.loudness_lufs = 0.0),
            ("llm.max_tokens", |c| c.llm.max_tokens = 5),
            ("llm.top_p", |c| c.llm.top_p = 0.0),
            ("models.device", |c| c.models.device = "tpu".into()),
            ("models.embed_precision", |c| {
                c.models.embed_precision = "int8".into()
            }),
            ("stt.provider", |c| c.stt.provider = "google".into()),
            ("script.sentences", |c| c.script.sentences = 2),
            ("voice.rate", |c| c.voice.rate = 2.5),
            ("voice.volume", |c| c.voice.volume = -0.1),
            ("voice.sentence_gap_ms", |c| c.voice.sentence_gap_ms = 2001),
            ("footage.sources", |c| c.footage.sources.clear()),
            ("footage.sources", |c| {
                c.footage.sources.push("pexels".into())
            }),
            ("footage.sources", |c| {
                c.footage.sources.push("local".into())
            }),
            ("video.fps", |c| c.video.fps = 61),
            ("video.max_clip_secs", |c| c.video.max_clip_secs = 1.0),
            ("video.encoder", |c| c.video.encoder = "libx265".into()),
            ("video.transition", |c| c.video.transition = "spin".into()),
            ("video.clip_speed", |c| c.video.clip_speed = 3.0),
            ("video.video_count", |c| c.video.video_count = 6),
            ("music.path", |c| c.music.mode = "file".into()),
            ("video.preset", |c| c.video.preset = "turbo".into()),
            ("video.crf", |c| c.video.crf = 52),
            ("subtitles.color", |c| c.subtitles.color = "white".into()),
            ("subtitles.outline_color", |c| {
                c.subtitles.outline_color = "#12345".into()
            }),
            ("subtitles.position", |c| {
                c.subtitles.position = "middle".into()
            }),
            ("subtitles.outline", |c| c.subtitles.outline = 11),
            ("subtitles.max_line_chars", |c| {
                c.subtitles.max_line_chars = 9
            }),
            ("subtitles.size", |c| c.subtitles.size = 7),
            ("pipeline.max_attempts", |c| c.pipeline.max_attempts = 0),
            ("pipeline.backoff_base_ms", |c| {
                c.pipeline.backoff_base_ms = 0
            }),
            ("pipeline.backoff_base_ms", |c| {
                c.pipeline.backoff_max_ms = 10
            }),
            ("pipeline.limits", |c| {
                c.pipeline.limits.insert("upload".into(), 1);
            }),
            ("ui.theme", |c| c.ui.theme = " ".into()),
        ];
        for (key, break_it) in cases {
            let mut cfg = Config::default();
            break_it(&mut cfg);
            let msg = validate(&cfg).unwrap_err().to_string();
            assert!(msg.contains(&format!("`{key}`")), "{key}: {msg}");
        }
        let mut cfg = Config::default();
        cfg.subtitles.size = 48;
        cfg.llm.base_url = "https://api.openai.com/v1".into();
        validate(&cfg).unwrap();
    }
}
