//! Moves word boundaries out of silence, using the waveform itself.
//!
//! Whisper's attention-based timing smears across pauses: measured on synthetic speech,
//! the first word after a 1 s pause started 0.3 s early (inside the pause) and the last
//! word before it ended 0.2 s early, while the segment timestamps were right. Words
//! cannot start or end in silence, so where a boundary lies in a clear pause it moves to
//! the pause's edge, and a word that stops short of a pause is extended to it. Recordings
//! with no clear pauses (music beds, room noise above −40 dB) are left as they are.

use super::Word;

/// 10 ms at 16 kHz.
const FRAME: usize = 160;
const FRAME_SECONDS: f64 = 0.01;
/// A frame is quiet below this fraction of the loudest frame's RMS (−40 dB): soft
/// consonants ("th", a trailing "s") stay above it.
const QUIET_RATIO: f32 = 0.01;
/// Quiet runs shorter than this (100 ms) are stop closures inside words, not pauses.
const MIN_PAUSE_FRAMES: usize = 10;
/// A word is never stretched by more than this to reach a pause.
const MAX_EXTEND: f64 = 0.5;
/// A quiet run this long (200 ms) inside a word's span is a pause between words, never a
/// closure inside one.
const SPLIT_PAUSE_FRAMES: usize = 20;

/// Which 10 ms frames of a recording are speech (true) or part of a pause (false).
pub struct SpeechMask {
    speech: Vec<bool>,
}

impl SpeechMask {
    /// From 16 kHz mono samples.
    pub fn from_pcm(pcm: &[f32]) -> Self {
        let rms: Vec<f32> = pcm
            .chunks(FRAME)
            .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
            .collect();
        let peak = rms.iter().fold(0f32, |m, &v| m.max(v));
        let mut speech: Vec<bool> = rms.iter().map(|&v| v >= peak * QUIET_RATIO).collect();
        // Short quiet runs count as speech.
        let mut i = 0;
        while i < speech.len() {
            if speech[i] {
                i += 1;
                continue;
            }
            let run_end = (i..speech.len())
                .find(|&k| speech[k])
                .unwrap_or(speech.len());
            if run_end - i < MIN_PAUSE_FRAMES {
                speech[i..run_end].fill(true);
            }
            i = run_end;
        }
        SpeechMask { speech }
    }

    #[cfg(test)]
    fn from_frames(speech: Vec<bool>) -> Self {
        SpeechMask { speech }
    }

    /// The frame that starts at or contains time `t`.
    fn frame(&self, t: f64) -> Option<usize> {
        let k = (t / FRAME_SECONDS + 1e-6).floor();
        (k >= 0.0 && (k as usize) < self.speech.len()).then_some(k as usize)
    }

    fn is_pause(&self, k: usize) -> bool {
        !self.speech[k]
    }

    /// End (exclusive frame index) of the run of equal frames containing `k`.
    fn run_end(&self, k: usize) -> usize {
        let kind = self.speech[k];
        (k..self.speech.len())
            .find(|&j| self.speech[j] != kind)
            .unwrap_or(self.speech.len())
    }

    /// Start (frame index) of the run of equal frames containing `k`.
    fn run_start(&self, k: usize) -> usize {
        let kind = self.speech[k];
        (0..=k)
            .rev()
            .find(|&j| self.speech[j] != kind)
            .map_or(0, |j| j + 1)
    }
}

fn time(frame: usize) -> f64 {
    frame as f64 * FRAME_SECONDS
}

