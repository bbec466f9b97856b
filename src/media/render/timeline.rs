//! The plan's cuts laid on the output frame grid: how many frames each cut owns, where it
//! starts, how long the transition into it lasts, and which part of its source it reads.
//!
//! Everything is counted in whole frames so the joined picture is exactly as long as the
//! narration (to the frame) however the cut durations round, and xfade offsets land on a
//! frame.

use super::{RenderPlan, Segment, Transition};
use crate::media::ClipSource;

/// One cut of the render, in frames of the output.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Cut<'a> {
    pub segment: &'a Segment,
    /// Where the cut starts on the output, frames.
    pub start: u64,
    /// Frames the cut owns on the output.
    pub frames: u64,
    /// Length of the transition that ends at `start`, frames; 0 is a plain cut. The cut's
    /// stream carries this many extra frames before its own part.
    pub lead: u64,
    /// The transition into this cut; `None` whenever `lead` is 0.
    pub transition: Transition,
}

impl<'a> Cut<'a> {
    /// A cut of `segment`; its transition counts only when there is a lead-in to blend.
    pub fn new(segment: &'a Segment, start: u64, frames: u64, lead: u64) -> Cut<'a> {
        Cut {
            segment,
            start,
            frames,
            lead,
            transition: if lead == 0 {
                Transition::None
            } else {
                segment.transition
            },
        }
    }

    /// Frames of this cut's stream: the transition lead-in and its own part.
    pub fn stream_frames(&self) -> u64 {
        self.frames + self.lead
    }

    /// The part of the source to read, seconds: `(start, length)`. The lead-in is read before
    /// `start_in` where the source has room, otherwise the reading starts at 0 and runs that
    /// much longer (the cut's picture then starts a little later in the clip). Two frames
    /// more than needed are read so rounding never leaves the stream short.
    pub fn source_window(&self, fps: u32) -> (f64, f64) {
        let fps = f64::from(fps.max(1));
        let speed = self.segment.speed;
        let lead = self.lead as f64 / fps * speed;
        let start = (self.segment.start_in.max(0.0) - lead).max(0.0);
        let length = (self.stream_frames() + 2) as f64 / fps * speed;
        (start, length)
    }

    /// A still picture: shown with a slow zoom/pan, never read over time.
    pub fn is_still(&self) -> bool {
        matches!(self.segment.source, ClipSource::Image(_))
    }
}

/// Seconds to the nearest frame.
pub(super) fn to_frames(secs: f64, fps: u32) -> u64 {
    (secs.max(0.0) * f64::from(fps.max(1))).round() as u64
}

/// The output's length in frames: the sum of the cuts, rounded once.
pub(super) fn total_frames(plan: &RenderPlan) -> u64 {
    to_frames(plan.total_duration(), plan.fps)
}

/// The cuts on the frame grid. A cut's boundaries are its start and end times rounded to the
/// nearest frame, so rounding never accumulates; a cut shorter than half a frame owns no
/// frame and is left out. A transition lasts `transition_secs`, but at most half of either
/// cut it joins (so two transitions never overlap and every cut is seen whole for a while).
pub(super) fn layout(plan: &RenderPlan) -> Vec<Cut<'_>> {
    let fps = plan.fps.max(1);
    let wanted_lead = to_frames(plan.transition_secs, fps);
    let mut cuts: Vec<Cut<'_>> = Vec::with_capacity(plan.segments.len());
    let mut time = 0.0;
    for segment in &plan.segments {
        let start = to_frames(time, fps);
        time += segment.duration.max(0.0);
        let end = to_frames(time, fps);
        if end <= start {
            continue;
        }
        let frames = end - start;
        let lead = match cuts.last() {
            Some(previous) if segment.transition != Transition::None => {
                wanted_lead.min(previous.frames / 2).min(frames / 2)
            }
            _ => 0,
        };
        cuts.push(Cut::new(segment, start, frames, lead));
    }
    cuts
}

