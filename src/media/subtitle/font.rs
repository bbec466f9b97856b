//! Fonts for burned subtitles: a `font_file`, or a family looked up with fontconfig
//! (`fc-match`), loaded with ttf-parser to measure text the way libass will draw it and to
//! check that the script's characters have glyphs (`fc-list :charset=…` suggests a font
//! that has the missing ones).

use std::path::{Path, PathBuf};
use std::process::Command;
use ttf_parser::{Face, name_id};

#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("subtitles.font_file = \"{}\": {message}", path.display())]
    FontFile { path: PathBuf, message: String },
}

/// A font file in memory, measured at libass's scale.
pub struct LoadedFont {
    /// The family name libass is told to use (name ID 1, which is what libass matches).
    pub family: String,
    pub path: PathBuf,
    /// The face inside a collection (.ttc).
    pub index: u32,
    data: Vec<u8>,
    /// libass sizes a face so that its Windows ascent + descent (else hhea ascender −
    /// descender) equal the ASS font size: this many font units per pixel of size.
    units_per_size: f64,
}

impl std::fmt::Debug for LoadedFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedFont")
            .field("family", &self.family)
            .field("path", &self.path)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl LoadedFont {
    /// Reads and parses face `index` of `path`.
    pub fn load(path: &Path, index: u32) -> Result<Self, String> {
        let data = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
        let face =
            Face::parse(&data, index).map_err(|e| format!("not a TrueType/OpenType font ({e})"))?;
        let family = family_name(&face).ok_or("the font has no family name")?;
        let win = face.tables().os2.map_or(0, |os2| {
            i32::from(os2.windows_ascender()) - i32::from(os2.windows_descender())
        });
        let hhea = i32::from(face.ascender()) - i32::from(face.descender());
        let height = if win > 0 { win } else { hhea };
        let units_per_size = if height > 0 {
            f64::from(height)
        } else {
            f64::from(face.units_per_em())
        };
        Ok(LoadedFont {
            family,
            path: path.to_path_buf(),
            index,
            data,
            units_per_size,
        })
    }

    fn face(&self) -> Option<Face<'_>> {
        Face::parse(&self.data, self.index).ok()
    }

    /// Width in pixels of `text` drawn at `size` (the ASS font size); characters without
    /// a glyph are estimated, as libass draws them with some fallback font.
    pub fn width(&self, text: &str, size: f64) -> f64 {
        let Some(face) = self.face() else {
            return estimated_width(text, size);
        };
        let scale = size / self.units_per_size;
        text.chars()
            .map(|c| {
                if is_invisible(c) {
                    return 0.0;
                }
                let c = if c.is_whitespace() { ' ' } else { c };
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .map_or_else(|| estimated_char(c, size), |a| f64::from(a) * scale)
            })
            .sum()
    }

    /// The characters of `text` (each once, in order) that have no glyph in this font,
    /// leaving out spaces, invisible characters and ASCII punctuation.
    pub fn missing(&self, text: &str) -> Vec<char> {
        let Some(face) = self.face() else {
            return Vec::new();
        };
        let mut missing: Vec<char> = Vec::new();
        for c in text.chars() {
            if c.is_whitespace() || is_invisible(c) || c.is_ascii_punctuation() {
                continue;
            }
            if face.glyph_index(c).is_none() && !missing.contains(&c) {
                missing.push(c);
            }
        }
        missing
    }
}

/// Control and format characters (zero-width joiners, BOM…) draw nothing.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c as u32, 0xAD | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0xFEFF)
}

/// A guess at a character's advance when no font tells: CJK full width, others narrower.
pub(super) fn estimated_char(c: char, size: f64) -> f64 {
    if is_invisible(c) {
        0.0
    } else if c.is_whitespace() {
        0.25 * size
    } else if super::wrap::is_wide(c) {
        0.7 * size
    } else {
        0.45 * size
    }
}

pub(super) fn estimated_width(text: &str, size: f64) -> f64 {
    text.chars().map(|c| estimated_char(c, size)).sum()
}

/// Name ID 1 (the family libass matches), English Windows name first.
fn family_name(face: &Face<'_>) -> Option<String> {
    let names: Vec<_> = face.names().into_iter().collect();
    let pick = |id: u16, english: bool| {
        names
            .iter()
            .filter(|n| n.name_id == id && n.is_unicode())
            .filter(|n| !english || n.language_id == 0x409)
            .find_map(|n| n.to_string())
            .filter(|s| !s.trim().is_empty())
    };
    pick(name_id::FAMILY, true)
        .or_else(|| pick(name_id::FAMILY, false))
        .or_else(|| pick(name_id::TYPOGRAPHIC_FAMILY, false))
        .map(|s| s.trim().to_string())
}

