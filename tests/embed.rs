//! MiniLM sentence embeddings with the real model: unit vectors, the similarities
//! sentence-transformers publishes, paraphrases ranked above unrelated sentences, batches equal
//! to single texts, the cache, cancellation and load-once; both precisions of the CPU encoder
//! against candle's `BertModel`. A missing model fails, never skips.

use reelforge::providers::ProviderError;
use reelforge::providers::embed::{BATCH, DIM, Embedder, Embedding, MiniLm, Precision, cosine};
use reelforge::providers::models::{ModelKind, installed};
use reelforge::store::{Cache, Store};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn model_dir() -> PathBuf {
    installed(ModelKind::MiniLm).unwrap_or_else(|why| panic!("{why}"))
}

fn embedder(cache: Option<Cache>) -> MiniLm {
    MiniLm::new(model_dir(), "cpu".into(), cache)
}

fn exact_embedder() -> MiniLm {
    MiniLm::with_precision(model_dir(), "cpu".into(), Precision::F32, None)
}

/// How close each precision comes to the exact vectors: the lowest cosine, the largest
/// difference of one component.
fn tolerance(precision: Precision) -> (f32, f32) {
    match precision {
        Precision::F32 => (0.99999, 1e-4),
        // Measured: cosine ≥ 0.999994, components within 6.2e-4.
        Precision::Fixed16 => (0.99999, 2e-3),
    }
}

async fn embed(embedder: &MiniLm, texts: &[&str]) -> Vec<Embedding> {
    embedder
        .embed(texts, &CancellationToken::new())
        .await
        .expect("embedding with the real model")
}

fn max_abs_diff(a: &Embedding, b: &Embedding) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Distinct sentences of varied length, as a narration script would have.
fn sentences(n: usize) -> Vec<String> {
    let subjects = [
        "The old lighthouse",
        "A tiny hummingbird",
        "Our city council",
        "The river",
    ];
    let tails = [
        "glows.",
        "moves quickly across the valley before the storm arrives.",
        "has been studied for decades by scientists who still disagree about why it behaves \
         this way, even after thousands of careful measurements in every season of the year.",
    ];
    (0..n)
        .map(|i| format!("{} #{i} {}", subjects[i % 4], tails[i % 3]))
        .collect()
}

/// ~50 texts from 1 to 120 words: punctuation, digits, accents, CJK, emoji, repeated words.
fn varied_texts() -> Vec<String> {
    let words = [
        "the",
        "Lighthouse",
        "glows,",
        "über",
        "café",
        "naïve",
        "東京",
        "🐈",
        "rain-soaked",
        "(1987)",
        "don't",
        "—",
        "ÉCOLE",
        "42%",
        "x²",
        "photosynthesis",
        "!",
        "Ω",
        "jalapeño",
        "co-operate",
        "...",
        "Straße",
        "résumé",
        "\"quoted\"",
        "sub-zero",
        "the",
        "a",
        "of",
    ];
    let mut texts: Vec<String> = ["", "?", "Hi", "A cat.", "🐈🐈🐈", "漢字とかな"]
        .map(String::from)
        .to_vec();
    for (i, len) in (1..=120)
        .step_by(3)
        .chain([64, 90, 100, 110, 119, 120])
        .enumerate()
    {
        let text: Vec<&str> = (0..len)
            .map(|j| words[(i * 7 + j * j + j) % words.len()])
            .collect();
        texts.push(text.join(if i % 4 == 0 { " " } else { "  " }));
    }
    texts
}

#[tokio::test]
async fn cpu_encoder_equals_candles_bert_model() {
    // The CPU path runs our own encoder on packed tokens; "cpu-candle" is candle's BertModel
    // on padded batches, the implementation it replaced (and the CUDA path).
    let owned = varied_texts();
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    assert!(texts.len() >= 50);
    let started = Instant::now();
    let reference = embed(&MiniLm::new(model_dir(), "cpu-candle".into(), None), &texts).await;
    eprintln!("BertModel {:?}", started.elapsed());
    for precision in [Precision::F32, Precision::Fixed16] {
        let embedder = MiniLm::with_precision(model_dir(), "cpu".into(), precision, None);
        let started = Instant::now();
        let ours = embed(&embedder, &texts).await;
        let (min_cosine, max_diff) = tolerance(precision);
        let mut worst = (1f32, 0f32);
        for (text, (a, b)) in texts.iter().zip(ours.iter().zip(&reference)) {
            let (cos, diff) = (cosine(a, b), max_abs_diff(a, b));
            worst = (worst.0.min(cos), worst.1.max(diff));
            assert!(cos >= min_cosine, "{precision:?}, {text:?}: cosine {cos}");
        }
        eprintln!(
            "{precision:?} encoder ({:?}) vs BertModel: lowest cosine {}, largest difference {:e}",
            started.elapsed(),
            worst.0,
            worst.1
        );
        assert!(
            worst.1 < max_diff,
            "{precision:?}: largest difference {}",
            worst.1
        );
    }
}

