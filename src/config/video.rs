//! `[video]` (frame, cuts, transitions, encoder), `[subtitles]` (style) and `[music]`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoConfig {
    /// "9:16" (1080×1920), "16:9" (1920×1080) or "1:1" (1080×1080).
    pub aspect: String,
    /// 24–60.
    pub fps: u32,
    /// Longest single cut, seconds (2–10).
    pub max_clip_secs: f64,
    /// How clips are ordered: "semantic" (the clip that shows what each sentence says,
    /// by MiniLM embeddings; script order when the model is missing), "script-order" (each
    /// sentence's own footage), "sequential" (in the order found), "random" (shuffled,
    /// every source used before any repeats).
    pub concat_mode: String,
    /// Transition into each cut: "none", "fade", "dissolve", "slide_left", "slide_right",
    /// "slide_up", "slide_down", "wipe", "zoom_in", "zoom_out", "shuffle" (random per cut).
    pub transition: String,
    /// Length of a transition, seconds (0.1–2.0).
    pub transition_secs: f64,
    /// Playback speed of the footage, 0.5–2.0.
    pub clip_speed: f64,
    /// Footage of another aspect: "crop" (fill the frame) or "blur" (whole clip over a
    /// blurred copy of itself).
    pub fill: String,
    /// Videos made from the same materials, each a different order of clips (1–5).
    pub video_count: u32,
    /// "libx264", "auto" (the first hardware encoder that works, else libx264),
    /// "h264_nvenc", "hevc_nvenc", "h264_vaapi", "h264_qsv".
    pub encoder: String,
    pub preset: String,
    /// 0–51, lower is better quality.
    pub crf: u32,
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig {
            aspect: "9:16".into(),
            fps: 30,
            max_clip_secs: 5.0,
            concat_mode: "semantic".into(),
            transition: "none".into(),
            transition_secs: 0.5,
            clip_speed: 1.0,
            fill: "crop".into(),
            video_count: 1,
            encoder: "libx264".into(),
            preset: "veryfast".into(),
            crf: 23,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubtitleConfig {
    pub enabled: bool,
    /// A font family name known to fontconfig.
    pub font: String,
    /// A font file (.ttf/.otf) used instead of `font` when set.
    pub font_file: String,
    /// Font size in pixels of the output frame height (0: automatic, 1/24 of the height).
    pub size: u32,
    /// "#RRGGBB".
    pub color: String,
    pub outline_color: String,
    /// Outline width in pixels (0–10).
    pub outline: u32,
    /// Shadow offset in pixels (0–10).
    pub shadow: u32,
    /// "bottom", "top", "center" or "custom" (see `position_percent`).
    pub position: String,
    /// With position "custom": the text's vertical centre, percent of the height from the top.
    pub position_percent: f64,
    /// Behind the text: "none", "box" or "rounded" (a translucent rounded box).
    pub background: String,
    pub background_color: String,
    /// 0.0 (invisible) to 1.0 (opaque).
    pub background_opacity: f64,
    /// Longest subtitle line in characters before wrapping (10–80).
    pub max_line_chars: u32,
    /// Highlight the word being spoken (needs word timings: Whisper or a recording).
    pub word_highlight: bool,
    /// "#RRGGBB" of the highlighted word.
    pub highlight_color: String,
    /// Also add the subtitles as a soft track (mov_text) players can turn on and off.
    pub soft_track: bool,
}

impl Default for SubtitleConfig {
    fn default() -> Self {
        SubtitleConfig {
            enabled: true,
            font: "Noto Sans".into(),
            font_file: String::new(),
            size: 0,
            color: "#FFFFFF".into(),
            outline_color: "#000000".into(),
            outline: 3,
            shadow: 1,
            position: "bottom".into(),
            position_percent: 80.0,
            background: "none".into(),
            background_color: "#000000".into(),
            background_opacity: 0.5,
            max_line_chars: 28,
            word_highlight: true,
            highlight_color: "#FFD700".into(),
            soft_track: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MusicConfig {
    /// "none", "file" (`path` is an audio file) or "random" (`path` is a folder: one track
    /// picked per video).
    pub mode: String,
    pub path: String,
    /// Music volume under the voice, 0.0–1.0.
    pub volume: f64,
    pub fade_in_secs: f64,
    pub fade_out_secs: f64,
    /// Lower the music while the voice speaks (sidechain compression).
    pub duck: bool,
}

impl Default for MusicConfig {
    fn default() -> Self {
        MusicConfig {
            mode: "none".into(),
            path: String::new(),
            volume: 0.25,
            fade_in_secs: 1.0,
            fade_out_secs: 2.0,
            duck: true,
        }
    }
}
