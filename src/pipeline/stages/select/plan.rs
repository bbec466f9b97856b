//! The timeline of one video: the spans of the narration (`spans.rs`: each sentence's time,
//! a long one cut at word or clause boundaries into pieces no longer than the max clip
//! length), each given a clip by the concat mode. Boundaries sit on the frame grid so the
//! render's cuts land exactly where planned; a cut never asks a clip for more than it has
//! (short footage takes more cuts, it is never frozen).

use super::super::artifacts::{Timeline, TimelineSegment};
use super::assign;
use super::spans::Span;
use crate::media::ClipSource;
use crate::media::render::Transition;
use crate::providers::footage::Clip;
use crate::providers::tts::Narration;
use std::collections::{HashSet, VecDeque};

/// How clips are chosen for the pieces of the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConcatMode {
    /// The clips found for the sentence (and sharing its words) first.
    ScriptOrder,
    /// The clips in the order they were found, one after another.
    Sequential,
    /// A shuffled order; every clip is used once before any is used again.
    Random,
    /// The clip that shows what each sentence says (`PlanOptions::relevance`), chosen over
    /// the whole timeline at once.
    Semantic,
}

impl ConcatMode {
    pub fn from_name(name: &str) -> ConcatMode {
        match name {
            "sequential" => ConcatMode::Sequential,
            "random" => ConcatMode::Random,
            "semantic" => ConcatMode::Semantic,
            _ => ConcatMode::ScriptOrder,
        }
    }
}

#[derive(Clone, Debug)]
pub struct PlanOptions {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Longest cut, frames.
    pub max_frames: u64,
    pub mode: ConcatMode,
    /// Playback speed of the footage.
    pub speed: f64,
    /// "none", a transition name, or "shuffle" (a random one per cut).
    pub transition: String,
    pub transition_secs: f64,
    /// Seeds the random choices (order, shuffled transitions): the task and the video number,
    /// so a re-run gives the same video and each video of a task a different one.
    pub seed: u64,
    /// How often each clip was used by the task's earlier videos: those clips are avoided, so
    /// every video of a task gets its own order.
    pub earlier_uses: Vec<u32>,
    /// Semantic mode: similarity of each span (row, in the order of the spans given to
    /// [`plan_timeline`]) with each clip (column).
    pub relevance: Vec<Vec<f32>>,
}

pub fn word_set(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .map(str::to_lowercase)
        .collect()
}

/// The timeline of `spans` (from [`super::spans::spans`]) over the whole narration.
pub fn plan_timeline(
    clips: &[Clip],
    narration: &Narration,
    spans: &[Span],
    sentence_words: &[HashSet<String>],
    options: &PlanOptions,
) -> Timeline {
    let fps = options.fps;
    let to_frame = |t: f64| (t * f64::from(fps)).round() as u64;
    let total_frames = to_frame(narration.duration);
    let mut picker = Picker::new(clips, options);
    if options.mode == ConcatMode::Semantic {
        picker.queued = semantic_queues(clips, spans, options);
    }
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let transition_frames = to_frame(options.transition_secs);
    let mut segments: Vec<TimelineSegment> = Vec::new();
    let empty = HashSet::new();
    for (index, span) in spans.iter().enumerate() {
        let words = sentence_words.get(span.sentence).unwrap_or(&empty);
        let mut frame = span.start;
        while frame < span.end {
            let remaining = span.end - frame;
            let pieces = remaining.div_ceil(options.max_frames.max(1));
            let wanted = remaining.div_ceil(pieces);
            let transition = if segments.is_empty() {
                Transition::None
            } else {
                pick_transition(&options.transition, &mut rng)
            };
            // A transition reads the incoming clip that much earlier.
            let lead = if transition == Transition::None {
                0
            } else {
                transition_frames.min(wanted / 2)
            };
            let (pick, why) = picker.pick(words, span.sentence, index, wanted + lead);
            let clip = &clips[pick];
            let available = clip.duration.map_or(u64::MAX, |d| {
                ((d - 0.05).max(0.0) / options.speed * f64::from(fps)).floor() as u64
            });
            let length = wanted
                .min(available.saturating_sub(lead))
                .max(1)
                .min(remaining);
            let start_in = in_point(clip, picker.uses[pick], length, lead, options);
            picker.uses[pick] += 1;
            segments.push(TimelineSegment {
                source: clip.source.clone(),
                start_in,
                start: frame as f64 / f64::from(fps),
                duration: length as f64 / f64::from(fps),
                sentence: span.sentence,
                description: clip.description.clone(),
                speed: options.speed,
                transition,
                text: span.text.clone(),
                score: (options.mode == ConcatMode::Semantic)
                    .then(|| {
                        options
                            .relevance
                            .get(index)
                            .and_then(|r| r.get(pick))
                            .copied()
                    })
                    .flatten(),
                why,
            });
            frame += length;
        }
    }
    Timeline {
        width: options.width,
        height: options.height,
        fps,
        duration: total_frames as f64 / f64::from(fps),
        transition_secs: options.transition_secs,
        segments,
    }
}