#[tokio::test]
async fn vectors_are_unit_length_and_384_wide() {
    let long = "word ".repeat(600); // past the 256-token truncation
    let texts = ["Hello.", "", "Ünïcödé, emoji 🐈 and 漢字.", long.as_str()];
    let vectors = embed(&embedder(None), &texts).await;
    assert_eq!(vectors.len(), texts.len());
    for (text, v) in texts.iter().zip(&vectors) {
        assert_eq!(v.len(), DIM);
        assert!(v.iter().all(|x| x.is_finite()), "{text:?}");
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{text:?}: norm {norm}");
    }
    assert!(cosine(&vectors[0], &vectors[2]) < 0.99);
}

#[tokio::test]
async fn matches_the_similarities_sentence_transformers_publishes() {
    // The sentence-transformers README prints these for all-MiniLM-L6-v2 (4 decimals).
    let texts = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ];
    // f32: the published rounding and a float's; fixed16: its own rounding on top.
    for (embedder, within) in [(exact_embedder(), 1e-4), (embedder(None), 5e-4)] {
        let v = embed(&embedder, &texts).await;
        for (i, j, published) in [(0, 1, 0.6660), (0, 2, 0.1046), (1, 2, 0.1411)] {
            let ours = cosine(&v[i], &v[j]);
            eprintln!("cos({i},{j}) = {ours:.5} (published {published})");
            assert!(
                (ours - published).abs() < within,
                "cos({i},{j}) = {ours}, published {published}"
            );
        }
    }
}

#[tokio::test]
async fn paraphrases_rank_above_unrelated_sentences() {
    let triples = [
        (
            "A cat is sleeping on the sofa.",
            "A kitten naps on the couch.",
            "The stock market fell sharply today.",
        ),
        (
            "The chef is cooking pasta in the kitchen.",
            "A cook prepares spaghetti at the stove.",
            "Engineers inspect the bridge for cracks.",
        ),
        (
            "Waves crash against the rocky shore.",
            "The sea pounds the cliffs on the coast.",
            "The children do homework at the table.",
        ),
        (
            "A man is riding a bicycle down the street.",
            "Someone cycles along the road.",
            "The orchestra played a symphony last night.",
        ),
        (
            "Heavy rain is falling on the city.",
            "It is pouring downtown.",
            "She bought a new laptop for work.",
        ),
        (
            "The rocket launched into space at dawn.",
            "At sunrise the spacecraft lifted off.",
            "My grandmother knits warm sweaters.",
        ),
        // Narration sentence against stock-clip titles: the use the select stage makes of it.
        (
            "Kittens can purr when they are only a few days old.",
            "newborn kitten purring",
            "city traffic at night",
        ),
    ];
    let embedder = embedder(None);
    for (anchor, paraphrase, unrelated) in triples {
        let v = embed(&embedder, &[anchor, paraphrase, unrelated]).await;
        let (near, far) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
        eprintln!("{near:.3} vs {far:.3}: {anchor}");
        assert!(
            near > far + 0.2,
            "{anchor:?}: paraphrase {near}, unrelated {far}"
        );
    }
}

#[tokio::test]
async fn picks_the_matching_clip_title_for_each_sentence() {
    // The select stage's question: which stock clip fits this narration sentence?
    let clips = [
        "tabby cat asleep on a sofa",
        "stock exchange trading screens",
        "chef stirring pasta in a pan",
        "ocean waves hitting rocks",
        "cyclist on a busy city street",
        "rocket launch at sunrise",
    ];
    let narration = [
        "Many cats spend most of the afternoon dozing on the couch.",
        "Investors panicked as share prices tumbled.",
        "Fresh noodles only need a few minutes in boiling water.",
        "The sea has carved these cliffs for millions of years.",
        "More people now commute to work by bike.",
        "The spacecraft lifted off just as the sun came up.",
    ];
    let embedder = embedder(None);
    let clip_vectors = embed(&embedder, &clips).await;
    let sentence_vectors = embed(&embedder, &narration).await;
    for (i, sentence) in sentence_vectors.iter().enumerate() {
        let scores: Vec<f32> = clip_vectors.iter().map(|c| cosine(sentence, c)).collect();
        let best = (0..clips.len())
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .expect("clips");
        eprintln!(
            "{:.3} {:?} -> {:?}",
            scores[best], narration[i], clips[best]
        );
        assert_eq!(
            best, i,
            "{:?} matched {:?}: {scores:?}",
            narration[i], clips[best]
        );
    }
}

