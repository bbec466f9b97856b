//! Writing cues out: SRT and WebVTT sidecars, and the pieces of the ASS script burned into
//! the video (the Default style's fields from the subtitle config, times, `Dialogue:` lines,
//! cue text escaped so libass shows it literally); `SubtitleStyle` puts them together.

use super::Cue;
use super::style::{Background, Position, SubtitleStyle};
use crate::config::SubtitleConfig;
use serde::{Deserialize, Serialize};

/// (hours, minutes, seconds, fraction in 1/`unit` s), rounded once so cue ends and the
/// next cue's start print the same.
fn clock(seconds: f64, unit: u64) -> (u64, u64, u64, u64) {
    let ticks = (seconds.max(0.0) * unit as f64).round() as u64;
    let secs = ticks / unit;
    (secs / 3600, secs / 60 % 60, secs % 60, ticks % unit)
}

fn srt_time(seconds: f64, separator: char) -> String {
    let (h, m, s, ms) = clock(seconds, 1000);
    format!("{h:02}:{m:02}:{s:02}{separator}{ms:03}")
}

/// Cue text as sidecar lines: no blank line inside (it would end the cue), no '\r'.
fn sidecar_lines(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_end_matches('\r').trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn to_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, cue) in cues.iter().enumerate() {
        let (start, end) = (srt_time(cue.start, ','), srt_time(cue.end, ','));
        out.push_str(&format!(
            "{}\n{start} --> {end}\n{}\n\n",
            i + 1,
            sidecar_lines(&cue.text)
        ));
    }
    out
}

pub fn to_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues {
        // VTT cue text is markup: a literal '<' or "-->" would end or corrupt the cue.
        let text = sidecar_lines(&cue.text)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let (start, end) = (srt_time(cue.start, '.'), srt_time(cue.end, '.'));
        out.push_str(&format!("{start} --> {end}\n{text}\n\n"));
    }
    out
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssStyle {
    pub font: String,
    pub size_px: u32,
    /// "#RRGGBB".
    pub primary: String,
    pub outline_color: String,
    pub outline_px: u32,
    #[serde(default)]
    pub shadow_px: u32,
    /// "bottom", "top", "center" or "custom".
    pub position: String,
    /// With "custom": the text's vertical centre, percent of the height from the top.
    #[serde(default)]
    pub position_percent: f64,
    /// "none", "box" or "rounded".
    #[serde(default)]
    pub background: String,
    #[serde(default)]
    pub background_color: String,
    #[serde(default)]
    pub background_opacity: f64,
    #[serde(default)]
    pub bold: bool,
}

impl AssStyle {
    pub fn from_config(config: &SubtitleConfig, frame_height: u32) -> Self {
        let size_px = if config.size == 0 {
            (frame_height / 24).max(8)
        } else {
            config.size
        };
        AssStyle {
            font: config.font.clone(),
            size_px,
            primary: config.color.clone(),
            outline_color: config.outline_color.clone(),
            outline_px: config.outline,
            shadow_px: config.shadow,
            position: config.position.clone(),
            position_percent: config.position_percent,
            background: config.background.clone(),
            background_color: config.background_color.clone(),
            background_opacity: config.background_opacity,
            // A family is drawn bold; a font file as it is (`SubtitleStyle::resolve`).
            bold: config.font_file.trim().is_empty(),
        }
    }
}

/// "#RRGGBB" → ASS "&H00BBGGRR" (alpha first, 00 = opaque); `fallback` when malformed.
pub(super) fn ass_colour(hex: &str, fallback: &str) -> String {
    let digits = hex.trim().trim_start_matches('#');
    if digits.len() != 6 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return fallback.to_string();
    }
    let (r, g, b) = (&digits[0..2], &digits[2..4], &digits[4..6]);
    format!("&H00{b}{g}{r}").to_uppercase()
}

fn ass_time(seconds: f64) -> String {
    let (h, m, s, cs) = clock(seconds, 100);
    format!("{h}:{m:02}:{s:02}.{cs:02}")
}

/// Makes cue text literal for libass: braces would open override blocks (`\{` and `\}`
/// are libass's escapes), and a backslash before N, n or h would become a line break or
/// hard space, before `{` an escape: a word joiner (invisible, zero width) follows every
/// backslash, also one that ends the text and may meet an override tag put after it.
pub(super) fn escape_to_ass(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.trim().chars() {
        match c {
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '\\' => out.push_str("\\\u{2060}"),
            '\n' => out.push_str("\\N"),
            '\r' => {}
            other => out.push(other),
        }
    }
    out
}

/// The ASS script for `cues` on a `width`×`height` frame, text widths estimated (no font
/// is loaded); `SubtitleStyle::resolve(..).to_ass(..)` measures with the real font.
pub fn to_ass(cues: &[Cue], style: &AssStyle, width: u32, height: u32) -> String {
    SubtitleStyle::estimated(style.clone(), width, height, 80).to_ass(cues)
}

/// One `Dialogue:` line; `text` is already escaped (it may carry override tags).
pub(super) fn dialogue(layer: u32, start: f64, end: f64, text: &str) -> String {
    format!(
        "Dialogue: {layer},{},{},Default,,0,0,0,,{text}\n",
        ass_time(start),
        ass_time(end)
    )
}