/// Seconds for a frame count: up to six decimals (microseconds, ffmpeg's time base), trailing
/// zeros dropped, so `45` frames at 30 fps read `1.5`.
pub(super) fn frame_secs(frames: u64, fps: u32) -> String {
    decimal(frames as f64 / f64::from(fps.max(1)), 6)
}

/// `value` with at most `places` decimals and no trailing zeros.
pub(super) fn decimal(value: f64, places: usize) -> String {
    let text = format!("{value:.places$}");
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.');
        if trimmed == "-0" {
            "0".into()
        } else {
            trimmed.into()
        }
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::render::{EncoderSettings, Fill};

    fn cut(duration: f64, transition: Transition) -> Segment {
        Segment {
            source: ClipSource::Video("/c.mp4".into()),
            start_in: 2.0,
            duration,
            speed: 1.0,
            transition,
        }
    }

    fn plan(segments: Vec<Segment>) -> RenderPlan {
        RenderPlan {
            width: 320,
            height: 180,
            fps: 30,
            segments,
            transition_secs: 0.5,
            fill: Fill::Crop,
            narration: "/v.wav".into(),
            music: None,
            loudness_lufs: None,
            subtitles: None,
            soft_subtitles: None,
            subtitles_fonts_dir: None,
            encoder: EncoderSettings {
                codec: "libx264".into(),
                preset: "ultrafast".into(),
                crf: 28,
            },
            out: "/o.mp4".into(),
        }
    }

    #[test]
    fn frames_add_up_without_drift() {
        // 0.34 s is 10.2 frames: rounding each cut alone would lose a frame every few cuts.
        let p = plan(vec![cut(0.34, Transition::None); 10]);
        let cuts = layout(&p);
        let sum: u64 = cuts.iter().map(|c| c.frames).sum();
        assert_eq!(sum, total_frames(&p));
        assert_eq!(sum, 102);
        assert!(
            cuts.windows(2)
                .all(|w| w[0].start + w[0].frames == w[1].start)
        );
    }

    #[test]
    fn transitions_are_capped_by_both_neighbours() {
        let p = plan(vec![
            cut(2.0, Transition::None),
            cut(0.4, Transition::Fade),
            cut(3.0, Transition::Wipe),
            cut(3.0, Transition::None),
            cut(0.01, Transition::Fade),
        ]);
        let cuts = layout(&p);
        assert_eq!(cuts.len(), 4, "the cut under half a frame owns nothing");
        let leads: Vec<u64> = cuts.iter().map(|c| c.lead).collect();
        assert_eq!(leads, [0, 6, 6, 0]);
        assert_eq!(cuts[1].transition, Transition::Fade);
        assert_eq!(cuts[3].transition, Transition::None);
        assert_eq!(cuts[2].stream_frames(), 96);
    }

    #[test]
    fn the_lead_in_is_read_before_the_cut_or_after_it() {
        let mut segments = vec![cut(2.0, Transition::None), cut(2.0, Transition::Fade)];
        segments[1].speed = 2.0;
        let p = plan(segments.clone());
        let (start, length) = layout(&p)[1].source_window(30);
        assert!((start - 1.0).abs() < 1e-9, "{start}");
        assert!(
            (length - (75.0 + 2.0) / 30.0 * 2.0).abs() < 1e-9,
            "{length}"
        );

        segments[1].start_in = 0.2;
        let p = plan(segments);
        let (start, _) = layout(&p)[1].source_window(30);
        assert_eq!(start, 0.0);
    }

    #[test]
    fn seconds_are_short_and_exact() {
        assert_eq!(frame_secs(45, 30), "1.5");
        assert_eq!(frame_secs(1, 30), "0.033333");
        assert_eq!(frame_secs(0, 30), "0");
        assert_eq!(decimal(-0.0000001, 3), "0");
        assert_eq!(decimal(2.0, 3), "2");
    }
}