/// Loads `subtitles.font_file`; any problem is an error naming the key and the file.
pub fn load_font_file(path: &Path) -> Result<LoadedFont, FontError> {
    let error = |message: String| FontError::FontFile {
        path: path.to_path_buf(),
        message,
    };
    if !path.is_file() {
        return Err(error("no such file".into()));
    }
    let absolute = std::fs::canonicalize(path).map_err(|e| error(e.to_string()))?;
    LoadedFont::load(&absolute, 0).map_err(error)
}

/// A family as fontconfig resolves it: the font libass will use (bold when `bold`), and
/// a note when the family is not installed and fontconfig substituted another.
pub fn match_family(family: &str, bold: bool) -> Result<(LoadedFont, Option<String>), String> {
    let pattern = format!("{}{}", family.trim(), if bold { ":bold" } else { "" });
    let output = Command::new("fc-match")
        .args(["-f", "%{file}\t%{index}\t%{family}\n", &pattern])
        .output()
        .map_err(|e| format!("cannot run fc-match (fontconfig): {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut fields = stdout.lines().next().unwrap_or_default().split('\t');
    let (file, index, families) = (
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
    );
    if !output.status.success() || file.is_empty() {
        return Err(format!("fc-match found no font for '{family}'"));
    }
    let index = index.parse().unwrap_or(0);
    let mut font = LoadedFont::load(Path::new(file), index)
        .map_err(|e| format!("fontconfig's font for '{family}', {file}: {e}"))?;
    // libass asks fontconfig too: its name for the face is the one that finds it again.
    if let Some(first) = families.split(',').map(str::trim).find(|f| !f.is_empty()) {
        font.family = first.to_string();
    }
    let wanted = family.trim().to_lowercase();
    let found = families
        .split(',')
        .any(|f| f.trim().to_lowercase() == wanted)
        || font.family.to_lowercase() == wanted;
    let note = (!found).then(|| {
        format!(
            "subtitles.font = \"{family}\" is not installed: fontconfig substitutes '{}' \
             (`fc-list : family` lists the installed fonts)",
            font.family
        )
    });
    Ok((font, note))
}

/// An installed family with glyphs for all of `chars`, chosen to resemble `like` (sans or
/// serif, shared words) and the script (SC for Han, JP with kana, KR with Hangul).
pub fn suggest_font(chars: &[char], like: &str) -> Option<String> {
    if chars.is_empty() {
        return None;
    }
    let charset: Vec<String> = chars
        .iter()
        .take(24)
        .map(|c| format!("{:x}", *c as u32))
        .collect();
    let output = Command::new("fc-list")
        .args(["-f", "%{family[0]}\n"])
        .arg(format!(":charset={}", charset.join(" ")))
        .output()
        .ok()?;
    let listed = String::from_utf8_lossy(&output.stdout);
    let mut families: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    families.sort_unstable();
    families.dedup();
    let tag = if chars
        .iter()
        .any(|&c| matches!(c as u32, 0x3040..=0x30FF | 0x31F0..=0x31FF))
    {
        Some("JP")
    } else if chars
        .iter()
        .any(|&c| matches!(c as u32, 0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7A3))
    {
        Some("KR")
    } else if chars.iter().any(|&c| matches!(c as u32, 0x3400..=0x9FFF)) {
        Some("SC")
    } else {
        None
    };
    let like_lower = like.to_lowercase();
    let like_words: Vec<&str> = like_lower.split_whitespace().collect();
    let score = |family: &str| -> i32 {
        let lower = family.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let mut score = 0;
        if tag.is_some_and(|t| family.split_whitespace().any(|w| w == t)) {
            score += 4;
        }
        if lower.contains("mono") && !like_lower.contains("mono") {
            score -= 3;
        }
        if lower.contains("serif") == like_lower.contains("serif") {
            score += 2;
        }
        score + like_words.iter().filter(|w| words.contains(w)).count() as i32
    };
    // The highest score; on a tie the first alphabetically.
    families
        .into_iter()
        .rev()
        .max_by_key(|f| score(f))
        .map(str::to_string)
}

/// The warning for characters `font` cannot draw, with a font that can, if one is installed.
pub fn coverage_warning(font: &LoadedFont, text: &str) -> Option<String> {
    let missing = font.missing(text);
    if missing.is_empty() {
        return None;
    }
    let shown: Vec<String> = missing.iter().take(5).map(char::to_string).collect();
    let more = match missing.len().saturating_sub(5) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let advice = match suggest_font(&missing, &font.family) {
        Some(family) => format!("use font = \"{family}\""),
        None => "no installed font has them; install one (e.g. Noto CJK) and set `font`".into(),
    };
    Some(format!(
        "font '{}' has no glyphs for {}{more}: libass will substitute another font; {advice}",
        font.family,
        shown.join(", ")
    ))
}
