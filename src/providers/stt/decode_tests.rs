//! Tests for the decoding rules and segment cutting, on a made-up small vocabulary.

use super::*;

/// Text tokens 0..5, then <|endoftext|> 5, specials 6..=8, timestamps from 9.
const TOKENS: SpecialTokens = SpecialTokens {
    eot: 5,
    sot: 6,
    transcribe: 7,
    no_timestamps: 8,
    no_speech: 6,
    timestamp_begin: 9,
};
const VOCAB: usize = 9 + 100;

fn ts(step: u32) -> u32 {
    TOKENS.timestamp_begin + step
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn config() -> Ct2Config {
    Ct2Config {
        alignment_heads: Vec::new(),
        lang_ids: Vec::new(),
        suppress_ids: vec![1],
        suppress_ids_begin: vec![0, 5],
    }
}

/// Which tokens survive the rules after `sampled`, with text tokens preferred (logit 1)
/// over timestamps (logit 0) so the probability rule stays out of the way.
fn allowed(sampled: &[u32]) -> Vec<u32> {
    let mut logits = vec![0f32; VOCAB];
    logits[..5].fill(10.0);
    apply_rules(&mut logits, sampled, TOKENS, &config());
    (0..VOCAB as u32)
        .filter(|&i| logits[i as usize] > f32::NEG_INFINITY)
        .collect()
}

#[test]
fn first_token_is_an_early_timestamp() {
    let first = allowed(&[]);
    assert_eq!(first, (ts(0)..=ts(50)).collect::<Vec<_>>());
}

#[test]
fn timestamps_pair_up_and_never_go_back() {
    // After the opening timestamp: text or the end, never a special or suppressed token.
    assert_eq!(allowed(&[ts(3)]), vec![0, 2, 3, 4, 5]);
    // Inside a segment: text, the end, or a closing timestamp after the opening one.
    let inside = allowed(&[ts(3), 2, 4]);
    assert!(inside.contains(&2) && inside.contains(&5));
    assert!(!inside.contains(&ts(3)) && inside.contains(&ts(4)));
    assert!(!inside.contains(&1) && !inside.contains(&7));
    // Right after a closing timestamp: no text; the next opening timestamp may repeat the
    // closing time. (The end is allowed too, but the timestamps' total mass outweighs it
    // here, which masks it, as in openai-whisper.)
    let closing = allowed(&[ts(3), 2, ts(20)]);
    assert_eq!(closing[0], ts(20));
    assert_eq!(closing.len(), VOCAB - ts(20) as usize);
    // After a pair: text again (or the end).
    assert_eq!(allowed(&[ts(3), 2, ts(20), ts(20)]), vec![0, 2, 3, 4, 5]);
}

#[test]
fn text_logits_are_skipped_only_where_the_rules_mask_all_text() {
    let histories: [&[u32]; 6] = [
        &[],
        &[ts(3)],
        &[ts(3), 2],
        &[ts(3), 2, ts(20)],
        &[ts(3), 2, ts(20), ts(20)],
        &[ts(3), 2, ts(20), ts(20), 4, ts(30)],
    ];
    for sampled in histories {
        let text_allowed = allowed(sampled).iter().any(|&tok| tok < TOKENS.eot);
        assert_eq!(
            only_timestamps(sampled, TOKENS),
            !text_allowed,
            "{sampled:?}"
        );
    }
}

#[test]
fn likely_timestamps_beat_a_single_text_token() {
    let mut logits = vec![0f32; VOCAB];
    logits[2] = 2.0;
    // 99 timestamps at logit 0 weigh ln 99 ≈ 4.6 > 2: text is masked.
    apply_rules(&mut logits, &[ts(0), 2], TOKENS, &config());
    assert_eq!(logits[2], f32::NEG_INFINITY);
    assert!(logits[ts(5) as usize] > f32::NEG_INFINITY);
}

#[test]
fn segments_from_timestamp_pairs() {
    let tokens = [ts(0), 2, 3, ts(10), ts(10), 4, ts(20)];
    let (segments, consumed) = split_segments(&tokens, TOKENS.timestamp_begin, 30.0, 3000);
    let spans: Vec<(f64, f64, Vec<u32>)> = segments
        .iter()
        .map(|s| (round(s.start), round(s.end), s.tokens.clone()))
        .collect();
    assert_eq!(spans, vec![(30.0, 30.2, vec![2, 3]), (30.2, 30.4, vec![4])]);
    // Ended on a single timestamp: the whole window was heard.
    assert_eq!(consumed, 3000);
}

#[test]
fn text_cut_off_at_the_window_end_is_decoded_again() {
    let tokens = [ts(0), 2, ts(500), ts(510), 3, 4];
    let (segments, consumed) = split_segments(&tokens, TOKENS.timestamp_begin, 0.0, 3000);
    assert_eq!(segments.len(), 1);
    assert_eq!(
        (round(segments[0].start), round(segments[0].end)),
        (0.0, 10.0)
    );
    // Next window starts at the last closing timestamp: 10 s = 1000 frames.
    assert_eq!(consumed, 1000);
}

#[test]
fn windows_without_pairs_are_one_segment_or_none() {
    let (segments, consumed) = split_segments(&[ts(0), 2, 3], TOKENS.timestamp_begin, 0.0, 1200);
    assert_eq!(segments.len(), 1);
    assert_eq!(round(segments[0].end), 12.0);
    assert_eq!(consumed, 1200);
    let (segments, consumed) =
        split_segments(&[ts(0), 2, ts(150)], TOKENS.timestamp_begin, 0.0, 1200);
    assert_eq!(round(segments[0].end), 3.0);
    assert_eq!(consumed, 1200);
    let (segments, consumed) = split_segments(&[], TOKENS.timestamp_begin, 0.0, 3000);
    assert!(segments.is_empty());
    assert_eq!(consumed, 3000);
}

#[test]
fn log_sum_exp_and_argmax() {
    assert!((log_sum_exp(&[0.0, 0.0]) - 2f32.ln()).abs() < 1e-6);
    assert_eq!(log_sum_exp(&[f32::NEG_INFINITY]), f32::NEG_INFINITY);
    assert_eq!(log_sum_exp(&[]), f32::NEG_INFINITY);
    assert_eq!(argmax(&[0.0, 3.0, 3.0, 1.0]), 1);
}
