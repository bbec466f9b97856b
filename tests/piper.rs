//! The Piper voice with the real model (installed by ./scripts/fetch-models.sh): real audio,
//! exact sentence timings, loudness on target, one load per process, prompt cancellation.

use reelforge::providers::ProviderError;
use reelforge::providers::tts::loudness::integrated_loudness;
use reelforge::providers::tts::piper::PiperVoice;
use reelforge::providers::tts::piper_model::config_path;
use reelforge::providers::tts::{Narration, TtsProvider};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const GAP_MS: u32 = 250;

/// The installed voice; a missing one fails the test (never a silent skip).
fn model_path() -> PathBuf {
    let path = PiperVoice::default_model_path();
    assert!(
        path.is_file() && config_path(&path).is_file(),
        "the Piper voice is not installed at {}: run ./scripts/fetch-models.sh",
        path.display()
    );
    path
}

fn voice(rate: f64) -> PiperVoice {
    PiperVoice::new(model_path(), "en-us".into(), rate, 1.0, GAP_MS, -14.0)
}

fn sentences(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|s| s.to_string()).collect()
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<f32>) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    let samples = reader
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    (spec, samples)
}

async fn speak(voice: &PiperVoice, texts: &[String], out: &Path) -> Narration {
    voice
        .synthesize(texts, out, &CancellationToken::new(), &|_| {})
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sentences_with_exact_timings_and_target_loudness() {
    let voice = voice(1.0);
    let first = voice.warm_up().await.unwrap().unwrap();
    let second = voice.warm_up().await.unwrap().unwrap();
    println!("first warm_up: {} in {} ms", first.model, first.load_ms);
    assert_eq!(second.load_ms, 0, "the model must load once per process");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(config_path(&model_path())).unwrap())
            .unwrap();
    let expected_rate = json["audio"]["sample_rate"].as_u64().unwrap() as u32;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("voice.wav");
    let texts = sentences(&[
        "Cats purr at a frequency between twenty five and one hundred fifty hertz.",
        "Scientists think the sound may help their bones heal, which is remarkable!",
        "Do dogs ever purr?",
    ]);
    let progress = std::sync::Mutex::new(Vec::new());
    let started = Instant::now();
    let narration = voice
        .synthesize(&texts, &out, &CancellationToken::new(), &|p| {
            progress.lock().unwrap().push(p)
        })
        .await
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();

    let (spec, samples) = read_wav(&out);
    assert_eq!((spec.channels, spec.bits_per_sample), (1, 16));
    assert_eq!(spec.sample_rate, expected_rate);
    assert_eq!(narration.sample_rate, expected_rate);
    let rate = f64::from(expected_rate);
    assert!((narration.duration - samples.len() as f64 / rate).abs() < 1e-9);
    assert!(!dir.path().join("voice.wav.part").exists());

    let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(rms > 0.02, "narration is (nearly) silent: rms {rms}");
    assert!(peak <= 0.8914, "peak {peak} is above -1 dBFS");
    let lufs = integrated_loudness(&samples, expected_rate).unwrap();
    assert!(
        (lufs - -14.0).abs() <= 1.0,
        "integrated loudness {lufs:.2} LUFS"
    );

    let spans = &narration.sentences;
    assert_eq!(spans.len(), 3);
    assert_eq!(spans[0].start, 0.0, "the first sentence starts the file");
    let last_end = spans[2].end;
    assert!(
        (last_end - narration.duration).abs() < 1.0 / rate,
        "the last one ends it"
    );
    for (i, s) in spans.iter().enumerate() {
        assert_eq!(s.text, texts[i]);
        assert!(s.end - s.start > 0.5, "sentence {i} too short: {s:?}");
        if let Some(next) = spans.get(i + 1) {
            let gap = next.start - s.end;
            assert!(
                (gap - f64::from(GAP_MS) / 1000.0).abs() < 2.0 / rate,
                "gap {gap}"
            );
        }
    }
    // Every sentence span holds speech: its own loudness is far above silence.
    for s in spans {
        let part = &samples[(s.start * rate) as usize..(s.end * rate) as usize];
        let own = integrated_loudness(part, expected_rate).unwrap();
        assert!(own > -30.0, "{s:?} reads {own:.1} LUFS");
    }
    assert_eq!(progress.lock().unwrap().last(), Some(&1.0));

    println!(
        "3 sentences: {:.2} s of audio in {elapsed:.2} s, RTF {:.3}; {lufs:.2} LUFS, peak {:.2} dBFS",
        narration.duration,
        elapsed / narration.duration,
        20.0 * peak.log10()
    );
    for s in spans {
        println!("  {:6.3}–{:6.3} s  {}", s.start, s.end, s.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faster_rate_speaks_in_less_time() {
    let dir = tempfile::tempdir().unwrap();
    let texts = sentences(&["The quick brown fox jumps over the lazy dog, twice."]);
    let normal = speak(&voice(1.0), &texts, &dir.path().join("a.wav")).await;
    let fast = speak(&voice(2.0), &texts, &dir.path().join("b.wav")).await;
    let ratio = fast.duration / normal.duration;
    println!("rate 2.0 / rate 1.0 duration: {ratio:.2}");
    assert!(
        ratio < 0.75,
        "rate 2.0 took {ratio:.2} of the time of rate 1.0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_promptly_and_leaves_no_file() {
    let voice = voice(1.0);
    voice.warm_up().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("voice.wav");
    let texts: Vec<String> = (0..12)
        .map(|i| format!("This is sentence number {i}, and it is long enough to take a while."))
        .collect();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let cancelled_at = std::sync::Arc::new(std::sync::Mutex::new(None));
    let mark = cancelled_at.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        *mark.lock().unwrap() = Some(Instant::now());
        trigger.cancel();
    });
    let result = voice.synthesize(&texts, &out, &cancel, &|_| {}).await;
    let stopped = Instant::now();
    assert!(
        matches!(result, Err(ProviderError::Cancelled)),
        "{result:?}"
    );
    let since = stopped - cancelled_at.lock().unwrap().unwrap();
    println!("stopped {} ms after cancel", since.as_millis());
    assert!(since < Duration::from_secs(2), "took {since:?} to stop");
    assert!(!out.exists() && !dir.path().join("voice.wav.part").exists());
    assert!(!dir.path().join(".work").read_dir().unwrap().any(|_| true));

    let already = CancellationToken::new();
    already.cancel();
    let result = voice.synthesize(&texts, &out, &already, &|_| {}).await;
    assert!(
        matches!(result, Err(ProviderError::Cancelled)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_missing_model_is_a_clear_error() {
    let missing = PathBuf::from("/nonexistent/models/piper/voice.onnx");
    let voice = PiperVoice::new(missing, "en-us".into(), 1.0, 1.0, GAP_MS, -14.0);
    let err = voice.warm_up().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ProviderError::Invalid { .. }), "{err:?}");
    assert!(
        text.contains("/nonexistent/models/piper/voice.onnx"),
        "{text}"
    );
    assert!(text.contains("./scripts/fetch-models.sh"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let texts = sentences(&["Hello."]);
    let result = voice
        .synthesize(
            &texts,
            &dir.path().join("v.wav"),
            &CancellationToken::new(),
            &|_| {},
        )
        .await;
    assert!(matches!(result, Err(ProviderError::Invalid { .. })));
}
