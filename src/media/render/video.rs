//! One cut's picture chain: from its input stream to `W`×`H` yuv420p frames on the output
//! grid, exactly [`Cut::stream_frames`] long.
//!
//! - Moving sources (video files, lavfi): speed (`setpts`), `fps`, fill, then a clone of the
//!   last frame for at most [`MAX_HOLD_SECS`] — only to absorb rounding; the inputs are
//!   looped, so a source that really runs out restarts instead of freezing — and a frame-exact
//!   `trim`.
//! - Stills: filled at twice the frame size, then `zoompan` (Ken Burns) turns the one picture
//!   into the cut's frames; the extra resolution keeps the slow motion from jittering. The
//!   movement changes with the cut's position so consecutive stills differ.
//! - Fill: [`Fill::Crop`] crops the overflow then scales to the frame; [`Fill::Blur`] shows the
//!   whole picture over a blurred, slightly darkened copy of itself that covers the frame
//!   (blurred at a quarter of the size: four times cheaper and softer).

use super::Fill;
use super::timeline::{Cut, decimal};
// `let _ = write!(graph, …)`: writing to a String cannot fail.
use std::fmt::Write as _;

/// The longest a cut holds its last frame: rounding of the source window, never a freeze.
pub(super) const MAX_HOLD_SECS: f64 = 0.1;

/// How much a Ken Burns zoom magnifies over the cut: slow enough to read as calm.
const KEN_BURNS_ZOOM: f64 = 0.15;

/// Frame geometry and rate shared by every cut.
#[derive(Clone, Copy, Debug)]
pub(super) struct Frame {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub fill: Fill,
}

/// Writes the chain of cut `index` (input `index`) into `graph`, ending in `[c{index}]`.
pub(super) fn write_cut(graph: &mut String, frame: Frame, index: usize, cut: &Cut<'_>) {
    let length = cut.stream_frames();
    let fps = frame.fps;
    let input = format!("[{index}:v]");
    // xfade needs one time base and aspect on every input. A time base of one frame (rather
    // than AVTB) makes every timestamp a whole frame number, so xfade offsets (parsed in
    // microseconds) land exactly on a frame instead of a microsecond off.
    let tail = format!("format=yuv420p,setsar=1,settb=1/{fps}");
    if cut.is_still() {
        let (w2, h2) = (frame.width * 2, frame.height * 2);
        let filled = fill(graph, frame.fill, &input, (w2, h2), &format!("s{index}"));
        let _ = writeln!(
            graph,
            "{filled}{},{tail},trim=end_frame={length},setpts=PTS-STARTPTS[c{index}];",
            ken_burns(index, length, frame)
        );
    } else {
        let speed = cut.segment.speed;
        let retime = if (speed - 1.0).abs() < 1e-9 {
            "setpts=PTS-STARTPTS".to_string()
        } else {
            format!("setpts=(PTS-STARTPTS)/{}", decimal(speed, 6))
        };
        // fps first: a 60 fps source is scaled only as often as the output needs.
        let timed = format!("{input}{retime},fps={fps},");
        let filled = fill(
            graph,
            frame.fill,
            &timed,
            (frame.width, frame.height),
            &format!("m{index}"),
        );
        let _ = writeln!(
            graph,
            "{filled}{tail},tpad=stop_mode=clone:stop_duration={MAX_HOLD_SECS},\
             trim=end_frame={length},setpts=PTS-STARTPTS[c{index}];"
        );
    }
}

/// Starts the fill of `source` (a label with the filters to apply first, e.g.
/// `[0:v]fps=30,`) to `width`×`height`. Returns the text that continues the chain: either the
/// crop filters followed by `,`, or — for the blur fill, whose split and overlay need their own
/// statements, written into `graph` here — the overlay's label input followed by `overlay…,`.
fn fill(graph: &mut String, fill: Fill, source: &str, (w, h): (u32, u32), tag: &str) -> String {
    match fill {
        // Crop to the frame's shape first, then scale: the scaler then writes W×H pixels
        // instead of an enlarged picture mostly thrown away (half the work for 16:9 → 9:16).
        Fill::Crop => format!(
            "{source}crop=w='trunc(min(iw,ih*{w}/{h})/2)*2':h='trunc(min(ih,iw*{h}/{w})/2)*2',\
             scale={w}:{h},"
        ),
        Fill::Blur => {
            let (bw, bh) = (even(w / 4), even(h / 4));
            let sigma = decimal(f64::from(bw.min(bh)) / 12.0, 1);
            let _ = writeln!(
                graph,
                "{source}split=2[{tag}bg][{tag}fg];\
                 [{tag}bg]scale={bw}:{bh}:force_original_aspect_ratio=increase,crop={bw}:{bh},\
                 gblur=sigma={sigma},eq=brightness=-0.08,scale={w}:{h},setsar=1[{tag}bgb];\
                 [{tag}fg]scale={w}:{h}:force_original_aspect_ratio=decrease:\
                 force_divisible_by=2,setsar=1[{tag}fgs];"
            );
            format!("[{tag}bgb][{tag}fgs]overlay=x=(W-w)/2:y=(H-h)/2,")
        }
    }
}

/// The zoompan of a still's cut: four movements in turn by cut index — zoom in, zoom out,
/// zoom in drifting right, zoom out drifting left — so two stills in a row never move alike.
/// `on` (the output frame number) runs 0..frames-1 over the one input picture (`d=frames`).
fn ken_burns(index: usize, frames: u64, frame: Frame) -> String {
    let last = frames.saturating_sub(1).max(1);
    let amount = decimal(KEN_BURNS_ZOOM, 3);
    let end = decimal(1.0 + KEN_BURNS_ZOOM, 3);
    let progress = format!("on/{last}");
    let zoom_in = format!("1+{amount}*{progress}");
    let zoom_out = format!("{end}-{amount}*{progress}");
    let centre_x = "(iw-iw/zoom)/2".to_string();
    let centre_y = "(ih-ih/zoom)/2";
    let (zoom, x) = match index % 4 {
        0 => (zoom_in, centre_x),
        1 => (zoom_out, centre_x),
        2 => (zoom_in, format!("(iw-iw/zoom)*{progress}")),
        _ => (zoom_out, format!("(iw-iw/zoom)*(1-{progress})")),
    };
    format!(
        "zoompan=z='{zoom}':x='{x}':y='{centre_y}':d={frames}:s={}x{}:fps={}",
        frame.width, frame.height, frame.fps
    )
}

/// Even and at least 2: yuv420p needs even sizes.
fn even(n: u32) -> u32 {
    (n.max(2) / 2) * 2
}
