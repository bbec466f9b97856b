//! The decoder against candle's Whisper decoder on a tiny model, fed at once and step by step.

use super::*;
use crate::providers::stt::ct2::tests::{max_diff, tiny_reference};
use candle_core::Device;

#[test]
fn matches_candles_decoder_fed_at_once_or_step_by_step() {
    let (vb, config, mut reference, mel) = tiny_reference();
    let ours = Decoder::load(vb.pp("model.decoder"), &config).unwrap();
    let audio = reference.encoder.forward(&mel, true).unwrap();
    let tokens = [3u32, 7, 1, 11, 0];

    let ids = Tensor::new(&tokens[..], &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let hidden = reference.decoder.forward(&ids, &audio, true).unwrap();
    let want = reference
        .decoder
        .final_linear(&hidden)
        .unwrap()
        .squeeze(0)
        .unwrap();

    let mut state = ours.start(&ours.cross(&audio).unwrap()).unwrap();
    let (hidden, scores) = ours.forward(&tokens, &mut state, true).unwrap();
    let all_at_once = ours.logits(&hidden).unwrap();
    assert_eq!(all_at_once.dims(), &[5, 12]);
    // candle's blocks use the tanh GELU, ours the exact one (as CT2's "activation" 3
    // and openai-whisper do): the tiny weights keep the difference far below this.
    assert!(
        max_diff(&all_at_once, &want) < 2e-3,
        "{}",
        max_diff(&all_at_once, &want)
    );
    assert_eq!(scores.len(), 2);
    assert_eq!(scores[0].dims(), &[1, 2, 5, 10]);

    let mut state = ours.start(&ours.cross(&audio).unwrap()).unwrap();
    let mut rows = Vec::new();
    for &token in &tokens {
        let (hidden, _) = ours.forward(&[token], &mut state, false).unwrap();
        rows.push(ours.logits(&hidden).unwrap());
    }
    let stepwise = Tensor::cat(&rows, 0).unwrap();
    assert!(max_diff(&stepwise, &all_at_once) < 1e-5);
    assert_eq!(state.len, 5);

    // The tail of the logits alone, as the decoding loop asks for when only timestamps
    // may follow: the same values, −∞ before.
    let mut state = ours.start(&ours.cross(&audio).unwrap()).unwrap();
    let (hidden, _) = ours.forward(&tokens[..1], &mut state, false).unwrap();
    let full: Vec<f32> = ours
        .logits(&hidden)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let tail = ours.logits_from(&hidden, 9).unwrap();
    assert_eq!(&tail[9..], &full[9..]);
    assert!(tail[..9].iter().all(|&x| x == f32::NEG_INFINITY));

    let too_long = vec![0u32; ours.max_len() + 1];
    assert!(
        ours.forward(
            &too_long,
            &mut ours.start(&ours.cross(&audio).unwrap()).unwrap(),
            false
        )
        .is_err()
    );
}
