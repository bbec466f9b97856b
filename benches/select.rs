//! Semantic selection cost: 30 narration spans against 200 candidate clips with the real
//! MiniLM model. Cold = every sentence and clip text embedded (model already loaded), plus
//! the global assignment; warm = the same again with every embedding from the cache.
//! Targets on 2 CPU cores: cold ≤ 2 s, warm ≤ 50 ms.
//! Run with `cargo bench --bench select`; `cargo test --all-targets` runs it small.

use reelforge::pipeline::stages::select::assign::{Candidate, Piece, assign};
use reelforge::pipeline::stages::select::semantic::relevance;
use reelforge::providers::embed::{Embedder, MiniLm};
use reelforge::providers::models::{ModelKind, installed};
use reelforge::store::Store;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

const SUBJECTS: [&str; 10] = [
    "cat", "volcano", "coffee", "honeybee", "ocean", "city", "runner", "rain", "forest", "bread",
];
const SCENES: [&str; 10] = [
    "close up of",
    "aerial view of",
    "slow motion",
    "a woman watching",
    "timelapse of",
    "children playing near",
    "night shot of",
    "golden hour",
    "macro shot of",
    "wide shot of",
];

/// Stock-like descriptions (slug words + alt text), all different.
fn clip_texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let subject = SUBJECTS[i % SUBJECTS.len()];
            let scene = SCENES[(i / SUBJECTS.len()) % SCENES.len()];
            format!("{scene} a {subject} number {i} {scene} {subject} in natural light, 4k stock footage")
        })
        .collect()
}

fn sentences(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let subject = SUBJECTS[i % SUBJECTS.len()];
            format!(
                "Sentence {i} of the narration explains why the {subject} matters more than most people think."
            )
        })
        .collect()
}

async fn select_once(embedder: &MiniLm, said: &[&str], shown: &[&str]) -> (f64, Vec<usize>) {
    let started = Instant::now();
    let scores = relevance(embedder, said, shown, &CancellationToken::new())
        .await
        .expect("embedding with the real model");
    let pieces: Vec<Piece> = (0..said.len())
        .map(|sentence| Piece {
            sentence,
            seconds: 4.0,
        })
        .collect();
    let candidates = vec![
        Candidate {
            duration: Some(12.0),
            sentence: None,
            earlier_uses: 0,
        };
        shown.len()
    ];
    let chosen = assign(&pieces, &candidates, &scores);
    (started.elapsed().as_secs_f64(), chosen)
}

fn main() {
    let quick = std::env::args().all(|a| a != "--bench");
    let (spans, clips) = if quick { (5, 20) } else { (30, 200) };
    let dir = installed(ModelKind::MiniLm).unwrap_or_else(|why| panic!("{why}"));
    let data = tempfile::tempdir().expect("temp dir");
    let store = Store::open(data.path()).expect("store");
    let embedder = MiniLm::new(dir, "cpu".into(), Some(store.cache.clone()));
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let loaded = embedder.warm_up().await.expect("MiniLM loads");
        let load_ms = loaded.map_or(0, |l| l.load_ms);
        let (said, shown) = (sentences(spans), clip_texts(clips));
        let said: Vec<&str> = said.iter().map(String::as_str).collect();
        let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
        let (cold, first) = select_once(&embedder, &said, &shown).await;
        let (warm, second) = select_once(&embedder, &said, &shown).await;
        assert_eq!(first, second, "the cache gives the same choice");
        println!("semantic selection, {spans} spans x {clips} candidates (MiniLM loaded in {load_ms} ms, not counted):");
        println!("  cold (all {} texts embedded + assignment): {:.3} s (target <= 2 s)", spans + clips, cold);
        println!("  warm (embeddings from the cache + assignment): {:.1} ms (target <= 50 ms)", warm * 1000.0);
    });
}
