//! The embedded LLM with the real SmolLM2-135M GGUF: its tokenizer, scripts and search terms
//! that pass the validators (with the stage's regenerations), load-once, cancellation, and a
//! clean model state between calls. A missing model fails with the command that fetches it.

use reelforge::config::ScriptConfig;
use reelforge::providers::ProviderError;
use reelforge::providers::llm::local::{GgufTokenizer, LocalLlm};
use reelforge::providers::llm::{LlmProvider, prompts, text, validate};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

const SUBJECTS: [&str; 3] = [
    "Why do cats purr?",
    "How volcanoes form",
    "The history of coffee",
];
/// Tries per script or term group, as the stages will make: the first and two regenerations.
const ATTEMPTS: u64 = 3;
const SEED: u64 = 42;

fn model() -> PathBuf {
    let path = LocalLlm::model_path("");
    assert!(
        path.is_file(),
        "SmolLM2 is missing at {}: install it with ./scripts/fetch-models.sh",
        path.display()
    );
    path
}

fn report(llm: &LocalLlm, what: &str) {
    if let Some(s) = llm.last_stats() {
        println!(
            "  [{what}] prompt {} tok at {:.0} tok/s, reply {} tok at {:.1} tok/s",
            s.prompt_tokens,
            s.prompt_tokens_per_s(),
            s.generated_tokens,
            s.generated_tokens_per_s()
        );
    }
}

#[test]
fn tokenizer_from_gguf_metadata_matches_smollm2() {
    let tk = GgufTokenizer::from_gguf_file(&model()).unwrap();
    assert_eq!((tk.bos, tk.eos, tk.add_bos), (Some(1), Some(2), false));
    for (token, id) in [("<|endoftext|>", 0), ("<|im_start|>", 1), ("<|im_end|>", 2)] {
        assert_eq!(tk.token_id(token), Some(id));
        assert_eq!(tk.encode(token).unwrap(), [id], "{token}");
    }
    let chat = tk.encode("<|im_start|>user\nHi<|im_end|>\n").unwrap();
    assert_eq!((chat[0], chat[chat.len() - 2]), (1, 2));
    // The original tokenizer splits numbers digit by digit.
    let year = tk.encode("2024").unwrap();
    assert_eq!(year.len(), 4, "{year:?}");
    let digits: Vec<String> = year.iter().map(|&id| tk.decode(&[id]).unwrap()).collect();
    assert_eq!(digits, ["2", "0", "2", "4"]);
    // Byte-level BPE: a space belongs to the word after it, whole words are single tokens.
    assert_eq!(
        tk.encode(" world").unwrap(),
        [tk.token_id("Ġworld").unwrap()]
    );
    let text = "Cats purr at 25–150 Hz.\n\nCafé au lait, naïve 🐱 \"quotes\"  and  spaces.";
    let ids = tk.encode(text).unwrap();
    assert!(ids.len() < text.len());
    assert_eq!(tk.decode(&ids).unwrap(), text);
}

#[tokio::test]
async fn writes_scripts_and_terms_that_pass_validation() {
    let llm = LocalLlm::new(model(), "cpu".into(), 0.9).with_defaults(SEED, 400);
    let loaded = llm.warm_up().await.unwrap().unwrap();
    println!("load: {} ms ({})", loaded.load_ms, loaded.model);
    let again = llm.warm_up().await.unwrap().unwrap();
    assert_eq!(again.load_ms, 0, "the second warm_up must not load again");
    assert_eq!(
        (llm.name(), llm.model()),
        ("local", "SmolLM2-135M-Instruct.Q4_1")
    );

    let cfg = ScriptConfig::default();
    let wanted = prompts::local_sentence_count(&cfg);
    assert_eq!(wanted, 6);
    let cancel = CancellationToken::new();
    let mut scripts = Vec::new();
    let mut first_reply = None;
    for subject in SUBJECTS {
        let mut rejected = Vec::new();
        let mut accepted = None;
        for attempt in 0..ATTEMPTS {
            let mut request = prompts::local_script_request(subject, &cfg, 0.7);
            request.seed = Some(SEED + attempt);
            let reply = llm.complete(&request, &cancel, &|_| {}).await.unwrap();
            report(&llm, subject);
            first_reply.get_or_insert_with(|| reply.clone());
            let sentences = text::split_sentences(&text::clean_script(&reply));
            let sentences = validate::fit_sentence_count(sentences, wanted);
            match validate::check_script(subject, &sentences, wanted) {
                Ok(()) => {
                    accepted = Some((attempt, reply, sentences));
                    break;
                }
                Err(why) => rejected.push(format!("seed {}: {why}\n{reply}", SEED + attempt)),
            }
        }
        let Some((attempt, reply, sentences)) = accepted else {
            panic!(
                "no usable script for {subject:?}:\n{}",
                rejected.join("\n\n")
            );
        };
        println!(
            "{subject}: accepted after {attempt} regeneration(s), {} sentences",
            sentences.len()
        );
        for why in &rejected {
            println!("  rejected {}", why.lines().next().unwrap_or(""));
        }
        println!("{reply}\n");
        scripts.push((subject, sentences));
    }

    // Search terms for the first script, one request per sentence.
    let (subject, sentences) = &scripts[0];
    let first_reply = first_reply.unwrap();
    let mut groups = Vec::new();
    for (i, sentence) in sentences.iter().enumerate() {
        let mut terms = Vec::new();
        for attempt in 0..ATTEMPTS {
            let mut request = prompts::local_terms_request(subject, sentence, 3, 0.7);
            request.seed = Some(SEED + attempt);
            let reply = llm.complete(&request, &cancel, &|_| {}).await.unwrap();
            terms = prompts::parse_term_lines(&reply, 3);
            if !terms.is_empty() {
                println!(
                    "  terms {}: {terms:?} (after {attempt} regeneration(s))",
                    i + 1
                );
                break;
            }
            println!("  terms {}: unusable reply {reply:?}", i + 1);
        }
        report(&llm, "terms");
        groups.push(terms);
    }
    validate::check_terms(&groups, sentences.len()).unwrap();

    // Cancel mid-generation: the call ends at once with Cancelled.
    let cancel = CancellationToken::new();
    let tokens = AtomicUsize::new(0);
    let cancelled_at = Mutex::new(None);
    let on_token = |n: usize| {
        tokens.store(n, Ordering::SeqCst);
        if n == 5 {
            *cancelled_at.lock().unwrap() = Some(Instant::now());
            cancel.cancel();
        }
    };
    let mut request = prompts::local_script_request(subject, &cfg, 0.7);
    request.seed = Some(SEED);
    let result = llm.complete(&request, &cancel, &on_token).await;
    let latency = cancelled_at.lock().unwrap().map(|t| t.elapsed());
    assert!(
        matches!(result, Err(ProviderError::Cancelled)),
        "{result:?}"
    );
    assert!(
        tokens.load(Ordering::SeqCst) < 10,
        "generation went on after cancel"
    );
    println!("cancel returned {:?} after the cancel", latency.unwrap());

    // The first request again, after many calls and a cancelled one: the identical reply,
    // so no KV-cache state leaks from one call into the next.
    let again = llm
        .complete(&request, &CancellationToken::new(), &|_| {})
        .await
        .unwrap();
    assert_eq!(
        again, first_reply,
        "same request and seed must give the same reply"
    );
}
