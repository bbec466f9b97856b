//! Optional CLIP image–text scoring, end to end on a tiny CLIP this test builds itself (no
//! package ships real CLIP weights, so nothing here says the scores are any good): a Hugging
//! Face-style folder (config.json, tokenizer.json, model.safetensors with HF tensor names)
//! loaded through `ClipScorer`, keyframes extracted by ffmpeg from generated clips, scores'
//! shapes and ranges, the content cache, and the errors a bad folder gives.

use candle_core::{DType, Device, Tensor};
use candle_nn::{Init, VarBuilder, VarMap};
use candle_transformers::models::clip::ClipModel;
use reelforge::config::Config;
use reelforge::media::ClipSource;
use reelforge::media::keyframes;
use reelforge::pipeline::stages::Providers;
use reelforge::providers::vision::{CONFIG_KEY, ClipScorer, check_folder, clip_config};
use reelforge::store::Store;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::normalizers::Lowercase;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::processors::template::TemplateProcessing;
use tokio_util::sync::CancellationToken;

const WORDS: &[&str] = &[
    "<unk>", "a", "the", "red", "blue", "car", "sea", "photo", "of", "sky",
];

/// Small on every axis, but a ViT-B/32 shape: patches, class token, quick_gelu, projection.
const CONFIG: &str = r#"{
  "architectures": ["CLIPModel"], "projection_dim": 8, "logit_scale_init_value": 2.6592,
  "text_config": {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
                  "num_hidden_layers": 2, "max_position_embeddings": 16, "vocab_size": 12,
                  "hidden_act": "quick_gelu"},
  "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
                    "num_hidden_layers": 2, "image_size": 32, "patch_size": 8,
                    "hidden_act": "quick_gelu"}
}"#;

/// A word-level tokenizer framed as CLIP's: start token, words, end token (the largest id).
fn write_tokenizer(path: &Path) {
    let mut vocab: Vec<(String, u32)> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| (w.to_string(), i as u32))
        .collect();
    let start = WORDS.len() as u32;
    vocab.push(("<|startoftext|>".into(), start));
    vocab.push(("<|endoftext|>".into(), start + 1));
    let model = WordLevel::builder()
        .vocab(vocab.into_iter().collect())
        .unk_token("<unk>".into())
        .build()
        .unwrap();
    let template = TemplateProcessing::builder()
        .try_single("<|startoftext|> $A <|endoftext|>")
        .unwrap()
        .special_tokens(vec![
            ("<|startoftext|>", start),
            ("<|endoftext|>", start + 1),
        ])
        .build()
        .unwrap();
    let mut tokenizer = tokenizers::Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(Lowercase))
        .unwrap()
        .with_pre_tokenizer(Some(Whitespace {}))
        .with_post_processor(Some(template));
    tokenizer.save(path, false).unwrap();
}

/// Seeded weights under the names candle's CLIP (and Hugging Face) uses.
fn write_weights(path: &Path) {
    let config = clip_config(CONFIG.as_bytes()).unwrap();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    // candle reads these two only when the checkpoint has them; real ones always do.
    let class = vb.pp("vision_model.embeddings");
    class
        .get_with_hints(16, "class_embedding", Init::Const(0.0))
        .unwrap();
    vb.get_with_hints((), "logit_scale", Init::Const(2.6592))
        .unwrap();
    ClipModel::new(vb, &config).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(name, var)| {
            let values: Vec<f32> = (0..var.elem_count()).map(|_| rng.f32() - 0.5).collect();
            let tensor = Tensor::from_vec(values, var.shape(), &Device::Cpu).unwrap();
            (name.clone(), tensor)
        })
        .collect();
    assert!(tensors.contains_key("text_model.embeddings.token_embedding.weight"));
    assert!(tensors.contains_key("vision_model.encoder.layers.1.mlp.fc2.weight"));
    candle_core::safetensors::save(&tensors, path).unwrap();
}

fn tiny_clip(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), CONFIG).unwrap();
    write_tokenizer(&dir.join("tokenizer.json"));
    write_weights(&dir.join("model.safetensors"));
    dir.to_path_buf()
}

/// Two seconds of one colour, as ffmpeg makes it.
fn clip(dir: &Path, colour: &str) -> PathBuf {
    let path = dir.join(format!("{colour}.mp4"));
    let source = format!("color=c={colour}:s=160x90:r=10:d=2");
    let status = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-f", "lavfi", "-i", &source])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    path
}

