//! A task's own settings: the config in force with the task's options (`TaskOptions`: voice,
//! footage sources, music, subtitle style, video count) applied. This is the one place they
//! are applied, and the result passes the same checks as a loaded config, so a bad value is
//! refused naming the option that gave it, not a config key the user never wrote.

use super::error::ConfigError;
use super::validate::validate;
use super::{Config, SubtitleConfig, frame_size};
use crate::store::{SUBTITLE_STYLES, TaskOptions};
use std::path::Path;

/// The options a task can set, to name one in an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskOption {
    Voice,
    Sources,
    Music,
    SubtitleStyle,
    VideoCount,
}

impl TaskOption {
    pub const ALL: [TaskOption; 5] = [
        TaskOption::Voice,
        TaskOption::Sources,
        TaskOption::Music,
        TaskOption::SubtitleStyle,
        TaskOption::VideoCount,
    ];

    /// Its field in `TaskOptions` (and in the stored task record).
    pub fn field(self) -> &'static str {
        match self {
            TaskOption::Voice => "voice",
            TaskOption::Sources => "sources",
            TaskOption::Music => "music",
            TaskOption::SubtitleStyle => "subtitle_style",
            TaskOption::VideoCount => "video_count",
        }
    }

    /// Whether the setting `key` is one this option overrides: a check failing there is the
    /// option's fault (the base config was checked when it was loaded).
    fn owns(self, key: &str) -> bool {
        match self {
            TaskOption::Voice => key == "voice.provider",
            TaskOption::Sources => key == "footage.sources",
            TaskOption::Music => key.starts_with("music."),
            TaskOption::SubtitleStyle => key.starts_with("subtitles."),
            TaskOption::VideoCount => key == "video.video_count",
        }
    }

    fn is_set(self, options: &TaskOptions) -> bool {
        match self {
            TaskOption::Voice => options.voice.is_some(),
            TaskOption::Sources => options.sources.is_some(),
            TaskOption::Music => options.music.is_some(),
            TaskOption::SubtitleStyle => options.subtitle_style.is_some(),
            TaskOption::VideoCount => options.video_count.is_some(),
        }
    }
}

/// The task's effective config: `base` with `options` applied. A bad option is named as
/// "task option `voice`".
pub fn config_for(base: &Config, options: &TaskOptions) -> Result<Config, String> {
    apply_options(base, options, |option| {
        format!("task option `{}`", option.field())
    })
}

/// `config_for`, naming a bad option with `name` (the command line calls it `--voice`).
pub fn apply_options(
    base: &Config,
    options: &TaskOptions,
    name: impl Fn(TaskOption) -> String,
) -> Result<Config, String> {
    let refuse = |option: TaskOption, value: &str, allowed: &str| {
        format!(
            "{}: {value} is not allowed; allowed: {allowed}",
            name(option)
        )
    };
    let mut cfg = base.clone();
    if let Some(voice) = &options.voice {
        cfg.voice.provider = voice.clone();
    }
    if let Some(sources) = &options.sources {
        cfg.footage.sources = sources.clone();
    }
    if let Some(music) = &options.music
        && !set_music(&mut cfg, music)
    {
        return Err(refuse(
            TaskOption::Music,
            &format!("{music:?}"),
            "\"none\", an audio file, or a folder of audio files (one picked per video); this path does not exist",
        ));
    }
    if let Some(style) = &options.subtitle_style {
        // Sizes are in frame pixels, so the presets scale with the task's frame.
        let height = frame_size(&cfg.video.aspect).map_or(1920, |(_, h)| h);
        if !subtitle_style(&mut cfg.subtitles, style, height) {
            let names: Vec<String> = SUBTITLE_STYLES.iter().map(|s| format!("{s:?}")).collect();
            return Err(refuse(
                TaskOption::SubtitleStyle,
                &format!("{style:?}"),
                &format!("one of {}", names.join(", ")),
            ));
        }
    }
    if let Some(count) = options.video_count {
        cfg.video.video_count = count.into();
    }
    match validate(&cfg) {
        Ok(()) => Ok(cfg),
        Err(e) => {
            if let ConfigError::InvalidValue {
                key,
                value,
                allowed,
                ..
            } = &e
                && let Some(option) = TaskOption::ALL
                    .into_iter()
                    .find(|o| o.is_set(options) && o.owns(key))
            {
                return Err(refuse(option, value, allowed));
            }
            Err(e.to_string())
        }
    }
}

/// `[music]` for the option: "none", an audio file (mode "file") or a folder (mode "random").
/// False when the path does not exist.
fn set_music(cfg: &mut Config, music: &str) -> bool {
    let music = music.trim();
    let path = Path::new(music);
    let mode = match music {
        "none" => "none",
        _ if path.is_dir() => "random",
        _ if path.is_file() => "file",
        _ => return false,
    };
    cfg.music.mode = mode.into();
    if mode != "none" {
        cfg.music.path = music.into();
    }
    true
}