/// `[Script Info]`, the Default style and the `[Events]` format line.
pub(super) fn header(style: &SubtitleStyle) -> String {
    let ass = &style.ass;
    let (alignment, margin_v) = match style.position() {
        Position::Top => (8, style.margin_v()),
        Position::Bottom => (2, style.margin_v()),
        Position::Center | Position::Custom(_) => (5, 0),
    };
    let margin_h = style.margin_h();
    let primary = ass_colour(&ass.primary, "&H00FFFFFF");
    // With BorderStyle 3 libass draws the box in the outline colour, the outline width
    // being its padding; the back colour is the shadow's.
    let (border_style, outline, border) = match style.background() {
        Background::Box => {
            let colour = ass_colour(&ass.background_color, "&H00000000");
            let colour = format!("&H{:02X}{}", alpha(ass.background_opacity), &colour[4..]);
            (3, colour, style.box_padding())
        }
        _ => (
            1,
            ass_colour(&ass.outline_color, "&H00000000"),
            ass.outline_px,
        ),
    };
    // Style fields may not contain commas: the line is comma-separated.
    let font = ass.font.replace(',', " ");
    let bold = if ass.bold { -1 } else { 0 };
    format!(
        "[Script Info]\n\
         ; Generated by reelforge\n\
         ScriptType: v4.00+\n\
         PlayResX: {width}\n\
         PlayResY: {height}\n\
         WrapStyle: 2\n\
         ScaledBorderAndShadow: yes\n\
         \n\
         [V4+ Styles]\n\
         Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, \
         BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, \
         BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n\
         Style: Default,{font},{size},{primary},&H000000FF,{outline},&H80000000,{bold},0,0,0,\
         100,100,0,0,{border_style},{border},{shadow},{alignment},{margin_h},{margin_h},\
         {margin_v},1\n\
         \n\
         [Events]\n\
         Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
        width = style.width,
        height = style.height,
        size = ass.size_px,
        shadow = ass.shadow_px,
    )
}

/// ASS alpha of an opacity: 00 is opaque, FF invisible.
pub(super) fn alpha(opacity: f64) -> u8 {
    let opacity = if opacity.is_finite() { opacity } else { 1.0 };
    ((1.0 - opacity.clamp(0.0, 1.0)) * 255.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_and_vtt_formats() {
        let cues = vec![
            Cue {
                start: 0.0,
                end: 1.5,
                text: "Hello\nworld".into(),
            },
            Cue {
                start: 3661.2345,
                end: 3662.0,
                text: "a <b> & c".into(),
            },
        ];
        assert_eq!(
            to_srt(&cues),
            "1\n00:00:00,000 --> 00:00:01,500\nHello\nworld\n\n\
             2\n01:01:01,235 --> 01:01:02,000\na <b> & c\n\n"
        );
        assert_eq!(
            to_vtt(&cues),
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello\nworld\n\n\
             01:01:01.235 --> 01:01:02.000\na &lt;b&gt; &amp; c\n\n"
        );
    }

    #[test]
    fn ass_script_has_style_events_and_escapes() {
        let config = SubtitleConfig {
            color: "#FFCC00".into(),
            position: "top".into(),
            ..Default::default()
        };
        let style = AssStyle::from_config(&config, 1920);
        assert_eq!(style.size_px, 80);
        let cues = vec![Cue {
            start: 1.005,
            end: 62.5,
            text: "One {x}\ntwo \\N".into(),
        }];
        let ass = to_ass(&cues, &style, 1080, 1920);
        assert!(
            ass.contains("PlayResX: 1080\nPlayResY: 1920\nWrapStyle: 2\n"),
            "{ass}"
        );
        assert!(ass.contains("ScaledBorderAndShadow: yes"));
        let style_line = ass
            .lines()
            .find(|l| l.starts_with("Style: Default,"))
            .unwrap();
        let fields: Vec<&str> = style_line.split(',').collect();
        assert_eq!(fields.len(), 23);
        assert_eq!(&fields[1..4], ["Noto Sans", "80", "&H0000CCFF"]);
        assert_eq!(fields[5], "&H00000000");
        assert_eq!(
            (fields[15], fields[16], fields[17], fields[18]),
            ("1", "3", "1", "8")
        );
        assert_eq!(fields[21], "153");
        let dialogue = ass.lines().find(|l| l.starts_with("Dialogue:")).unwrap();
        assert_eq!(
            dialogue,
            "Dialogue: 0,0:00:01.00,0:01:02.50,Default,,0,0,0,,One \\{x\\}\\Ntwo \\\u{2060}N"
        );
    }

    #[test]
    fn bad_colours_fall_back_and_positions_align() {
        let style = AssStyle {
            font: "Noto Sans".into(),
            size_px: 20,
            primary: "red".into(),
            outline_color: "#12".into(),
            outline_px: 1,
            shadow_px: 0,
            position: "center".into(),
            position_percent: 50.0,
            background: "none".into(),
            background_color: "#000000".into(),
            background_opacity: 0.5,
            bold: true,
        };
        let ass = to_ass(&[], &style, 300, 300);
        let style_line = ass.lines().find(|l| l.starts_with("Style:")).unwrap();
        let fields: Vec<&str> = style_line.split(',').collect();
        assert_eq!(
            (fields[3], fields[5], fields[18]),
            ("&H00FFFFFF", "&H00000000", "5")
        );
        let bottom = AssStyle {
            position: "bottom".into(),
            ..style
        };
        let ass = to_ass(&[], &bottom, 300, 300);
        assert!(ass.contains(",2,24,24,24,1\n"), "{ass}");
    }
}
