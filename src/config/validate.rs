//! Checks on the values themselves (ranges, allowed sets, formats), run after loading and
//! again after command-line flags are applied.

use super::Config;
use super::error::{ConfigError, show_str};
use crate::pipeline::stage::Stage;
use std::collections::BTreeMap;

const X264_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// Ranges and sets from the schema's doc comments. Call again after applying flags.
pub fn validate(cfg: &Config) -> Result<(), ConfigError> {
    validate_with(cfg, &BTreeMap::new())
}

struct Rules<'a> {
    origins: &'a BTreeMap<String, String>,
}

impl Rules<'_> {
    fn invalid(&self, key: &str, value: String, allowed: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            origin: self.origins.get(key).cloned().unwrap_or_default(),
            key: key.to_string(),
            value,
            allowed: allowed.into(),
        }
    }

    fn one_of(&self, key: &str, value: &str, set: &[&str]) -> Result<(), ConfigError> {
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

    fn int(&self, key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            return Ok(());
        }
        Err(self.invalid(
            key,
            value.to_string(),
            format!("a whole number from {min} to {max}"),
        ))
    }

    fn float(&self, key: &str, value: f64, min: f64, max: f64) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            return Ok(());
        }
        Err(self.invalid(
            key,
            format!("{value:?}"),
            format!("a number from {min:?} to {max:?}"),
        ))
    }

    fn colour(&self, key: &str, value: &str) -> Result<(), ConfigError> {
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

    validate_footage(&r, cfg)?;

    validate_video(&r, cfg)?;

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
    Ok(())
}

pub const TRANSITIONS: &[&str] = &[
    "none",
    "fade",
    "dissolve",
    "slide_left",
    "slide_right",
    "slide_up",
    "slide_down",
    "wipe",
    "zoom_in",
    "zoom_out",
    "shuffle",
];
pub const ENCODERS: &[&str] = &[
    "libx264",
    "auto",
    "h264_nvenc",
    "hevc_nvenc",
    "h264_vaapi",
    "h264_qsv",
];

fn validate_video(r: &Rules, cfg: &Config) -> Result<(), ConfigError> {
    let video = &cfg.video;
    r.one_of("video.aspect", &video.aspect, &["9:16", "16:9", "1:1"])?;
    r.int("video.fps", video.fps.into(), 24, 60)?;
    r.float("video.max_clip_secs", video.max_clip_secs, 2.0, 10.0)?;
    r.one_of("video.encoder", &video.encoder, ENCODERS)?;
    r.one_of(
        "video.concat_mode",
        &video.concat_mode,
        &["script-order", "sequential", "random"],
    )?;
    r.one_of("video.transition", &video.transition, TRANSITIONS)?;
    r.float("video.transition_secs", video.transition_secs, 0.1, 2.0)?;
    r.float("video.clip_speed", video.clip_speed, 0.5, 2.0)?;
    r.one_of("video.fill", &video.fill, &["crop", "blur"])?;
    r.int("video.video_count", video.video_count.into(), 1, 5)?;
    r.one_of("video.preset", &video.preset, X264_PRESETS)?;
    r.int("video.crf", video.crf.into(), 0, 51)?;

    let subs = &cfg.subtitles;
    r.colour("subtitles.color", &subs.color)?;
    r.colour("subtitles.outline_color", &subs.outline_color)?;
    r.colour("subtitles.highlight_color", &subs.highlight_color)?;
    r.one_of(
        "subtitles.position",
        &subs.position,
        &["bottom", "top", "center", "custom"],
    )?;
    r.float(
        "subtitles.position_percent",
        subs.position_percent,
        0.0,
        100.0,
    )?;
    r.int("subtitles.shadow", subs.shadow.into(), 0, 10)?;
    r.one_of(
        "subtitles.background",
        &subs.background,
        &["none", "box", "rounded"],
    )?;
    r.colour("subtitles.background_color", &subs.background_color)?;
    r.float(
        "subtitles.background_opacity",
        subs.background_opacity,
        0.0,
        1.0,
    )?;
    r.int("subtitles.outline", subs.outline.into(), 0, 10)?;
    r.int(
        "subtitles.max_line_chars",
        subs.max_line_chars.into(),
        10,
        80,
    )?;
    if subs.size != 0 && !(8..=300).contains(&subs.size) {
        return Err(r.invalid(
            "subtitles.size",
            subs.size.to_string(),
            "0 (automatic) or a size from 8 to 300",
        ));
    }

    let music = &cfg.music;
    r.one_of("music.mode", &music.mode, &["none", "file", "random"])?;
    if music.mode != "none" && music.path.trim().is_empty() {
        return Err(r.invalid(
            "music.path",
            "\"\"".into(),
            "an audio file (mode \"file\") or a folder of them (mode \"random\")",
        ));
    }
    r.float("music.volume", music.volume, 0.0, 1.0)?;
    r.float("music.fade_in_secs", music.fade_in_secs, 0.0, 30.0)?;
    r.float("music.fade_out_secs", music.fade_out_secs, 0.0, 30.0)?;
    Ok(())
}

const FOOTAGE_SOURCES: &[&str] = &["local", "pexels", "pixabay", "generated"];

fn validate_footage(r: &Rules, cfg: &Config) -> Result<(), ConfigError> {
    let footage = &cfg.footage;
    let sources = &footage.sources;
    if sources.is_empty() {
        return Err(r.invalid(
            "footage.sources",
            "[]".into(),
            "a non-empty list drawn from \"local\", \"pexels\", \"pixabay\", \"generated\"",
        ));
    }
    for (i, source) in sources.iter().enumerate() {
        r.one_of("footage.sources", source, FOOTAGE_SOURCES)?;
        if sources[..i].contains(source) {
            return Err(r.invalid(
                "footage.sources",
                format!("{sources:?}"),
                "each source at most once",
            ));
        }
    }
    r.int(
        "footage.candidates_per_sentence",
        footage.candidates_per_sentence.into(),
        1,
        10,
    )?;
    r.one_of("footage.media", &footage.media, &["video", "image"])?;
    r.int(
        "footage.search_ttl_hours",
        footage.search_ttl_hours,
        0,
        24 * 365,
    )?;
    for (name, stock, max_page) in [
        ("pexels", &footage.pexels, 80),
        ("pixabay", &footage.pixabay, 200),
    ] {
        let url = stock.base_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            let key = format!("footage.{name}.base_url");
            return Err(r.invalid(
                &key,
                show_str(&key, url),
                "a URL starting with http:// or https://",
            ));
        }
        r.int(
            &format!("footage.{name}.per_page"),
            stock.per_page.into(),
            3,
            max_page,
        )?;
    }

    let net = &cfg.net;
    let proxy = net.proxy.expose().trim();
    let schemes = ["http://", "https://", "socks5://", "socks5h://"];
    if !proxy.is_empty() && !schemes.iter().any(|s| proxy.starts_with(s)) {
        // The value may hold a password: it is not repeated.
        return Err(r.invalid(
            "net.proxy",
            "(not shown)".into(),
            "a URL starting with http://, https://, socks5:// or socks5h://, or \"\" for none",
        ));
    }
    r.int("net.max_downloads", net.max_downloads.into(), 1, 64)?;
    r.int("net.per_host", net.per_host.into(), 1, 64)?;
    r.int("net.connect_timeout_secs", net.connect_timeout_secs, 1, 300)?;
    r.int("net.stall_timeout_secs", net.stall_timeout_secs, 1, 600)?;
    r.int("net.max_clip_mb", net.max_clip_mb, 1, 10_000)?;
    r.int("net.max_attempts", net.max_attempts.into(), 1, 10)?;
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
