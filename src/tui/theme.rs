//! Dashboard colours: `themes/*.toml` (dark, light, high-contrast built in), chosen with
//! `[ui] theme` or `--theme` (a built-in name or a path to a TOML file).

use ratatui::style::Color;

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
    pub status: StatusColors,
}

impl Theme {
    /// The default dark theme, also used when a theme file cannot be read.
    pub fn dark() -> Theme {
        Theme {
            name: "dark".into(),
            background: Color::Rgb(0x10, 0x14, 0x18),
            foreground: Color::Rgb(0xd8, 0xde, 0xe9),
            muted: Color::Rgb(0x6b, 0x72, 0x80),
            accent: Color::Rgb(0x5f, 0xb3, 0xf9),
            border: Color::Rgb(0x3b, 0x42, 0x52),
            selection_bg: Color::Rgb(0x26, 0x34, 0x45),
            status: StatusColors {
                pending: Color::Rgb(0x6b, 0x72, 0x80),
                queued: Color::Rgb(0xa0, 0xa8, 0xb8),
                running: Color::Rgb(0x5f, 0xb3, 0xf9),
                done: Color::Rgb(0x7e, 0xc6, 0x99),
                failed: Color::Rgb(0xf0, 0x71, 0x78),
                cancelled: Color::Rgb(0xd7, 0xba, 0x7d),
                skipped: Color::Rgb(0x4b, 0x55, 0x63),
                bottleneck: Color::Rgb(0xf5, 0xa9, 0x7f),
            },
        }
    }
}
