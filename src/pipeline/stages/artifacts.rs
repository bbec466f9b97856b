//! The files stages hand to each other inside a task folder. Each is written atomically by
//! its stage and read by the stages after it, so retry and resume reuse what exists.

use crate::fsutil::{read_json, write_json_atomic};
use crate::media::ClipSource;
use crate::media::render::Transition;
use crate::pipeline::{JobCtx, StageError};
use crate::providers::footage::Clip;
use crate::providers::stt::Word;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub const SCRIPT: &str = "script.json";
pub const TERMS: &str = "terms.json";
pub const NARRATION: &str = "narration.wav";
pub const VOICE: &str = "voice.json";
/// Per-word timings (from Whisper), when known.
pub const WORDS: &str = "words.json";
pub const SUBTITLES_ASS: &str = "subtitles.ass";
pub const SUBTITLES_SRT: &str = "subtitles.srt";
pub const SUBTITLES_VTT: &str = "subtitles.vtt";
pub const FOOTAGE: &str = "footage.json";
pub const TIMELINE: &str = "timeline.json";
pub const VIDEO: &str = "final.mp4";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptDoc {
    pub subject: String,
    /// "llm", "user" or "bundled".
    pub origin: String,
    pub text: String,
    pub sentences: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TermsDoc {
    /// One group of English search terms per sentence.
    pub terms: Vec<Vec<String>>,
    /// "llm" or "keywords".
    pub origin: String,
}

/// Every script word with the time it is spoken, grouped by sentence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WordsDoc {
    pub sentences: Vec<Vec<Word>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FootageDoc {
    pub clips: Vec<Clip>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineSegment {
    pub source: ClipSource,
    /// Seconds into the clip where the cut starts.
    pub start_in: f64,
    /// Seconds on the output timeline.
    pub start: f64,
    pub duration: f64,
    pub sentence: usize,
    pub description: String,
    /// Playback speed of the footage.
    #[serde(default = "crate::media::render::normal_speed")]
    pub speed: f64,
    /// How this cut replaces the previous one.
    #[serde(default)]
    pub transition: Transition,
    /// The sentence spoken during the cut.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Semantic mode: the relevance of the clip to the sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Why this clip: how the concat mode chose it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub duration: f64,
    /// Length of each transition, seconds.
    #[serde(default)]
    pub transition_secs: f64,
    pub segments: Vec<TimelineSegment>,
}

/// `timeline.json` for the first video, `timeline-2.json` … for the others.
pub fn timeline_name(number: usize) -> String {
    numbered(TIMELINE, number)
}

/// `final.mp4` for the first video, `final-2.mp4` … for the others.
pub fn video_name(number: usize) -> String {
    numbered(VIDEO, number)
}

fn numbered(name: &str, number: usize) -> String {
    match (number, name.rsplit_once('.')) {
        (0 | 1, _) | (_, None) => name.to_string(),
        (n, Some((stem, ext))) => format!("{stem}-{n}.{ext}"),
    }
}

/// Reads an upstream stage's file; a missing or damaged one means that stage must re-run.
pub fn load<T: DeserializeOwned>(ctx: &JobCtx, name: &str) -> Result<T, StageError> {
    read_json(&ctx.path(name)).map_err(|e| {
        StageError::permanent(format!(
            "{e}; retry the stage that writes it (`reelforge tasks retry {} STAGE`)",
            ctx.task
        ))
    })
}

pub fn save<T: Serialize>(ctx: &JobCtx, name: &str, value: &T) -> Result<(), StageError> {
    write_json_atomic(&ctx.path(name), value).map_err(|e| {
        StageError::permanent(format!("cannot write {}: {e}", ctx.path(name).display()))
    })
}
