//! TEMP experiment harness (to be replaced).

use reelforge::providers::llm::local::LocalLlm;
use reelforge::providers::llm::{ChatRequest, LlmProvider};
use tokio_util::sync::CancellationToken;

#[tokio::test]
#[ignore]
async fn experiment() {
    let llm = LocalLlm::new(LocalLlm::model_path(""), "cpu".into(), 0.9);
    let loaded = llm.warm_up().await.unwrap().unwrap();
    println!("load_ms {}", loaded.load_ms);
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("/tmp/exp/spec.json").unwrap()).unwrap();
    for case in spec["cases"].as_array().unwrap() {
        for seed in spec["seeds"].as_array().unwrap() {
            let req = ChatRequest {
                system: case["system"].as_str().unwrap().into(),
                user: case["user"].as_str().unwrap().into(),
                temperature: spec["temperature"].as_f64().unwrap(),
                max_tokens: Some(spec["max_tokens"].as_u64().unwrap() as u32),
                seed: seed.as_u64(),
            };
            let out = llm.complete(&req, &CancellationToken::new(), &|_| {}).await.unwrap();
            let st = llm.last_stats().unwrap();
            println!(
                "=== seed {seed} [{} p-tok {:.0}/s, {} g-tok {:.0}/s]\n{}\n",
                st.prompt_tokens,
                st.prompt_tokens_per_s(),
                st.generated_tokens,
                st.generated_tokens_per_s(),
                out
            );
        }
    }
}
