//! Joining the cuts into one picture: `xfade` where a cut has a transition, `concat` for runs
//! of plain cuts.
//!
//! A transition of `d` frames into a cut starting at frame `s` blends the last `d` frames of
//! what precedes it with the cut's `d`-frame lead-in, so `offset = s − d` and the joined
//! stream stays `s + frames` long: the picture is exactly the sum of the cuts, whatever the
//! transitions. Runs of plain cuts go through one `concat` each and are restamped onto the
//! frame grid (`setpts=N`) so the next xfade's offset counts whole frames.

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
    // Labels waiting to be concatenated, oldest first.
    let mut run: Vec<String> = Vec::new();
    for (i, cut) in cuts.iter().enumerate() {
        let name = xfade_name(cut.transition).filter(|_| cut.lead > 0 && !run.is_empty());
        let Some(name) = name else {
            run.push(format!("c{i}"));
            continue;
        };
        let main = flush(graph, &mut run, &format!("j{i}"), fps);
        let duration = frame_secs(cut.lead, fps);
        let offset = frame_secs(cut.start - cut.lead.min(cut.start), fps);
        let _ = writeln!(
            graph,
            "[{main}][c{i}]xfade=transition={name}:duration={duration}:offset={offset}[x{i}];"
        );
        run.push(format!("x{i}"));
    }
    flush(graph, &mut run, "joined", fps)
}

/// Concatenates the labels of `run` into `[label]` (nothing to do for one) and empties it;
/// returns the label holding the result.
fn flush(graph: &mut String, run: &mut Vec<String>, label: &str, fps: u32) -> String {
    match run.len() {
        0 => label.to_string(),
        1 => run.remove(0),
        n => {
            for input in run.drain(..) {
                let _ = write!(graph, "[{input}]");
            }
            // concat stamps each part after the previous one's mean frame duration; restamp
            // on the grid so later offsets and the encoder see exactly one frame per 1/fps.
            let _ = writeln!(
                graph,
                "concat=n={n}:v=1:a=0,settb=1/{fps},setpts=N[{label}];"
            );
            label.to_string()
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
            "[c0][c1]xfade=transition=dissolve:duration=0.4:offset=0.6[x1];\n\
             [x1][c2][c3]concat=n=3:v=1:a=0,settb=1/25,setpts=N[joined];\n"
        );
    }
}