/// Adjusts `words` (in time order) so none starts or ends inside a pause, and a word that
/// stops short of (or starts after) a pause's edge, with no other word in between, reaches
/// it.
pub fn snap_words(words: &mut [Word], mask: &SpeechMask) {
    split_spanned_pauses(words, mask);
    for w in words.iter_mut() {
        // A start in a pause moves to the end of the pause.
        if let Some(k) = mask.frame(w.start).filter(|&k| mask.is_pause(k)) {
            let speech_at = time(mask.run_end(k));
            if speech_at < w.end {
                w.start = speech_at;
            }
        }
        // An end in a pause moves back to where the pause began.
        if let Some(k) = mask
            .frame(w.end - FRAME_SECONDS / 2.0)
            .filter(|&k| mask.is_pause(k))
        {
            let pause_at = time(mask.run_start(k));
            if pause_at > w.start {
                w.end = pause_at;
            }
        }
    }
    let count = words.len();
    let has_pauses = (0..mask.speech.len()).any(|k| mask.is_pause(k));
    for i in 0..count {
        let next_start = words.get(i + 1).map_or(f64::INFINITY, |n| n.start);
        let prev_end = if i == 0 { 0.0 } else { words[i - 1].end };
        let w = &mut words[i];
        // Speech continues past the end and then pauses: the rest is this word's.
        if let Some(k) = mask.frame(w.end).filter(|&k| !mask.is_pause(k)) {
            let run_end = mask.run_end(k);
            let edge = time(run_end);
            // The end of the recording counts as a pause for the last word (when the
            // recording has pauses at all: without them snapping is off).
            let pause_follows = run_end < mask.speech.len() || (i + 1 == count && has_pauses);
            if pause_follows && edge <= next_start && edge - w.end <= MAX_EXTEND {
                w.end = edge;
            }
        }
        // Speech began before the start, right after a pause: so did this word.
        if let Some(k) = mask
            .frame(w.start - FRAME_SECONDS / 2.0)
            .filter(|&k| !mask.is_pause(k))
        {
            let run_start = mask.run_start(k);
            let edge = time(run_start);
            if run_start > 0 && edge >= prev_end && w.start - edge <= MAX_EXTEND {
                w.start = edge;
            }
        }
    }
}

/// The first long pause lying wholly inside `start..end`, as (first, end) frame indices.
fn pause_inside(mask: &SpeechMask, start: f64, end: f64) -> Option<(usize, usize)> {
    let first = mask.frame(start)?;
    let mut k = mask.run_end(first);
    while k < mask.speech.len() && time(k) < end {
        let run_end = mask.run_end(k);
        if mask.is_pause(k) && run_end - k >= SPLIT_PAUSE_FRAMES && time(run_end) < end {
            return Some((k, run_end));
        }
        k = run_end;
    }
    None
}

