//! Piper speaks, Whisper listens: the two real models checked against each other. Word error
//! rate of the transcript, and Whisper's word timestamps against the sentence boundaries the
//! voice reported. Needs the models (./scripts/fetch-models.sh) and espeak-ng.

use reelforge::providers::models::{ModelKind, installed};
use reelforge::providers::stt::whisper::WhisperStt;
use reelforge::providers::stt::{SttProvider, align_to_script};
use reelforge::providers::tts::TtsProvider;
use reelforge::providers::tts::piper::PiperVoice;
use tokio_util::sync::CancellationToken;

fn require(kind: ModelKind) -> std::path::PathBuf {
    installed(kind).unwrap_or_else(|why| panic!("{why}"))
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Levenshtein distance over words / reference length.
fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (words(reference), words(hypothesis));
    let mut row: Vec<usize> = (0..=h.len()).collect();
    for i in 1..=r.len() {
        let mut prev = row[0];
        row[0] = i;
        for j in 1..=h.len() {
            let cost = usize::from(r[i - 1] != h[j - 1]);
            let next = (row[j] + 1).min(row[j - 1] + 1).min(prev + cost);
            prev = row[j];
            row[j] = next;
        }
    }
    row[h.len()] as f64 / r.len().max(1) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_speech_is_transcribed_and_timed_by_whisper() {
    let piper_dir = require(ModelKind::Piper);
    let whisper_dir = require(ModelKind::Whisper);
    let voice = PiperVoice::new(
        piper_dir.join("en_US-joe-medium.onnx"),
        "en-us".into(),
        1.0,
        1.0,
        400,
        -14.0,
    );
    let sentences: Vec<String> = [
        "The quick brown fox jumps over the lazy dog.",
        "Cats purr when they feel safe and calm.",
        "Volcanoes form where molten rock rises through the crust.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("narration.wav");
    let cancel = CancellationToken::new();
    let narration = voice
        .synthesize(&sentences, &wav, &cancel, &|_| {})
        .await
        .expect("Piper synthesizes");

    let whisper = WhisperStt::new(whisper_dir, "cpu".into());
    let transcript = whisper
        .transcribe(&wav, Some("en"), &cancel, &|_| {})
        .await
        .expect("Whisper transcribes");
    let reference = sentences.join(" ");
    let wer = word_error_rate(&reference, &transcript.text);
    println!(
        "reference : {reference}\ntranscript: {}\nWER {:.1} %",
        transcript.text,
        wer * 100.0
    );
    assert!(wer <= 0.10, "word error rate {:.1} % > 10 %", wer * 100.0);

    // Whisper's words around each boundary against the boundaries Piper reported.
    let aligned = align_to_script(&transcript.words, &sentences);
    let mut worst: f64 = 0.0;
    for (i, spoken) in narration.sentences.iter().enumerate() {
        let first = aligned[i].first().expect("every sentence has words");
        let last = aligned[i].last().expect("every sentence has words");
        let start_error = (first.start - spoken.start).abs();
        let end_error = (last.end - spoken.end).abs();
        println!(
            "sentence {i}: voice {:.3}–{:.3} s, whisper {:.3}–{:.3} s",
            spoken.start, spoken.end, first.start, last.end
        );
        worst = worst.max(start_error).max(end_error);
    }
    println!("largest boundary error {:.0} ms", worst * 1000.0);
    assert!(
        worst <= 0.150,
        "word timestamps {:.0} ms from the sentence boundaries",
        worst * 1000.0
    );
}