/// Applies the subtitle preset `name` (one of `SUBTITLE_STYLES`) to `subs` for a frame
/// `frame_height` pixels high; false for an unknown name. Each preset is a whole look (size,
/// colours, outline, shadow, position, box, word highlight) so the result does not depend on
/// the look in the config; the font, wrapping and the on/off switches stay the config's.
pub fn subtitle_style(subs: &mut SubtitleConfig, name: &str, frame_height: u32) -> bool {
    // "classic" is the default look; the others change it.
    let mut look = SubtitleConfig {
        enabled: subs.enabled,
        font: subs.font.clone(),
        font_file: subs.font_file.clone(),
        max_line_chars: subs.max_line_chars,
        soft_track: subs.soft_track,
        ..SubtitleConfig::default()
    };
    match name {
        "classic" => {}
        "boxed" => {
            // libass's opaque box behind each line; its padding follows the font size.
            look.background = "box".into();
            look.background_color = "#000000".into();
            look.background_opacity = 0.6;
            look.outline = 0;
            look.shadow = 0;
        }
        "karaoke" => {
            // Larger text and a highlight far from white, so the spoken word stands out.
            look.size = frame_height / 20;
            look.outline = 4;
            look.word_highlight = true;
            look.highlight_color = "#FF2D55".into();
        }
        "top" => look.position = "top".into(),
        "minimal" => {
            // Three quarters of the automatic size (1/24 of the height); a hairline outline
            // keeps white text readable over bright footage without a heavy edge.
            look.size = frame_height / 32;
            look.outline = 1;
            look.shadow = 0;
            look.word_highlight = false;
        }
        _ => return false,
    }
    *subs = look;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> TaskOptions {
        TaskOptions::default()
    }

    #[test]
    fn no_options_is_the_base() {
        let mut base = Config::default();
        base.subtitles.size = 50;
        let cfg = config_for(&base, &options()).unwrap();
        assert_eq!(
            serde_json::to_value(&cfg).unwrap(),
            serde_json::to_value(&base).unwrap()
        );
    }

    #[test]
    fn each_option_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let song = dir.path().join("song.mp3");
        std::fs::write(&song, b"x").unwrap();
        let base = Config::default();
        let cfg = config_for(
            &base,
            &TaskOptions {
                voice: Some("espeak".into()),
                sources: Some(vec!["generated".into(), "local".into()]),
                music: Some(song.display().to_string()),
                subtitle_style: Some("boxed".into()),
                video_count: Some(3),
            },
        )
        .unwrap();
        assert_eq!(cfg.voice.provider, "espeak");
        assert_eq!(cfg.footage.sources, ["generated", "local"]);
        assert_eq!(
            (cfg.music.mode.as_str(), cfg.music.path.as_str()),
            ("file", song.to_str().unwrap())
        );
        assert_eq!(cfg.subtitles.background, "box");
        assert_eq!(cfg.video.video_count, 3);
        assert_eq!(cfg.video.fps, base.video.fps, "other settings are kept");

        let folder = dir.path().display().to_string();
        let with = |music: &str| TaskOptions {
            music: Some(music.into()),
            ..options()
        };
        let cfg = config_for(&base, &with(&folder)).unwrap();
        assert_eq!(
            (cfg.music.mode.as_str(), cfg.music.path),
            ("random", folder)
        );
        let mut playing = base.clone();
        playing.music.mode = "file".into();
        playing.music.path = song.display().to_string();
        assert_eq!(
            config_for(&playing, &with("none")).unwrap().music.mode,
            "none"
        );
    }

    #[test]
    fn subtitle_presets_are_whole_looks_over_the_config() {
        let mut base = Config::default();
        base.subtitles.font = "DejaVu Sans".into();
        base.subtitles.position = "center".into();
        base.subtitles.outline = 7;
        base.video.aspect = "16:9".into();
        let style = |name: &str| {
            let options = TaskOptions {
                subtitle_style: Some(name.into()),
                ..options()
            };
            config_for(&base, &options).unwrap().subtitles
        };
        let classic = style("classic");
        assert_eq!((classic.position.as_str(), classic.outline), ("bottom", 3));
        assert_eq!(classic.font, "DejaVu Sans", "the font stays the config's");
        let boxed = style("boxed");
        assert_eq!((boxed.background.as_str(), boxed.outline), ("box", 0));
        let karaoke = style("karaoke");
        assert!(karaoke.word_highlight && karaoke.highlight_color != classic.highlight_color);
        assert_eq!(karaoke.size, 54, "1/20 of a 1080-pixel frame");
        assert_eq!(style("top").position, "top");
        let minimal = style("minimal");
        assert_eq!((minimal.size, minimal.shadow), (33, 0));
        assert!(!minimal.word_highlight && minimal.size < 1080 / 24);
    }

    #[test]
    fn bad_values_name_the_option() {
        let base = Config::default();
        let cases = [
            (
                TaskOptions {
                    voice: Some("festival".into()),
                    ..options()
                },
                "task option `voice`: \"festival\"",
            ),
            (
                TaskOptions {
                    sources: Some(vec!["local".into(), "vimeo".into()]),
                    ..options()
                },
                "task option `sources`: \"vimeo\"",
            ),
            (
                TaskOptions {
                    sources: Some(vec!["local".into(), "local".into()]),
                    ..options()
                },
                "task option `sources`",
            ),
            (
                TaskOptions {
                    music: Some("/no/such/song.mp3".into()),
                    ..options()
                },
                "task option `music`: \"/no/such/song.mp3\"",
            ),
            (
                TaskOptions {
                    subtitle_style: Some("comic".into()),
                    ..options()
                },
                "task option `subtitle_style`: \"comic\"",
            ),
            (
                TaskOptions {
                    video_count: Some(6),
                    ..options()
                },
                "task option `video_count`: 6",
            ),
        ];
        for (options, expected) in cases {
            let msg = config_for(&base, &options).unwrap_err();
            assert!(msg.starts_with(expected), "{expected}: {msg}");
            assert!(msg.contains("allowed"), "{msg}");
        }
        let named = apply_options(
            &base,
            &TaskOptions {
                video_count: Some(0),
                ..options()
            },
            |_| "--videos".into(),
        )
        .unwrap_err();
        assert!(named.starts_with("--videos: 0 is not allowed"), "{named}");
        assert!(named.contains("1 to 5"), "{named}");
    }
}