#[tokio::test]
async fn batch_results_equal_single_results() {
    // More than one batch, lengths from 3 to ~40 tokens: packing texts together must change
    // nothing beyond rounding. In fixed point a float's last bit of difference (attention
    // sums taken in another order) can tip a value to the next integer step: up to the
    // precision's own tolerance.
    let owned = sentences(BATCH + 8);
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    for embedder in [exact_embedder(), embedder(None)] {
        let batched = embed(&embedder, &texts).await;
        let mut worst = 0f32;
        for (text, from_batch) in texts.iter().zip(&batched) {
            let single = embed(&embedder, &[text]).await;
            worst = worst.max(max_abs_diff(&single[0], from_batch));
        }
        let precision = embedder.precision();
        eprintln!("{precision:?}: largest batch-vs-single difference: {worst:e}");
        assert!(
            worst < tolerance(precision).1,
            "{precision:?}: batch and single embeddings differ by {worst}"
        );
    }
}

#[tokio::test]
async fn cache_returns_identical_vectors_without_the_model() {
    let data = tempfile::tempdir().expect("temp dir");
    let store = Store::open(data.path()).expect("store");
    let texts = [
        "A fox runs through the snow.",
        "Bees visit the flowers.",
        "A fox runs through the snow.",
    ];

    let first = embedder(Some(store.cache.clone()));
    let computed = embed(&first, &texts).await;
    assert_eq!(first.texts_embedded(), 2, "duplicates are embedded once");
    assert_eq!(computed[0], computed[2]);

    // A fresh instance (as after a restart) finds every vector in the cache.
    let second = embedder(Some(store.cache.clone()));
    let started = Instant::now();
    let cached = embed(&second, &texts).await;
    eprintln!("cached call: {:?}", started.elapsed());
    assert_eq!(
        second.texts_embedded(),
        0,
        "a cache hit must not run the model"
    );
    assert_eq!(cached, computed, "cached vectors must be bit-identical");

    // Hits and one miss together: only the miss runs, and the order is the caller's.
    let mixed = embed(
        &second,
        &[
            "Bees visit the flowers.",
            "Snow covers the mountain.",
            texts[0],
        ],
    )
    .await;
    assert_eq!(second.texts_embedded(), 1);
    assert_eq!((mixed[0], mixed[2]), (computed[1], computed[0]));
    let fresh = embed(&embedder(None), &["Snow covers the mountain."]).await;
    assert!(max_abs_diff(&mixed[1], &fresh[0]) < 1e-4);
    assert_eq!(
        store.cache.stats().expect("stats").kinds["embedding"].entries,
        3
    );
}

#[tokio::test]
async fn cancel_stops_between_batches() {
    let embedder = embedder(None);
    embedder.warm_up().await.expect("warm up");
    let owned = sentences(10 * BATCH);
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();

    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = embedder.embed(&texts, &cancel).await.unwrap_err();
    assert!(matches!(err, ProviderError::Cancelled), "{err}");
    assert_eq!(embedder.texts_embedded(), 0);

    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let err = embedder.embed(&texts, &cancel).await.unwrap_err();
    eprintln!("cancelled after {:?}", started.elapsed());
    assert!(matches!(err, ProviderError::Cancelled), "{err}");
    assert!(embedder.texts_embedded() < texts.len() as u64);
}

#[tokio::test]
async fn second_warm_up_reports_zero_ms() {
    let embedder = embedder(None);
    let first = embedder
        .warm_up()
        .await
        .expect("warm up")
        .expect("a local model");
    eprintln!("first warm-up: {first:?}");
    assert_eq!(first.model, ModelKind::MiniLm.label());
    let again = embedder
        .warm_up()
        .await
        .expect("warm up")
        .expect("a local model");
    assert_eq!(again.load_ms, 0);
    // Loaded once per process: another instance on the same folder shares it.
    let other = MiniLm::new(model_dir(), "cpu".into(), None);
    assert_eq!(
        other.warm_up().await.expect("warm up").map(|l| l.load_ms),
        Some(0)
    );
    assert_eq!(embedder.name(), "minilm");
}
