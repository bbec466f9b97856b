//! Unit tests of the select stage's timeline planning.

use super::*;
use crate::media::ClipSource;
use crate::media::render::Transition;
use crate::providers::footage::Clip;
use crate::providers::tts::SpokenSentence;

fn options(max_frames: u64) -> PlanOptions {
    PlanOptions {
        width: 1080,
        height: 1920,
        fps: 30,
        max_frames,
        mode: ConcatMode::ScriptOrder,
        speed: 1.0,
        transition: "none".into(),
        transition_secs: 0.5,
        seed: 7,
        earlier_uses: vec![0; 8],
        relevance: Vec::new(),
    }
}

fn clip(name: &str, duration: Option<f64>, sentence: Option<usize>) -> Clip {
    Clip {
        sentence,
        ..Clip::new(
            ClipSource::Video(name.into()),
            duration,
            (640, 360),
            name.replace('_', " "),
            "local",
        )
    }
}

fn narration() -> Narration {
    Narration {
        duration: 9.0,
        sample_rate: 22050,
        sentences: vec![
            SpokenSentence {
                text: "Cats purr when happy.".into(),
                start: 0.0,
                end: 2.0,
            },
            SpokenSentence {
                text: "The ocean is deep.".into(),
                start: 2.3,
                end: 8.7,
            },
        ],
    }
}

fn plan(clips: &[Clip], words: &[HashSet<String>], o: &PlanOptions) -> Timeline {
    let n = narration();
    plan_timeline(clips, &n, &spans(&n, None, o.fps, o.max_frames), words, o)
}

#[test]
fn cuts_cover_the_narration_on_the_frame_grid() {
    let clips = vec![
        clip("happy_cats", Some(30.0), None),
        clip("deep_ocean", Some(30.0), None),
    ];
    let words = vec![
        word_set("Cats purr when happy"),
        word_set("The ocean is deep"),
    ];
    let t = plan(&clips, &words, &options(150));
    let total: f64 = t.segments.iter().map(|s| s.duration).sum();
    assert!((total - 9.0).abs() < 1e-9);
    // Sentence 2 starts at 2.3 s = frame 69: the first cut of sentence 2 starts there.
    let second = t.segments.iter().find(|s| s.sentence == 1).unwrap();
    assert!((second.start - 2.3).abs() < 1e-9);
    assert!(t.segments.iter().all(|s| s.duration <= 5.0 + 1e-9));
    assert_eq!(t.segments[0].description, "happy cats");
    assert_eq!(second.description, "deep ocean");
}

#[test]
fn short_clips_take_more_cuts_and_never_run_past_their_end() {
    let clips = vec![clip("a", Some(1.0), None), clip("b", Some(1.5), None)];
    let t = plan(&clips, &[], &options(150));
    let total: f64 = t.segments.iter().map(|s| s.duration).sum();
    assert!((total - 9.0).abs() < 1e-9);
    for s in &t.segments {
        let len = if s.description == "a" { 1.0 } else { 1.5 };
        assert!(s.start_in + s.duration <= len, "{s:?}");
    }
}

#[test]
fn own_sentence_clips_win() {
    let clips = vec![clip("x", None, Some(1)), clip("y", None, Some(0))];
    let t = plan(&clips, &[], &options(300));
    assert_eq!(t.segments[0].description, "y");
    assert_eq!(t.segments.last().unwrap().description, "x");
}

#[test]
fn random_and_sequential_use_every_clip_before_repeating() {
    let clips: Vec<Clip> = (0..4)
        .map(|i| clip(&format!("c{i}"), Some(2.0), None))
        .collect();
    for mode in [ConcatMode::Random, ConcatMode::Sequential] {
        let o = PlanOptions {
            mode,
            ..options(45)
        };
        let t = plan(&clips, &[], &o);
        let first: Vec<&str> = t
            .segments
            .iter()
            .take(4)
            .map(|s| s.description.as_str())
            .collect();
        let distinct: HashSet<&&str> = first.iter().collect();
        assert_eq!(distinct.len(), 4, "{mode:?}: {first:?}");
        if mode == ConcatMode::Sequential {
            assert_eq!(first, ["c0", "c1", "c2", "c3"]);
        }
    }
}

#[test]
fn speed_and_transitions_respect_the_clip_length() {
    let clips = vec![clip("a", Some(3.0), None), clip("b", Some(3.0), None)];
    let o = PlanOptions {
        speed: 2.0,
        transition: "shuffle".into(),
        ..options(150)
    };
    let t = plan(&clips, &[], &o);
    let total: f64 = t.segments.iter().map(|s| s.duration).sum();
    assert!((total - 9.0).abs() < 1e-9);
    assert_eq!(t.segments[0].transition, Transition::None);
    assert!(
        t.segments[1..]
            .iter()
            .all(|s| s.transition != Transition::None)
    );
    for s in &t.segments {
        let lead: f64 = if s.transition == Transition::None {
            0.0
        } else {
            0.5f64.min(s.duration / 2.0) * 2.0 - 0.07
        };
        assert!(s.start_in + s.duration * 2.0 <= 3.0 + 1e-9, "{s:?}");
        // Room before the in-point for the transition to read the clip early.
        assert!(s.start_in + 1e-6 >= lead, "{s:?}");
    }
}

#[test]
fn later_videos_prefer_clips_the_earlier_ones_did_not_use() {
    let clips = vec![
        clip("x1", None, Some(0)),
        clip("x2", None, Some(0)),
        clip("y1", None, Some(1)),
        clip("y2", None, Some(1)),
    ];
    let first = plan(&clips, &[], &options(300));
    let mut earlier = vec![0; 4];
    for (i, c) in clips.iter().enumerate() {
        earlier[i] = first
            .segments
            .iter()
            .filter(|s| s.source == c.source)
            .count() as u32;
    }
    let o = PlanOptions {
        earlier_uses: earlier,
        ..options(300)
    };
    let second = plan(&clips, &[], &o);
    let names = |t: &Timeline| {
        t.segments
            .iter()
            .map(|s| s.description.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), ["x1", "y1"]);
    assert_eq!(names(&second), ["x2", "y2"]);
}

#[test]
fn each_piece_of_a_split_sentence_gets_the_clip_of_its_own_words() {
    let n = Narration {
        duration: 8.0,
        sample_rate: 22050,
        sentences: vec![SpokenSentence {
            text:
                "The glacier carves the valley very slowly, and the meltwater fills the lake below."
                    .into(),
            start: 0.0,
            end: 8.0,
        }],
    };
    let spans = spans(&n, None, 30, 150);
    assert_eq!(spans.len(), 2);
    let clips = vec![
        clip("meltwater_lake", Some(10.0), None),
        clip("glacier_valley", Some(10.0), None),
    ];
    // Rows per span: the first piece's words fit clip 1, the second's clip 0.
    let o = PlanOptions {
        mode: ConcatMode::Semantic,
        relevance: vec![vec![0.2, 0.8], vec![0.7, 0.3]],
        ..options(150)
    };
    let t = plan_timeline(&clips, &n, &spans, &[], &o);
    let shown: Vec<(&str, &str)> = t
        .segments
        .iter()
        .map(|s| (s.text.as_str(), s.description.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            (
                "The glacier carves the valley very slowly,",
                "glacier valley"
            ),
            ("and the meltwater fills the lake below.", "meltwater lake"),
        ]
    );
    assert_eq!(t.segments[0].score, Some(0.8));
    assert!((t.segments[1].start - spans[1].start as f64 / 30.0).abs() < 1e-9);
}