/// A word whose span covers a whole pause (Whisper measured giving the first word of a
/// sentence the previous word's tail and the pause after it) keeps only the side of the
/// pause where most of it lies; a neighbour that touched the side it gives up takes that
/// speech back.
fn split_spanned_pauses(words: &mut [Word], mask: &SpeechMask) {
    const TOUCHING: f64 = FRAME_SECONDS * 1.5;
    for i in 0..words.len() {
        let (start, end) = (words[i].start, words[i].end);
        let Some((pause, speech)) = pause_inside(mask, start, end) else {
            continue;
        };
        let (pause_at, speech_at) = (time(pause), time(speech));
        if end - speech_at >= pause_at - start {
            words[i].start = speech_at;
            if i > 0 && (words[i - 1].end - start).abs() <= TOUCHING {
                words[i - 1].end = pause_at;
            }
        } else {
            words[i].end = pause_at;
            if let Some(next) = words.get_mut(i + 1)
                && (next.start - end).abs() <= TOUCHING
            {
                next.start = speech_at;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(start: f64, end: f64) -> Word {
        Word {
            text: "w".into(),
            start,
            end,
            probability: 1.0,
        }
    }

    fn spans(words: &[Word]) -> Vec<(f64, f64)> {
        let r = |x: f64| (x * 1000.0).round() / 1000.0;
        words.iter().map(|w| (r(w.start), r(w.end))).collect()
    }

    /// Speech 0–1.00 s, pause 1.00–2.00 s, speech 2.00–3.00 s.
    fn two_phrases() -> SpeechMask {
        let mut frames = vec![true; 300];
        frames[100..200].fill(false);
        SpeechMask::from_frames(frames)
    }

    #[test]
    fn boundaries_leave_the_pause_and_reach_its_edges() {
        let mask = two_phrases();
        // As measured on Whisper: the last word stops 0.2 s short of the pause and the
        // next one starts 0.3 s into it.
        let mut words = vec![
            word(0.0, 0.5),
            word(0.5, 0.8),
            word(1.7, 2.4),
            word(2.4, 3.0),
        ];
        snap_words(&mut words, &mask);
        assert_eq!(
            spans(&words),
            vec![(0.0, 0.5), (0.5, 1.0), (2.0, 2.4), (2.4, 3.0)]
        );
    }

    #[test]
    fn words_inside_speech_are_untouched() {
        let mask = two_phrases();
        // Already on the pause's edges; the first word is not stretched back to 0 (no
        // pause precedes it there) and no word grows over its neighbour.
        let mut words = vec![
            word(0.1, 0.4),
            word(0.4, 0.6),
            word(0.6, 1.0),
            word(2.0, 2.5),
        ];
        snap_words(&mut words, &mask);
        // The last word owns the speech up to the end of the recording.
        assert_eq!(
            spans(&words),
            vec![(0.1, 0.4), (0.4, 0.6), (0.6, 1.0), (2.0, 3.0)]
        );
        // A word that stops short of a pause reaches it, but never past MAX_EXTEND.
        let mut words = vec![word(0.1, 0.4), word(2.2, 2.5)];
        snap_words(&mut words, &mask);
        assert_eq!(spans(&words), vec![(0.1, 0.4), (2.0, 3.0)]);
    }

    #[test]
    fn a_word_spanning_a_pause_keeps_the_side_where_most_of_it_lies() {
        let mask = two_phrases();
        // As measured on Whisper in CI: the first word after the pause started 0.13 s
        // before it, at the end of the previous word.
        let mut words = vec![word(0.2, 0.87), word(0.87, 2.5), word(2.5, 3.0)];
        snap_words(&mut words, &mask);
        assert_eq!(spans(&words), vec![(0.2, 1.0), (2.0, 2.5), (2.5, 3.0)]);
        // The mirror case: the last word before the pause runs into the next phrase.
        let mut words = vec![word(0.2, 0.6), word(0.6, 2.1), word(2.1, 3.0)];
        snap_words(&mut words, &mask);
        assert_eq!(spans(&words), vec![(0.2, 0.6), (0.6, 1.0), (2.0, 3.0)]);
    }

    #[test]
    fn an_end_inside_a_pause_moves_back_to_its_start() {
        let mask = two_phrases();
        let mut words = vec![word(0.6, 1.4), word(2.1, 2.9)];
        snap_words(&mut words, &mask);
        assert_eq!(spans(&words), vec![(0.6, 1.0), (2.0, 3.0)]);
    }

    #[test]
    fn short_quiet_runs_are_not_pauses_and_noise_disables_snapping() {
        // 16 kHz: a loud tone with a 50 ms gap, then 300 ms of silence.
        let mut pcm: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.3).sin() * 0.5).collect();
        pcm[8000..8800].fill(0.0);
        pcm.extend(std::iter::repeat_n(0.0, 4800));
        let mask = SpeechMask::from_pcm(&pcm);
        assert!(
            mask.speech[..100].iter().all(|&s| s),
            "50 ms gap is not a pause"
        );
        assert!(mask.speech[100..].iter().all(|&s| !s));

        let noisy: Vec<f32> = (0..16_000)
            .map(|i| ((i * 7919) % 13) as f32 / 13.0)
            .collect();
        let mask = SpeechMask::from_pcm(&noisy);
        let mut words = vec![word(0.2, 0.4), word(0.6, 0.9)];
        snap_words(&mut words, &mask);
        assert_eq!(spans(&words), vec![(0.2, 0.4), (0.6, 0.9)]);
    }
}