#[tokio::test]
async fn keyframes_are_scored_in_batches_and_cached_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_clip(&dir.path().join("clip"));
    let store = Store::open(&dir.path().join("data")).unwrap();
    let scorer = ClipScorer::new(model.clone(), "cpu".into(), Some(store.cache.clone()));
    let loaded = scorer.warm_up().await.unwrap();
    assert!(loaded.model.contains("CLIP"), "{loaded:?}");
    let size = scorer.image_size().await.unwrap();
    assert_eq!(size, 32);

    let cancel = CancellationToken::new();
    let frames_dir = dir.path().join("frames");
    std::fs::create_dir_all(&frames_dir).unwrap();
    let mut frames = Vec::new();
    for colour in ["red", "blue"] {
        let source = ClipSource::Video(clip(dir.path(), colour));
        let found = keyframes::extract(&source, Some(2.0), size, &frames_dir, colour, &cancel)
            .await
            .unwrap();
        assert_eq!(found.len(), 3, "{colour}: {found:?}");
        frames.extend(found);
    }
    let generated = ClipSource::Lavfi("testsrc2=s=64x64".into());
    let none = keyframes::extract(&generated, Some(5.0), size, &frames_dir, "g", &cancel);
    assert!(none.await.unwrap().is_empty());

    let texts = [
        "a red car",
        "the blue sea",
        "a photo of the sky and words unknown",
    ];
    let scores = scorer.score(&frames, &texts, &cancel).await.unwrap();
    assert_eq!(scores.len(), 6);
    for row in &scores {
        assert_eq!(row.len(), 3);
        assert!(
            row.iter()
                .all(|s| s.is_finite() && (-1.0..=1.0).contains(s)),
            "{row:?}"
        );
    }
    // The model sees the pixels: red and blue frames score differently.
    assert_ne!(scores[0], scores[3]);
    // A solid colour gives the same bytes at every time: each colour ran once.
    assert_eq!(scorer.images_embedded(), 2);
    assert_eq!(scorer.texts_embedded(), 3);

    // Again: everything comes from the cache, nothing runs the model.
    let again = scorer.score(&frames, &texts, &cancel).await.unwrap();
    assert_eq!(again, scores);
    assert_eq!((scorer.images_embedded(), scorer.texts_embedded()), (2, 3));

    // Alone, without padding or batch-mates and without the cache, a text scores the same:
    // padding is invisible to CLIP's pooling.
    let fresh = ClipScorer::new(model, "cpu".into(), None);
    let alone = fresh
        .score(&frames[3..4], &texts[..1], &cancel)
        .await
        .unwrap();
    assert!(
        (alone[0][0] - scores[3][0]).abs() < 1e-5,
        "{alone:?} {scores:?}"
    );
    assert_eq!(fresh.images_embedded(), 1);

    let stopped = CancellationToken::new();
    stopped.cancel();
    assert!(fresh.score(&frames, &texts, &stopped).await.is_err());
}

/// The message of loading `dir` as CLIP, which must fail.
async fn load_error(dir: &Path) -> String {
    let scorer = ClipScorer::new(dir.to_path_buf(), "cpu".into(), None);
    let err = scorer.warm_up().await.unwrap_err().to_string();
    assert!(err.contains(CONFIG_KEY), "{err}");
    err
}

#[tokio::test]
async fn a_missing_or_bad_file_is_named_with_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let gone = load_error(&dir.path().join("nowhere")).await;
    assert!(
        gone.contains("nowhere") && gone.contains("does not exist"),
        "{gone}"
    );

    let no_tokenizer = tiny_clip(&dir.path().join("a"));
    std::fs::remove_file(no_tokenizer.join("tokenizer.json")).unwrap();
    let err = load_error(&no_tokenizer).await;
    assert!(err.contains("tokenizer.json is missing"), "{err}");
    assert!(check_folder(&no_tokenizer).is_err());

    let garbage = tiny_clip(&dir.path().join("b"));
    std::fs::write(garbage.join("model.safetensors"), b"not safetensors").unwrap();
    let err = load_error(&garbage).await;
    assert!(err.contains("model.safetensors cannot be loaded"), "{err}");

    let renamed = tiny_clip(&dir.path().join("c"));
    let other = HashMap::from([(
        "weight".to_string(),
        Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap(),
    )]);
    candle_core::safetensors::save(&other, renamed.join("model.safetensors")).unwrap();
    let err = load_error(&renamed).await;
    assert!(err.contains("not a CLIP checkpoint"), "{err}");

    let bad_config = tiny_clip(&dir.path().join("d"));
    std::fs::write(
        bad_config.join("config.json"),
        "{\"vision_config\": {\"image_size\": 30}}",
    )
    .unwrap();
    let err = load_error(&bad_config).await;
    assert!(
        err.contains("config.json cannot be loaded") && err.contains("image_size 30"),
        "{err}"
    );

    let bad_tokenizer = tiny_clip(&dir.path().join("e"));
    std::fs::write(bad_tokenizer.join("tokenizer.json"), "{").unwrap();
    let err = load_error(&bad_tokenizer).await;
    assert!(err.contains("tokenizer.json cannot be loaded"), "{err}");
}

#[test]
fn a_wrong_folder_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut config = Config::default();
    config.models.dir = dir.path().join("models").display().to_string();
    config.select.clip_model = dir.path().join("no-clip").display().to_string();
    let err = Providers::from_config(&config, &store)
        .err()
        .expect("an error");
    let message = err.to_string();
    assert!(
        message.contains(CONFIG_KEY) && message.contains("no-clip"),
        "{message}"
    );

    config.select.clip_model = tiny_clip(&dir.path().join("clip")).display().to_string();
    let providers = Providers::from_config(&config, &store).unwrap();
    assert!(providers.clip.is_some());
    config.select.clip_model = String::new();
    assert!(
        Providers::from_config(&config, &store)
            .unwrap()
            .clip
            .is_none()
    );
}
