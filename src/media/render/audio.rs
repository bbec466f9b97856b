//! The sound: narration, music under it (looped, faded, ducked while the voice speaks) and the
//! final loudness, every branch exactly as long as the picture.
//!
//! - Narration: 48 kHz stereo float, padded with silence and cut to the picture's length.
//! - Music (input looped with `-stream_loop -1`): cut to the same length, `volume`, fade in
//!   from 0 and out to the very end. Ducked: `sidechaincompress` keyed by a copy of the
//!   narration (`asplit`) pulls the music down by up to about 18 dB under speech, releasing in
//!   0.3 s. Mixed with `amix` without normalisation, so the voice keeps its level.
//! - Loudness: single-pass `loudnorm` (I = target, TP = −1.5 dBTP, LRA = 11) on the final mix;
//!   it works at 192 kHz, so `aresample=48000` follows, and a last pad/trim keeps the stream
//!   exactly as long as the picture.

use super::timeline::decimal;
use super::{MusicPlan, RenderPlan};
// `let _ = write!(graph, …)`: writing to a String cannot fail.
use std::fmt::Write as _;

/// Sample rate of the output; every branch is converted to it.
pub(super) const SAMPLE_RATE: u32 = 48_000;

/// Ducking: compress the music above this sidechain level (linear RMS, about −34 dBFS — any
/// speech, not breaths or room noise)...
const DUCK_THRESHOLD: f64 = 0.02;
/// ...by this ratio (speech at −14 dBFS is 20 dB over: about 18 dB quieter music)...
const DUCK_RATIO: f64 = 10.0;
/// ...reacting within this many ms at the start of a word...
const DUCK_ATTACK_MS: f64 = 20.0;
/// ...and coming back this many ms after the voice stops (pauses between sentences breathe).
const DUCK_RELEASE_MS: f64 = 300.0;

/// The format every branch is converted to before mixing.
fn format48() -> String {
    format!(
        "aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:\
         channel_layouts=stereo"
    )
}

/// Pads with silence and cuts to exactly `samples`.
fn exact(samples: u64) -> String {
    format!("apad=whole_len={samples},atrim=end_sample={samples}")
}

/// Writes the audio branches into `graph`; returns the label of the final sound. `narration`
/// and `music` are input indices; `samples` is the picture's length in samples.
pub(super) fn write_audio(
    graph: &mut String,
    plan: &RenderPlan,
    narration: usize,
    music: Option<usize>,
    samples: u64,
) -> String {
    let format = format48();
    let _ = writeln!(
        graph,
        "[{narration}:a]{format},{exact}[voice];",
        exact = exact(samples)
    );
    let mixed = match (&plan.music, music) {
        (Some(plan_music), Some(input)) => {
            write_music(graph, plan_music, input, samples);
            if plan_music.duck {
                let _ = writeln!(
                    graph,
                    "[voice]asplit=2[voicemix][voicekey];\
                     [music][voicekey]sidechaincompress=threshold={DUCK_THRESHOLD}:\
                     ratio={DUCK_RATIO}:attack={DUCK_ATTACK_MS}:release={DUCK_RELEASE_MS}\
                     [ducked];\
                     [voicemix][ducked]amix=inputs=2:duration=first:dropout_transition=0:\
                     normalize=0[mix];"
                );
            } else {
                let _ = writeln!(
                    graph,
                    "[voice][music]amix=inputs=2:duration=first:dropout_transition=0:\
                     normalize=0[mix];"
                );
            }
            "mix"
        }
        _ => "voice",
    };
    match plan.loudness_lufs {
        Some(lufs) => {
            let _ = writeln!(
                graph,
                "[{mixed}]loudnorm=I={}:TP=-1.5:LRA=11,{format},{}[loud];",
                decimal(lufs, 2),
                exact(samples)
            );
            "loud".into()
        }
        None => mixed.into(),
    }
}

/// `[music]`: the looped music input cut to `samples`, at its volume, faded in and out.
fn write_music(graph: &mut String, music: &MusicPlan, input: usize, samples: u64) {
    let total = samples as f64 / f64::from(SAMPLE_RATE);
    let mut chain = format!(
        "[{input}:a]{},atrim=end_sample={samples},asetpts=PTS-STARTPTS,volume={}",
        format48(),
        decimal(music.volume, 3)
    );
    let fade_in = music.fade_in.clamp(0.0, total);
    if fade_in > 0.0 {
        let _ = write!(chain, ",afade=t=in:st=0:d={}", decimal(fade_in, 3));
    }
    let fade_out = music.fade_out.clamp(0.0, total);
    if fade_out > 0.0 {
        let _ = write!(
            chain,
            ",afade=t=out:st={}:d={}",
            decimal(total - fade_out, 3),
            decimal(fade_out, 3)
        );
    }
    // Padded too: should the music stream end early anyway (a file with no samples), the mix
    // still lasts the whole video.
    let _ = writeln!(chain, ",{}[music];", exact(samples));
    graph.push_str(&chain);
}
