//! Dashboard colours: `themes/*.toml` (dark, light, high-contrast built in), chosen with
//! `[ui] theme` or `--theme` (a built-in name or a path to a TOML file).
//!
//! The built-in themes are the files in `themes/`, embedded at build time, so those files
//! are the single source of their colours. A user's file may set only the keys it wants to
//! change; the rest come from the dark theme.

use ratatui::style::Color;
use serde::Deserialize;
use std::path::Path;
use std::sync::OnceLock;

/// The names `Theme::builtin` knows, in the order help texts list them.
pub const BUILTIN_NAMES: [&str; 3] = ["dark", "light", "high-contrast"];
/// `BUILTIN_NAMES` as one phrase for error messages (a test keeps them in step).
const BUILTIN_LIST: &str = "dark, light, high-contrast";
const COLOUR_NAMES: &str = "black, red, green, yellow, blue, magenta, cyan, gray, white, \
     dark gray, light red, light green, light yellow, light blue, light magenta, light cyan, reset";

const DARK_TOML: &str = include_str!("../../themes/dark.toml");
const LIGHT_TOML: &str = include_str!("../../themes/light.toml");
const HIGH_CONTRAST_TOML: &str = include_str!("../../themes/high-contrast.toml");

#[derive(Clone, Debug, PartialEq)]
pub struct StatusColors {
    pub pending: Color,
    pub queued: Color,
    pub running: Color,
    pub done: Color,
    pub failed: Color,
    pub cancelled: Color,
    pub skipped: Color,
    pub bottleneck: Color,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub name: String,
    pub background: Color,
    pub foreground: Color,
    pub muted: Color,
    pub accent: Color,
    pub border: Color,
    pub selection_bg: Color,
    /// The filled part of download gauges.
    pub gauge: Color,
    /// CPU, memory, GPU and throughput sparklines.
    pub sparkline: Color,
    pub status: StatusColors,
}

/// Why a theme could not be loaded; every message lists the built-in names.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error(
        "unknown theme '{spec}': use a built-in theme ({BUILTIN_LIST}) or the path of a .toml file"
    )]
    Unknown { spec: String },
    #[error("cannot read theme file {file}: {reason}\n  built-in themes: {BUILTIN_LIST}")]
    Read { file: String, reason: String },
    #[error("theme file {file}: {message}\n  built-in themes: {BUILTIN_LIST}")]
    Syntax { file: String, message: String },
    #[error(
        "theme file {file}: `{key}` = \"{value}\" is not a colour: use \"#RRGGBB\" or one of \
         {COLOUR_NAMES}\n  built-in themes: {BUILTIN_LIST}"
    )]
    Colour {
        file: String,
        key: String,
        value: String,
    },
    #[error("theme file {file}: `{key}` is missing\n  built-in themes: {BUILTIN_LIST}")]
    Missing { file: String, key: String },
}

/// The file as written: every key optional so a user's file can override a few.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    background: Option<String>,
    foreground: Option<String>,
    muted: Option<String>,
    accent: Option<String>,
    border: Option<String>,
    selection_bg: Option<String>,
    gauge: Option<String>,
    sparkline: Option<String>,
    #[serde(default)]
    status: StatusFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusFile {
    pending: Option<String>,
    queued: Option<String>,
    running: Option<String>,
    done: Option<String>,
    failed: Option<String>,
    cancelled: Option<String>,
    skipped: Option<String>,
    bottleneck: Option<String>,
}

impl Theme {
    /// The default dark theme, also used when a theme file cannot be read.
    pub fn dark() -> Theme {
        // Parsed once: it is the fallback and the base of every user file.
        static DARK: OnceLock<Theme> = OnceLock::new();
        DARK.get_or_init(|| {
            parse(DARK_TOML, "themes/dark.toml", None)
                .expect("themes/dark.toml is embedded at build time and a unit test parses it")
        })
        .clone()
    }

