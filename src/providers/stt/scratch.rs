//! TEMPORARY experiment, to be deleted.
#![allow(clippy::unwrap_used, missing_docs)]
use super::decode::decode_window;
use super::mel::{mel_filters, WINDOW_FRAMES};
use super::model::WhisperModel;
use candle_core::{Device, IndexOp, Tensor};
use std::path::Path;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

fn greedy_plain(model: &WhisperModel, audio: &Tensor, lang: u32) -> String {
    let t = model.tokens;
    let d = &model.decoder;
    let mut st = d.start(audio).unwrap();
    let prompt = [t.sot, lang, t.transcribe, t.no_timestamps];
    let (h, _) = d.forward(&prompt, &mut st, false).unwrap();
    let mut h = h.narrow(1, 3, 1).unwrap();
    let mut out = vec![];
    for _ in 0..100 {
        let mut l: Vec<f32> = d.logits(&h).unwrap().i(0).unwrap().to_vec1().unwrap();
        for &s in &model.config.suppress_ids { l[s as usize] = f32::NEG_INFINITY; }
        for v in l[t.eot as usize + 1..].iter_mut() { *v = f32::NEG_INFINITY; }
        let mut best = 0; for i in 0..l.len() { if l[i] > l[best] { best = i; } }
        if best as u32 == t.eot { break; }
        out.push(best as u32);
        h = d.forward(&[best as u32], &mut st, false).unwrap().0;
    }
    model.decode_text(&out)
}

pub fn experiment(dir: &Path, pcm: &[f32]) {
    let model = WhisperModel::load(dir, Device::Cpu).unwrap();
    let en = model.language_token("en").unwrap();
    let t0 = Instant::now();
    let mel = model.mel.compute(pcm, &Device::Cpu).unwrap();
    println!("my mel {:?}", t0.elapsed());
    let cfg = candle_transformers::models::whisper::Config { num_mel_bins: 80, max_source_positions: 1500, d_model: 512, encoder_attention_heads: 8, encoder_layers: 6, vocab_size: 51865, max_target_positions: 448, decoder_attention_heads: 8, decoder_layers: 6, suppress_tokens: vec![] };
    let filters = mel_filters(16000, 400, 80);
    let t0 = Instant::now();
    let cmel = candle_transformers::models::whisper::audio::pcm_to_mel(&cfg, pcm, &filters);
    println!("candle mel {:?}", t0.elapsed());
    let n_len = cmel.len() / 80;
    let cmel = Tensor::from_vec(cmel, (1, 80, n_len), &Device::Cpu).unwrap().narrow(2, 0, WINDOW_FRAMES).unwrap();
    let mine = mel.window(0).unwrap();
    let content = mel.content_frames;
    let diff = (mine.narrow(2, 0, content).unwrap() - cmel.narrow(2, 0, content).unwrap()).unwrap().abs().unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap();
    println!("content {content} n_len {n_len} mean abs diff mine vs candle (content) {diff}");
    let mv: Vec<f32> = mine.i((0, 10)).unwrap().narrow(0, 40, 8).unwrap().to_vec1().unwrap();
    let cv: Vec<f32> = cmel.i((0, 10)).unwrap().narrow(0, 40, 8).unwrap().to_vec1().unwrap();
    println!("mine {mv:?}\ncand {cv:?}");
    for (name, x) in [("mine", &mine), ("candle", &cmel)] {
        let mut enc = model.encoder.clone();
        let t0 = Instant::now();
        let audio = enc.forward(x, true).unwrap();
        println!("[{name}] encoder {:?}", t0.elapsed());
        let t0 = Instant::now();
        let d = decode_window(&model, &audio, en, &CancellationToken::new()).unwrap();
        println!("[{name}] ts decode {:?} ({} tokens): {:?}", t0.elapsed(), d.tokens.len(), model.decode_text(&d.tokens));
        let t0 = Instant::now();
        println!("[{name}] plain: {:?} {:?}", greedy_plain(&model, &audio, en), t0.elapsed());
    }
}

pub fn experiment2(dir: &Path, pcms: &[(String, Vec<f32>)]) {
    let model = WhisperModel::load(dir, Device::Cpu).unwrap();
    let en = model.language_token("en").unwrap();
    for (name, pcm) in pcms {
        let mel = model.mel.compute(pcm, &Device::Cpu).unwrap();
        let mut enc = model.encoder.clone();
        let t0 = Instant::now();
        let audio = enc.forward(&mel.window(0).unwrap(), true).unwrap();
        let te = t0.elapsed();
        let d = decode_window(&model, &audio, en, &CancellationToken::new()).unwrap();
        println!("[{name}] enc {te:?} ts: {:?} | plain: {:?}", model.decode_text(&d.tokens), greedy_plain(&model, &audio, en));
    }
}
