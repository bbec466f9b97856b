//! The burned-in look: the resolved font (with the folder libass must be given for a
//! `font_file`), size, colours, outline, shadow, where the text sits (bottom, top, center or
//! a custom height) and what is behind it (nothing, libass's opaque box, or a translucent
//! rounded box drawn as an ASS vector shape on a layer below the text).

use super::font::{LoadedFont, coverage_warning, estimated_width, load_font_file, match_family};
use super::format::{AssStyle, alpha, ass_colour, dialogue, escape_to_ass};
use super::highlight::TimedWord;
use super::wrap::Wrapper;
use super::{Cue, FontError};
use crate::config::SubtitleConfig;
use crate::providers::tts::SpokenSentence;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Position {
    Bottom,
    Top,
    Center,
    /// The text's vertical centre, percent of the height from the top.
    Custom(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Background {
    None,
    /// libass's opaque box (BorderStyle 3) behind each line, in the background colour.
    Box,
    /// One translucent rounded rectangle behind the whole cue.
    Rounded,
}

/// Everything needed to wrap, position and draw subtitles on a `width`×`height` frame.
#[derive(Clone, Debug)]
pub struct SubtitleStyle {
    pub ass: AssStyle,
    pub width: u32,
    pub height: u32,
    /// Upper bound on a line's length in columns (a CJK character counts two).
    pub max_line_chars: usize,
    font: Option<Arc<LoadedFont>>,
    fonts_dir: Option<PathBuf>,
    notes: Vec<String>,
}

/// The folder to pass to the `ass` filter as `fontsdir` so libass finds `font_file`
/// (None when the font comes from fontconfig). Cheap: the file is not read.
pub fn fonts_dir(config: &SubtitleConfig) -> Option<PathBuf> {
    let file = config.font_file.trim();
    if file.is_empty() {
        return None;
    }
    let absolute = std::fs::canonicalize(file).ok()?;
    absolute.parent().map(Path::to_path_buf)
}

impl SubtitleStyle {
    /// The style of `config`, with its font found and loaded for measuring. A `font_file`
    /// that is missing or not a font is an error; a family that fontconfig cannot find (or
    /// no fontconfig) is a note (`notes`), libass substituting a font as fontconfig does.
    pub fn resolve(config: &SubtitleConfig, width: u32, height: u32) -> Result<Self, FontError> {
        let ass = AssStyle::from_config(config, height);
        let mut style = Self::estimated(ass, width, height, config.max_line_chars as usize);
        if !config.font_file.trim().is_empty() {
            let font = load_font_file(Path::new(config.font_file.trim()))?;
            style.ass.font = font.family.clone();
            // The file's own face, exactly: no synthetic bold.
            style.ass.bold = false;
            style.fonts_dir = font.path.parent().map(Path::to_path_buf);
            style.font = Some(Arc::new(font));
            return Ok(style);
        }
        match match_family(&config.font, style.ass.bold) {
            Ok((font, note)) => {
                style.notes.extend(note);
                style.ass.font = font.family.clone();
                style.font = Some(Arc::new(font));
            }
            Err(why) => style.notes.push(format!(
                "{why}; subtitle line widths are estimated without the font"
            )),
        }
        Ok(style)
    }

    /// A style that measures text by estimate (no font loaded, nothing run).
    pub fn estimated(ass: AssStyle, width: u32, height: u32, max_line_chars: usize) -> Self {
        SubtitleStyle {
            ass,
            width,
            height,
            max_line_chars,
            font: None,
            fonts_dir: None,
            notes: Vec::new(),
        }
    }

    /// The folder holding `font_file`, to pass to the `ass` filter as `fontsdir`.
    pub fn fonts_dir(&self) -> Option<PathBuf> {
        self.fonts_dir.clone()
    }

    pub fn font(&self) -> Option<&LoadedFont> {
        self.font.as_deref()
    }

    /// Things the user should know about the font (substituted family, no fontconfig).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// A warning naming characters of `text` the font has no glyphs for, and an installed
    /// font that has them. Runs `fc-list`.
    pub fn coverage_warning(&self, text: &str) -> Option<String> {
        coverage_warning(self.font.as_deref()?, text)
    }

    pub fn position(&self) -> Position {
        match self.ass.position.as_str() {
            "top" => Position::Top,
            "center" => Position::Center,
            "custom" => Position::Custom(self.ass.position_percent.clamp(0.0, 100.0)),
            _ => Position::Bottom,
        }
    }

    pub fn background(&self) -> Background {
        match self.ass.background.as_str() {
            "box" => Background::Box,
            "rounded" => Background::Rounded,
            _ => Background::None,
        }
    }

    fn size(&self) -> f64 {
        f64::from(self.ass.size_px.max(1))
    }

    /// Width of `text` on one line, in frame pixels.
    pub fn text_width(&self, text: &str) -> f64 {
        match &self.font {
            Some(font) => font.width(text, self.size()),
            None => estimated_width(text, self.size()),
        }
    }

    pub(super) fn margin_h(&self) -> u32 {
        self.width * 8 / 100
    }

    pub(super) fn margin_v(&self) -> u32 {
        self.height * 8 / 100
    }

    /// libass's box padding (its outline width with BorderStyle 3).
    pub(super) fn box_padding(&self) -> u32 {
        self.ass.outline_px.max((self.size() * 0.25).round() as u32)
    }

    /// The rounded box's padding around the text, (horizontal, vertical).
    fn rounded_padding(&self) -> (f64, f64) {
        (
            0.35 * self.size() + f64::from(self.ass.outline_px),
            0.12 * self.size(),
        )
    }

    /// How wide a line may be: the frame less the side margins and what surrounds the text.
    pub fn wrap_width(&self) -> f64 {
        let around = match self.background() {
            Background::Box => f64::from(self.box_padding()),
            Background::Rounded => self.rounded_padding().0,
            Background::None => f64::from(self.ass.outline_px),
        };
        let usable = f64::from(self.width - 2 * self.margin_h()) - 2.0 * around;
        usable.max(self.size())
    }

    /// Cues for the sentences, at most two lines each, wrapped by rendered width.
    /// `words[i]`, when given, are sentence i's words with times: long sentences are then
    /// split where a word starts.
    pub fn cues(&self, sentences: &[SpokenSentence], words: Option<&[Vec<TimedWord>]>) -> Vec<Cue> {
        let measure = |text: &str| self.text_width(text);
        let wrapper = Wrapper {
            measure: &measure,
            max_px: self.wrap_width(),
            max_cols: self.max_line_chars.max(2),
        };
        sentences
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                let timed = words.and_then(|w| w.get(i)).map(Vec::as_slice);
                wrapper.sentence_cues(&s.text, s.start, s.end, timed)
            })
            .collect()
    }

    /// The text's block for `text` (lines separated by '\n'): widest line and height.
    fn block(&self, text: &str) -> (f64, f64) {
        let lines: Vec<&str> = text.trim().lines().collect();
        let widest = lines.iter().map(|l| self.text_width(l)).fold(0.0, f64::max);
        (widest, lines.len().max(1) as f64 * self.size())
    }

    /// Where the centre of the cue's text block goes, in frame pixels.
    fn centre(&self, text: &str) -> (f64, f64) {
        let (_, h) = self.block(text);
        let (height, mv) = (f64::from(self.height), f64::from(self.margin_v()));
        let y = match self.position() {
            Position::Bottom => height - mv - h / 2.0,
            Position::Top => mv + h / 2.0,
            Position::Center => height / 2.0,
            Position::Custom(percent) => height * percent / 100.0,
        };
        let half = (h / 2.0).min(height / 2.0);
        (f64::from(self.width) / 2.0, y.clamp(half, height - half))
    }

    /// Override tags that start every text event of a cue: an explicit position for a
    /// custom height and under a rounded box (so text and box share one centre).
    pub(super) fn prefix(&self, text: &str) -> String {
        let custom = matches!(self.position(), Position::Custom(_));
        if !custom && self.background() != Background::Rounded {
            return String::new();
        }
        let (x, y) = self.centre(text);
        format!("{{\\an5\\pos({x:.0},{y:.0})}}")
    }

    /// The layer text events go on (above the rounded box).
    pub(super) fn text_layer(&self) -> u32 {
        u32::from(self.background() == Background::Rounded)
    }

    /// With a rounded background: the box behind the cue, a vector drawing on layer 0.
    pub(super) fn background_event(&self, start: f64, end: f64, text: &str) -> Option<String> {
        if self.background() != Background::Rounded {
            return None;
        }
        let (w, h) = self.block(text);
        let (pad_x, pad_y) = self.rounded_padding();
        let (w, h) = ((w + 2.0 * pad_x).round(), (h + 2.0 * pad_y).round());
        let r = (0.3 * self.size()).min(h / 2.0).min(w / 2.0).round();
        let k = (0.552 * r).round();
        let (x, y) = self.centre(text);
        let colour = ass_colour(&self.ass.background_color, "&H00000000");
        // Corners are cubic béziers; the shape starts at (0,0) so its box is its extent.
        let shape = format!(
            "m {r} 0 l {a} 0 b {b} 0 {w} {c} {w} {r} l {w} {d} b {w} {e} {b} {h} {a} {h} \
             l {r} {h} b {c} {h} 0 {e} 0 {d} l 0 {r} b 0 {c} {c} 0 {r} 0",
            a = w - r,
            b = w - r + k,
            c = r - k,
            d = h - r,
            e = h - r + k,
        );
        let tags = format!(
            "{{\\an5\\pos({x:.0},{y:.0})\\bord0\\shad0\\blur0\\1c&H{bgr}&\\1a&H{alpha:02X}&\\p1}}",
            bgr = &colour[4..],
            alpha = alpha(self.ass.background_opacity),
        );
        Some(dialogue(0, start, end, &format!("{tags}{shape}{{\\p0}}")))
    }

    /// The whole ASS script: the header, then each cue (its box first, if rounded).
    pub fn to_ass(&self, cues: &[Cue]) -> String {
        let mut out = self.header();
        for cue in cues {
            out.extend(self.background_event(cue.start, cue.end, &cue.text));
            let text = format!("{}{}", self.prefix(&cue.text), escape_to_ass(&cue.text));
            out.push_str(&dialogue(self.text_layer(), cue.start, cue.end, &text));
        }
        out
    }

    /// Like `to_ass`, the word being spoken drawn in `highlight` ("#RRGGBB").
    pub fn to_ass_highlighted(&self, cues: &[Cue], words: &[TimedWord], highlight: &str) -> String {
        super::highlight::write(self, cues, words, highlight)
    }

    /// `[Script Info]`, the Default style and the `[Events]` format line.
    pub fn header(&self) -> String {
        super::format::header(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimated(f: impl FnOnce(&mut SubtitleConfig)) -> SubtitleStyle {
        let mut config = SubtitleConfig::default();
        f(&mut config);
        SubtitleStyle::estimated(AssStyle::from_config(&config, 1000), 600, 1000, 28)
    }

    fn style_fields(ass: &str) -> Vec<String> {
        let line = ass.lines().find(|l| l.starts_with("Style:"));
        line.unwrap_or_default()
            .split(',')
            .map(String::from)
            .collect()
    }

    #[test]
    fn box_is_libass_border_style_3_in_the_translucent_background_colour() {
        let style = estimated(|c| {
            c.background = "box".into();
            c.background_color = "#102030".into();
            c.background_opacity = 0.75;
            c.shadow = 2;
        });
        let fields = style_fields(&style.header());
        assert_eq!(fields[5], "&H40302010");
        assert_eq!((fields[15].as_str(), fields[17].as_str()), ("3", "2"));
        assert_eq!(fields[16], style.box_padding().to_string());
        assert_eq!((alpha(0.0), alpha(1.0), alpha(f64::NAN)), (255, 0, 0));
        assert!(style.wrap_width() < estimated(|_| {}).wrap_width());
    }

    #[test]
    fn rounded_box_is_a_drawing_below_the_text_at_the_same_centre() {
        let style = estimated(|c| {
            c.background = "rounded".into();
            c.position = "top".into();
        });
        let ass = style.to_ass(&[Cue {
            start: 0.0,
            end: 1.0,
            text: "One\ntwo".into(),
        }]);
        let events: Vec<&str> = ass.lines().filter(|l| l.starts_with("Dialogue:")).collect();
        assert_eq!(events.len(), 2, "{ass}");
        // 8 % margin (80) + two lines of 41 px: centre 121.
        assert!(events[0].starts_with("Dialogue: 0,"), "{}", events[0]);
        assert!(
            events[0]
                .contains("{\\an5\\pos(300,121)\\bord0\\shad0\\blur0\\1c&H000000&\\1a&H80&\\p1}m ")
        );
        assert!(events[0].ends_with("{\\p0}"));
        assert!(
            events[1].ends_with(",,{\\an5\\pos(300,121)}One\\Ntwo"),
            "{}",
            events[1]
        );
        assert_eq!(style_fields(&ass)[15], "1");
    }

    #[test]
    fn custom_position_centres_the_text_and_stays_inside_the_frame() {
        let at = |percent: f64| {
            let style = estimated(|c| {
                c.position = "custom".into();
                c.position_percent = percent;
            });
            assert_eq!(style_fields(&style.header())[18], "5");
            style.prefix("a\nb")
        };
        assert_eq!(at(50.0), "{\\an5\\pos(300,500)}");
        assert_eq!(at(0.0), "{\\an5\\pos(300,41)}");
        assert_eq!(at(100.0), "{\\an5\\pos(300,959)}");
        // Bottom, top and center use the style's alignment: no tags.
        assert_eq!(estimated(|_| {}).prefix("a"), "");
    }
}