    /// A theme shipped with reelforge, by name (`BUILTIN_NAMES`).
    pub fn builtin(name: &str) -> Option<Theme> {
        let (text, file) = match name.trim().to_ascii_lowercase().as_str() {
            "dark" => (DARK_TOML, "themes/dark.toml"),
            "light" => (LIGHT_TOML, "themes/light.toml"),
            "high-contrast" | "high_contrast" | "highcontrast" => {
                (HIGH_CONTRAST_TOML, "themes/high-contrast.toml")
            }
            _ => return None,
        };
        Some(parse(text, file, None).expect("the built-in theme files are checked by unit tests"))
    }

    /// `spec` is a built-in name or the path of a `.toml` theme file.
    pub fn load(spec: &str) -> Result<Theme, ThemeError> {
        if let Some(theme) = Theme::builtin(spec) {
            return Ok(theme);
        }
        let path = Path::new(spec.trim());
        let looks_like_path = spec.contains(std::path::MAIN_SEPARATOR)
            || spec.contains('/')
            || path.extension().is_some_and(|e| e == "toml")
            || path.is_file();
        if !looks_like_path {
            return Err(ThemeError::Unknown { spec: spec.into() });
        }
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ThemeError::Read {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        parse(&text, &file, Some(&Theme::dark()))
    }
}

/// Parses a theme file; keys it leaves out come from `base`, or are errors without one.
fn parse(text: &str, file: &str, base: Option<&Theme>) -> Result<Theme, ThemeError> {
    let raw: ThemeFile = toml::from_str(text).map_err(|e| ThemeError::Syntax {
        file: file.into(),
        message: e.message().trim().to_string(),
    })?;
    let colour = |key: &str, value: &Option<String>, fallback: Option<Color>| match value {
        Some(v) => parse_colour(v).ok_or_else(|| ThemeError::Colour {
            file: file.into(),
            key: key.into(),
            value: v.clone(),
        }),
        None => fallback.ok_or_else(|| ThemeError::Missing {
            file: file.into(),
            key: key.into(),
        }),
    };
    let s = &raw.status;
    let bs = base.map(|b| &b.status);
    Ok(Theme {
        name: match (&raw.name, base) {
            (Some(name), _) => name.clone(),
            // A user's file without a name is named after itself, not after its base.
            (None, Some(_)) => Path::new(file)
                .file_stem()
                .map_or_else(|| file.to_string(), |s| s.to_string_lossy().into_owned()),
            (None, None) => {
                return Err(ThemeError::Missing {
                    file: file.into(),
                    key: "name".into(),
                });
            }
        },
        background: colour("background", &raw.background, base.map(|b| b.background))?,
        foreground: colour("foreground", &raw.foreground, base.map(|b| b.foreground))?,
        muted: colour("muted", &raw.muted, base.map(|b| b.muted))?,
        accent: colour("accent", &raw.accent, base.map(|b| b.accent))?,
        border: colour("border", &raw.border, base.map(|b| b.border))?,
        selection_bg: colour(
            "selection_bg",
            &raw.selection_bg,
            base.map(|b| b.selection_bg),
        )?,
        gauge: colour("gauge", &raw.gauge, base.map(|b| b.gauge))?,
        sparkline: colour("sparkline", &raw.sparkline, base.map(|b| b.sparkline))?,
        status: StatusColors {
            pending: colour("status.pending", &s.pending, bs.map(|b| b.pending))?,
            queued: colour("status.queued", &s.queued, bs.map(|b| b.queued))?,
            running: colour("status.running", &s.running, bs.map(|b| b.running))?,
            done: colour("status.done", &s.done, bs.map(|b| b.done))?,
            failed: colour("status.failed", &s.failed, bs.map(|b| b.failed))?,
            cancelled: colour("status.cancelled", &s.cancelled, bs.map(|b| b.cancelled))?,
            skipped: colour("status.skipped", &s.skipped, bs.map(|b| b.skipped))?,
            bottleneck: colour("status.bottleneck", &s.bottleneck, bs.map(|b| b.bottleneck))?,
        },
    })
}

/// "#RRGGBB" or a terminal colour name; spaces, `-` and `_` in names are ignored.
pub fn parse_colour(text: &str) -> Option<Color> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix('#') {
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        return Some(Color::Rgb(byte(0)?, byte(2)?, byte(4)?));
    }
    let name: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Some(match name.as_str() {
        "reset" | "default" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "darkgray" | "darkgrey" => Color::DarkGray,
        "lightred" => Color::LightRed,
        "lightgreen" => Color::LightGreen,
        "lightyellow" => Color::LightYellow,
        "lightblue" => Color::LightBlue,
        "lightmagenta" => Color::LightMagenta,
        "lightcyan" => Color::LightCyan,
        "white" => Color::White,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_file_sets_every_key_and_parses() {
        for (text, file) in [
            (DARK_TOML, "dark"),
            (LIGHT_TOML, "light"),
            (HIGH_CONTRAST_TOML, "high-contrast"),
        ] {
            let theme = parse(text, file, None).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(theme.name, file);
            assert_eq!(Theme::builtin(file), Some(theme));
        }
        assert_eq!(BUILTIN_NAMES.join(", "), BUILTIN_LIST);
        assert!(Theme::builtin("solarized").is_none());
    }

    #[test]
    fn dark_keeps_its_colours_and_high_contrast_is_black_and_white() {
        let dark = Theme::dark();
        assert_eq!(dark.background, Color::Rgb(0x10, 0x14, 0x18));
        assert_eq!(dark.status.failed, Color::Rgb(0xf0, 0x71, 0x78));
        let hc = Theme::builtin("high-contrast").unwrap();
        assert_eq!(hc.background, Color::Rgb(0, 0, 0));
        assert_eq!(hc.foreground, Color::Rgb(0xff, 0xff, 0xff));
        assert_ne!(Theme::builtin("light").unwrap().background, dark.background);
    }

    #[test]
    fn colours_are_hex_or_terminal_names() {
        assert_eq!(parse_colour("#FF8000"), Some(Color::Rgb(255, 128, 0)));
        assert_eq!(parse_colour("dark gray"), Some(Color::DarkGray));
        assert_eq!(parse_colour("Light-Red"), Some(Color::LightRed));
        assert_eq!(parse_colour("grey"), Some(Color::Gray));
        assert_eq!(parse_colour("reset"), Some(Color::Reset));
        for bad in ["#12345", "#12345g", "ff8000", "orange", ""] {
            assert_eq!(parse_colour(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_user_file_overrides_some_keys_and_inherits_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(
            &path,
            "accent = \"magenta\"\n[status]\ndone = \"#00ff00\"\n",
        )
        .unwrap();
        let theme = Theme::load(path.to_str().unwrap()).unwrap();
        assert_eq!(theme.name, "mine");
        assert_eq!(theme.accent, Color::Magenta);
        assert_eq!(theme.status.done, Color::Rgb(0, 255, 0));
        assert_eq!(theme.background, Theme::dark().background);
        assert_eq!(Theme::load("light").unwrap().name, "light");
    }

    #[test]
    fn a_bad_colour_names_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[status]\nfailed = \"#ff00\"\n").unwrap();
        let err = Theme::load(path.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, ThemeError::Colour { ref key, .. } if key == "status.failed"));
        let text = err.to_string();
        assert!(text.contains("bad.toml"), "{text}");
        assert!(text.contains("`status.failed` = \"#ff00\""), "{text}");
        assert!(text.contains("dark, light, high-contrast"), "{text}");
    }

    #[test]
    fn unknown_keys_names_and_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typo.toml");
        std::fs::write(&path, "accnet = \"red\"\n").unwrap();
        let text = Theme::load(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(
            text.contains("typo.toml") && text.contains("accnet"),
            "{text}"
        );

        let text = Theme::load("solarized").unwrap_err().to_string();
        assert!(
            text.contains("'solarized'") && text.contains("high-contrast"),
            "{text}"
        );

        let missing = dir.path().join("absent.toml");
        let text = Theme::load(missing.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("absent.toml") && text.contains("dark, light"),
            "{text}"
        );

        let err = parse("name = \"x\"\n", "partial.toml", None).unwrap_err();
        assert!(err.to_string().contains("`background` is missing"), "{err}");
    }
}