/// Every span as one piece (two or more only if a span outgrew the max clip length), solved
/// over the whole timeline, each scored on its own span's relevance row; each span's clips in
/// the order its pieces show them.
fn semantic_queues(clips: &[Clip], spans: &[Span], options: &PlanOptions) -> Vec<VecDeque<usize>> {
    let fps = f64::from(options.fps);
    let mut pieces = Vec::new();
    let mut rows: Vec<&[f32]> = Vec::new();
    let mut owners = Vec::new();
    for (index, span) in spans.iter().enumerate() {
        let frames = (span.end - span.start).max(1);
        let parts = frames.div_ceil(options.max_frames.max(1));
        let row = options.relevance.get(index).map_or(&[][..], Vec::as_slice);
        for _ in 0..parts {
            pieces.push(assign::Piece {
                sentence: span.sentence,
                seconds: (frames as f64 / parts as f64) / fps * options.speed,
            });
            rows.push(row);
            owners.push(index);
        }
    }
    let candidates: Vec<assign::Candidate> = clips
        .iter()
        .enumerate()
        .map(|(i, c)| assign::Candidate {
            duration: c.duration,
            sentence: c.sentence,
            earlier_uses: options.earlier_uses.get(i).copied().unwrap_or(0),
        })
        .collect();
    let chosen = assign::assign_rows(&pieces, &candidates, &rows);
    let mut queues = vec![VecDeque::new(); spans.len()];
    for (owner, clip) in owners.into_iter().zip(chosen) {
        queues[owner].push_back(clip);
    }
    queues
}

fn pick_transition(name: &str, rng: &mut fastrand::Rng) -> Transition {
    match name {
        "shuffle" => Transition::ALL[rng.usize(..Transition::ALL.len())],
        other => Transition::from_name(other).unwrap_or(Transition::None),
    }
}

/// Chooses the clip of each piece according to the concat mode, remembering uses.
struct Picker<'a> {
    clips: &'a [Clip],
    clip_words: Vec<HashSet<String>>,
    options: &'a PlanOptions,
    uses: Vec<u32>,
    /// Sequential and random modes walk this order round and round.
    order: Vec<usize>,
    next: usize,
    /// Semantic mode: the clips the global assignment gave each span, still to show.
    queued: Vec<VecDeque<usize>>,
}

