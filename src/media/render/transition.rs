//! Joining the cuts into one picture with ONE `concat`, transitions included.
//!
//! A transition of `d` frames into a cut starting at frame `s` blends the last `d` frames of
//! the cut before with the cut's `d`-frame lead-in, so it covers frames `s − d … s` and the
//! picture stays exactly the sum of the cuts. Each cut is split into its lead-in (head), its
//! body and its last `d'` frames (tail, when the next cut has a transition); only the head
//! and tail go through `xfade` (offset 0), and the concat takes body, blend, body, blend….
//! Chaining whole cuts through `xfade` instead makes ffmpeg decode the next cut long before
//! it is shown and costs about a fifth more encode time; this way every source is read once,
//! in order.

use super::Transition;
use super::timeline::{Cut, frame_secs};
// `let _ = write!(graph, …)`: writing to a String cannot fail.
use std::fmt::Write as _;

/// The xfade transition drawing `transition`; `None` for a plain cut.
///
/// `ZoomOut` is `circleclose`: the outgoing picture shrinks away into a closing circle over the
/// incoming one, the mirror of `zoomin` (which pushes into the outgoing picture) — it reads as
/// pulling back, and unlike `fadeblack` never darkens the frame.
pub(super) fn xfade_name(transition: Transition) -> Option<&'static str> {
    Some(match transition {
        Transition::None => return None,
        Transition::Fade => "fade",
        Transition::Dissolve => "dissolve",
        Transition::SlideLeft => "slideleft",
        Transition::SlideRight => "slideright",
        Transition::SlideUp => "slideup",
        Transition::SlideDown => "slidedown",
        Transition::Wipe => "wipeleft",
        Transition::ZoomIn => "zoomin",
        Transition::ZoomOut => "circleclose",
    })
}

/// Writes the joins of the cut chains `[c0]…[cN]` (see `video::write_cut`) into `graph` and
/// returns the label of the joined picture.
pub(super) fn write_joins(graph: &mut String, cuts: &[Cut<'_>], fps: u32) -> String {
    if cuts.len() == 1 {
        return "c0".to_string();
    }
    // The frames each cut blends into the next one (the next cut's lead-in, if it has one).
    let lead_in = |i: usize| -> u64 {
        let cut = &cuts[i];
        let blended = i > 0 && xfade_name(cut.transition).is_some();
        if blended { cut.lead } else { 0 }
    };
    let mut parts: Vec<String> = Vec::new();
    for i in 0..cuts.len() {
        let head = lead_in(i);
        let tail = if i + 1 < cuts.len() {
            lead_in(i + 1)
        } else {
            0
        };
        let body_start = if head > 0 { head } else { cuts[i].lead };
        let body_end = cuts[i].stream_frames() - tail;
        if head == 0 && tail == 0 && body_start == 0 {
            // A plain cut between plain cuts goes to the concat as it is.
            parts.push(format!("c{i}"));
            continue;
        }
        let mut outputs = Vec::new();
        if head > 0 {
            outputs.push((format!("h{i}"), 0, head));
        }
        if body_end > body_start {
            outputs.push((format!("b{i}"), body_start, body_end));
        }
        if tail > 0 {
            outputs.push((format!("t{i}"), body_end, body_end + tail));
        }
        split_into(graph, i, &outputs);
        if head > 0 {
            let name = xfade_name(cuts[i].transition).expect("a head exists only for a transition");
            let duration = frame_secs(head, fps);
            let _ = writeln!(
                graph,
                "[t{prev}][h{i}]xfade=transition={name}:duration={duration}:offset=0[x{i}];",
                prev = i - 1
            );
            parts.push(format!("x{i}"));
        }
        if body_end > body_start {
            parts.push(format!("b{i}"));
        }
    }
    for part in &parts {
        let _ = write!(graph, "[{part}]");
    }
    // concat stamps each part after the previous one's mean frame duration; restamp on the
    // grid so the encoder sees exactly one frame per 1/fps.
    let _ = writeln!(
        graph,
        "concat=n={}:v=1:a=0,settb=1/{fps},setpts=N[joined];",
        parts.len()
    );
    "joined".to_string()
}

/// Cuts `[c{index}]` into the frame ranges `outputs` (label, first frame, end frame), each
/// restarting at time 0.
fn split_into(graph: &mut String, index: usize, outputs: &[(String, u64, u64)]) {
    let piece = |(label, start, end): &(String, u64, u64)| {
        format!("trim=start_frame={start}:end_frame={end},setpts=PTS-STARTPTS[{label}]")
    };
    match outputs {
        [] => {}
        [only] => {
            let _ = writeln!(graph, "[c{index}]{};", piece(only));
        }
        many => {
            let _ = write!(graph, "[c{index}]split={}", many.len());
            for (label, _, _) in many {
                let _ = write!(graph, "[{label}s]");
            }
            let _ = writeln!(graph, ";");
            for output in many {
                let _ = writeln!(graph, "[{}s]{};", output.0, piece(output));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ClipSource;
    use crate::media::render::Segment;

    #[test]
    fn every_transition_has_an_xfade() {
        let names: Vec<&str> = Transition::ALL
            .iter()
            .filter_map(|t| xfade_name(*t))
            .collect();
        assert_eq!(
            names,
            [
                "fade",
                "dissolve",
                "slideleft",
                "slideright",
                "slideup",
                "slidedown",
                "wipeleft",
                "zoomin",
                "circleclose"
            ]
        );
        assert_eq!(xfade_name(Transition::None), None);
    }

    fn cut(segment: &Segment, start: u64, frames: u64, lead: u64) -> Cut<'_> {
        Cut::new(segment, start, frames, lead)
    }

    #[test]
    fn one_cut_needs_no_join_and_a_run_of_plain_cuts_is_one_concat() {
        let segment = Segment {
            source: ClipSource::Lavfi("color".into()),
            start_in: 0.0,
            duration: 1.0,
            speed: 1.0,
            transition: Transition::Dissolve,
        };
        let mut graph = String::new();
        assert_eq!(
            write_joins(&mut graph, &[cut(&segment, 0, 25, 0)], 25),
            "c0"
        );
        assert_eq!(graph, "");

        let cuts = [
            cut(&segment, 0, 25, 0),
            cut(&segment, 25, 25, 10),
            cut(&segment, 50, 25, 0),
            cut(&segment, 75, 25, 0),
        ];
        assert_eq!(write_joins(&mut graph, &cuts, 25), "joined");
        assert_eq!(
            graph,
            "[c0]split=2[b0s][t0s];\n\
             [b0s]trim=start_frame=0:end_frame=15,setpts=PTS-STARTPTS[b0];\n\
             [t0s]trim=start_frame=15:end_frame=25,setpts=PTS-STARTPTS[t0];\n\
             [c1]split=2[h1s][b1s];\n\
             [h1s]trim=start_frame=0:end_frame=10,setpts=PTS-STARTPTS[h1];\n\
             [b1s]trim=start_frame=10:end_frame=35,setpts=PTS-STARTPTS[b1];\n\
             [t0][h1]xfade=transition=dissolve:duration=0.4:offset=0[x1];\n\
             [b0][x1][b1][c2][c3]concat=n=5:v=1:a=0,settb=1/25,setpts=N[joined];\n"
        );
    }
}
