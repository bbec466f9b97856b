//! Checks of the footage, network, video, subtitle and music settings.

use super::Rules;
use crate::config::Config;
use crate::config::error::{ConfigError, show_str};

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

pub(super) fn validate_video(r: &Rules, cfg: &Config) -> Result<(), ConfigError> {
    let video = &cfg.video;
    r.one_of("video.aspect", &video.aspect, &["9:16", "16:9", "1:1"])?;
    r.int("video.fps", video.fps.into(), 24, 60)?;
    r.float("video.max_clip_secs", video.max_clip_secs, 2.0, 10.0)?;
    r.one_of("video.encoder", &video.encoder, ENCODERS)?;
    r.one_of(
        "video.concat_mode",
        &video.concat_mode,
        &["semantic", "script-order", "sequential", "random"],
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

pub(super) fn validate_footage(r: &Rules, cfg: &Config) -> Result<(), ConfigError> {
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
