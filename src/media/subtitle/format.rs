//! Writing cues out: SRT and WebVTT sidecars, and the ASS script burned into the video (one
//! Default style from the subtitle config, the frame size as the script resolution, cue text
//! escaped so libass shows it literally).

use super::Cue;
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

pub fn to_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, cue) in cues.iter().enumerate() {
        let (start, end) = (srt_time(cue.start, ','), srt_time(cue.end, ','));
        out.push_str(&format!(
            "{}\n{start} --> {end}\n{}\n\n",
            i + 1,
            cue.text.trim()
        ));
    }
    out
}

pub fn to_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues {
        // VTT cue text is markup: a literal '<' or "-->" would end or corrupt the cue.
        let text = cue
            .text
            .trim()
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
    /// "bottom", "top" or "center".
    pub position: String,
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
            position: config.position.clone(),
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

/// Makes cue text literal for libass: braces would open override blocks, and a backslash
/// before N, n or h would become a line break or hard space, so a word joiner (invisible)
/// is slipped in after such a backslash.
pub(super) fn ass_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '\\' => {
                out.push('\\');
                if chars.peek().is_some_and(|n| "Nnh{}".contains(*n)) {
                    out.push('\u{2060}');
                }
            }
            '\n' => out.push_str("\\N"),
            '\r' => {}
            other => out.push(other),
        }
    }
    out
}

pub fn to_ass(cues: &[Cue], style: &AssStyle, width: u32, height: u32) -> String {
    let mut out = ass_header(style, width, height);
    for cue in cues {
        out.push_str(&dialogue(cue.start, cue.end, &ass_escape(&cue.text)));
    }
    out
}

/// One `Dialogue:` line; `text` is already escaped (it may carry override tags).
pub(super) fn dialogue(start: f64, end: f64, text: &str) -> String {
    format!(
        "Dialogue: 0,{},{},Default,,0,0,0,,{text}\n",
        ass_time(start),
        ass_time(end)
    )
}

pub(super) fn ass_header(style: &AssStyle, width: u32, height: u32) -> String {
    let (alignment, margin_v) = match style.position.as_str() {
        "top" => (8, height * 8 / 100),
        "center" => (5, 0),
        _ => (2, height * 8 / 100),
    };
    let margin_h = width * 4 / 100;
    let primary = ass_colour(&style.primary, "&H00FFFFFF");
    let outline = ass_colour(&style.outline_color, "&H00000000");
    // Style fields may not contain commas: the line is comma-separated.
    let font = style.font.replace(',', " ");
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
         Style: Default,{font},{size},{primary},&H000000FF,{outline},&H80000000,-1,0,0,0,\
         100,100,0,0,1,{border},0,{alignment},{margin_h},{margin_h},{margin_v},1\n\
         \n\
         [Events]\n\
         Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
        size = style.size_px,
        border = style.outline_px,
    )
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
            ("1", "3", "0", "8")
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
            position: "center".into(),
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
        assert!(ass.contains(",2,12,12,24,1\n"), "{ass}");
    }
}
