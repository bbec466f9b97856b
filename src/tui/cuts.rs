//! What the select stage chose, cut by cut, for the pipeline pane: the clip shown while each
//! sentence is spoken and (semantic mode) how well it fits. Read from the task's
//! `timeline.json` once the stage is done; the pipeline's own artifact type, not a copy.

use crate::pipeline::stages::artifacts::{TIMELINE, Timeline};
use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub struct CutView {
    /// The sentence spoken (0-based).
    pub sentence: usize,
    /// Seconds on the output timeline.
    pub start: f64,
    /// The clip's description.
    pub clip: String,
    /// Semantic mode: the clip's relevance to what is said.
    pub score: Option<f32>,
    /// The words spoken during the cut.
    pub text: String,
}

/// The cuts of the task's first video; none when the file is missing or unreadable (the
/// stage has not run, or a retry is rewriting it).
pub fn load(task_dir: &Path) -> Vec<CutView> {
    let Ok(bytes) = std::fs::read(task_dir.join(TIMELINE)) else {
        return Vec::new();
    };
    let Ok(timeline) = serde_json::from_slice::<Timeline>(&bytes) else {
        return Vec::new();
    };
    timeline
        .segments
        .into_iter()
        .map(|segment| CutView {
            sentence: segment.sentence,
            start: segment.start,
            clip: segment.description,
            score: segment.score,
            text: segment.text,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_timeline_and_tolerates_its_absence() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_empty());
        let json = r#"{"width": 1920, "height": 1080, "fps": 30, "duration": 4.0,
            "segments": [{"source": {"kind": "lavfi", "value": "color=c=red"}, "start_in": 0.0, "start": 0.0,
            "duration": 4.0, "sentence": 0, "description": "red sky", "text": "The sky is red.",
            "score": 0.82, "why": "best match"}]}"#;
        std::fs::write(dir.path().join(TIMELINE), json).unwrap();
        let cuts = load(dir.path());
        assert_eq!(cuts.len(), 1, "{cuts:?}");
        assert_eq!(cuts[0].clip, "red sky");
        assert_eq!(cuts[0].score, Some(0.82));
        std::fs::write(dir.path().join(TIMELINE), "{").unwrap();
        assert!(load(dir.path()).is_empty());
    }
}