impl<'a> Picker<'a> {
    fn new(clips: &'a [Clip], options: &'a PlanOptions) -> Picker<'a> {
        let mut order: Vec<usize> = (0..clips.len()).collect();
        let earlier = |i: usize| options.earlier_uses.get(i).copied().unwrap_or(0);
        match options.mode {
            ConcatMode::Random => fastrand::Rng::with_seed(options.seed).shuffle(&mut order),
            // Later videos start where the earlier ones used clips least.
            ConcatMode::Sequential => order.sort_by_key(|&i| (earlier(i), i)),
            ConcatMode::ScriptOrder | ConcatMode::Semantic => {}
        }
        Picker {
            clips,
            clip_words: clips.iter().map(|c| word_set(&c.description)).collect(),
            options,
            uses: vec![0; clips.len()],
            order,
            next: 0,
            queued: Vec::new(),
        }
    }

    /// The clip for the next piece of `sentence` in span `span`, and why it was chosen.
    fn pick(
        &mut self,
        words: &HashSet<String>,
        sentence: usize,
        span: usize,
        frames: u64,
    ) -> (usize, String) {
        let needed = frames as f64 / f64::from(self.options.fps) * self.options.speed;
        match self.options.mode {
            ConcatMode::ScriptOrder => (
                self.best_for_sentence(words, sentence, needed),
                "script order: found for this sentence or sharing its words".into(),
            ),
            ConcatMode::Semantic => match self.queued.get_mut(span).and_then(VecDeque::pop_front) {
                Some(pick) if self.uses[pick] == 0 => {
                    (pick, "semantic: chosen over the whole timeline".into())
                }
                Some(pick) => (
                    pick,
                    "semantic: chosen over the whole timeline (reused: no unused clip fits better)"
                        .into(),
                ),
                // Footage shorter than planned: more cuts, the most relevant clip least used.
                None => (
                    self.most_relevant(sentence, span, needed),
                    "semantic: an extra cut where the footage was shorter than the span".into(),
                ),
            },
            ConcatMode::Sequential | ConcatMode::Random => {
                // The next clip in the order that is long enough, else simply the next one.
                let n = self.order.len();
                let fits = |i: usize| self.clips[i].duration.is_none_or(|d| d >= needed);
                let offset = (0..n)
                    .find(|k| fits(self.order[(self.next + k) % n]))
                    .unwrap_or(0);
                let pick = self.order[(self.next + offset) % n];
                self.next = (self.next + offset + 1) % n;
                let mode = if self.options.mode == ConcatMode::Random {
                    "random"
                } else {
                    "sequential"
                };
                (pick, format!("{mode}: next in the order"))
            }
        }
    }

    /// Sentence match first, then words shared with the sentence and its terms, then
    /// freshness (in this video and the task's earlier ones); a clip too short for the piece
    /// is only taken when nothing longer exists.
    fn best_for_sentence(&self, words: &HashSet<String>, sentence: usize, needed: f64) -> usize {
        let score = |i: usize| {
            let clip = &self.clips[i];
            let fits = clip.duration.is_none_or(|d| d >= needed);
            let own = clip.sentence == Some(sentence);
            let shared = self.clip_words[i].intersection(words).count() as f64;
            let earlier = self.options.earlier_uses.get(i).copied().unwrap_or(0);
            let length = clip.duration.unwrap_or(f64::MAX);
            (
                fits,
                3.0 * f64::from(u8::from(own)) + shared
                    - 4.0 * f64::from(self.uses[i])
                    - 2.0 * f64::from(earlier),
                length,
            )
        };
        (0..self.clips.len())
            .max_by(|a, b| {
                let (fa, sa, la) = score(*a);
                let (fb, sb, lb) = score(*b);
                fa.cmp(&fb)
                    .then(sa.total_cmp(&sb))
                    .then(la.total_cmp(&lb))
                    .then(b.cmp(a))
            })
            .expect("the footage stage never hands over an empty clip list")
    }
}

impl Picker<'_> {
    fn most_relevant(&self, sentence: usize, span: usize, needed: f64) -> usize {
        let row = self.options.relevance.get(span);
        let score = |i: usize| {
            let candidate = assign::Candidate {
                duration: self.clips[i].duration,
                sentence: self.clips[i].sentence,
                earlier_uses: self.options.earlier_uses.get(i).copied().unwrap_or(0),
            };
            let piece = assign::Piece {
                sentence,
                seconds: needed,
            };
            let r = row.and_then(|r| r.get(i)).copied().unwrap_or(0.0);
            assign::score(&piece, &candidate, r) - f64::from(self.uses[i])
        };
        (0..self.clips.len())
            .max_by(|a, b| score(*a).total_cmp(&score(*b)).then(b.cmp(a)))
            .expect("the footage stage never hands over an empty clip list")
    }
}

/// Where to start inside a video: a different part each time the clip is reused, leaving
/// `lead` frames before it for a transition when the clip has room.
fn in_point(clip: &Clip, used: u32, frames: u64, lead: u64, options: &PlanOptions) -> f64 {
    let fps = f64::from(options.fps);
    match (&clip.source, clip.duration) {
        (ClipSource::Video(_), Some(duration)) => {
            let lead_secs = lead as f64 / fps * options.speed;
            let read = frames as f64 / fps * options.speed;
            let spare = duration - 0.05 - read - lead_secs;
            if spare <= 0.0 {
                (duration - 0.05 - read).clamp(0.0, lead_secs)
            } else {
                let step = (f64::from(used) * 0.618_034).fract();
                lead_secs + ((spare * step) * fps).floor() / fps
            }
        }
        _ => 0.0,
    }
}
