//! Local model benchmarks: load time and throughput of each model on this machine, printed as
//! one table with the process's peak memory. Loads models only through reelforge's public API,
//! from the folder `./scripts/fetch-models.sh` fills.
//!
//! Run `cargo bench --bench models` (release), or `cargo test --bench models` for a quick debug
//! build (dependencies are optimized in the dev profile too). `REELFORGE_BENCH_DEVICE=cuda`
//! measures the GPU in a `--features cuda` build.

use reelforge::providers::embed::{BATCH, Embedder, MiniLm, Precision};
use reelforge::providers::llm::local::LocalLlm;
use reelforge::providers::llm::{ChatRequest, LlmProvider};
use reelforge::providers::models::{FETCH_COMMAND, Loaded, ModelKind, default_models_dir};
use reelforge::providers::stt::SttProvider;
use reelforge::providers::stt::whisper::WhisperStt;
use reelforge::providers::tts::TtsProvider;
use reelforge::providers::tts::piper::PiperVoice;
use reelforge::store::Store;
use std::path::Path;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// One line of the report.
struct Row {
    model: &'static str,
    metric: String,
    value: String,
}

impl Row {
    fn new(model: &'static str, metric: impl Into<String>, value: impl Into<String>) -> Row {
        Row {
            model,
            metric: metric.into(),
            value: value.into(),
        }
    }
}

/// What a section returns: its rows, or why the model could not be measured.
type Section = Result<Vec<Row>, String>;

fn main() {
    // `RUST_LOG=info` shows where each model's time goes (Whisper logs its stages).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    // Under `cargo test` (dev profile, debug assertions, our crate at opt-level 1) the bench
    // is a smoke test on a short narration and one batch; `--bench` measures in full.
    let size = if std::env::args().any(|a| a == "--bench") {
        Size::FULL
    } else {
        Size::QUICK
    };
    let models = default_models_dir();
    let device = std::env::var("REELFORGE_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    println!("models: {} (device {device})", models.display());

    // One section per local model, all measured in this same process, so the peak RSS at
    // the end is that of all four loaded together.
    let narration = tempfile::tempdir().expect("temp dir");
    let wav = narration.path().join("narration.wav");
    let sections: Vec<(ModelKind, Section)> = vec![
        (ModelKind::Llm, runtime.block_on(llm(&models, &device))),
        (
            ModelKind::Piper,
            runtime.block_on(piper(&models, &wav, size)),
        ),
        (
            ModelKind::Whisper,
            runtime.block_on(whisper(&models, &device, &wav)),
        ),
        (
            ModelKind::MiniLm,
            runtime.block_on(minilm(
                &models.join(ModelKind::MiniLm.folder()),
                &device,
                size,
            )),
        ),
    ];

    let mut rows = Vec::new();
    let mut failed = false;
    for (kind, section) in sections {
        match section {
            Ok(section_rows) => rows.extend(section_rows),
            Err(why) => {
                failed = true;
                rows.push(Row::new(kind.folder(), "FAILED", why));
            }
        }
    }
    rows.push(Row::new("process", "peak RSS (VmHWM)", peak_rss()));
    // After the peak RSS: a second MiniLM engine (the other precision) is not part of "all
    // four loaded".
    if device == "cpu" {
        let dir = models.join(ModelKind::MiniLm.folder());
        match runtime.block_on(minilm_batches(&dir, size)) {
            Ok(batch_rows) => rows.extend(batch_rows),
            Err(why) => {
                failed = true;
                rows.push(Row::new("minilm", "FAILED", why));
            }
        }
    }
    print_table(&rows);
    if size.sentences < Size::FULL.sentences {
        println!(
            "(test mode: short narration, one batch; `cargo bench --bench models` for figures)"
        );
    }
    if failed {
        eprintln!("some models could not be measured; install them with {FETCH_COMMAND}");
        std::process::exit(1);
    }
}

/// How much each section measures.
#[derive(Clone, Copy)]
struct Size {
    /// Sentences Piper speaks and Whisper transcribes.
    sentences: usize,
    /// MiniLM texts embedded one at a time, and in batches of `BATCH`.
    singles: usize,
    batches: usize,
    /// Rounds of those batches per precision.
    rounds: usize,
}

impl Size {
    const FULL: Size = Size {
        sentences: 6,
        singles: 64,
        batches: 8,
        rounds: 5,
    };
    const QUICK: Size = Size {
        sentences: 2,
        singles: 4,
        batches: 1,
        rounds: 1,
    };
}

fn cost(e: reelforge::providers::ProviderError) -> String {
    e.to_string()
}

/// The second task of a process asks for the model again: it must cost nothing.
fn second_load(loaded: Option<Loaded>) -> String {
    format!("{} ms", loaded.map_or(0, |l| l.load_ms))
}

/// The embedded LLM: load, time to the first token (prompt processing), generation speed.
async fn llm(models: &Path, device: &str) -> Section {
    const MODEL: &str = "smollm2";
    let gguf = ModelKind::Llm.main_file(models);
    let llm = LocalLlm::new(gguf, device.to_string(), 0.9);
    let load_ms = llm.warm_up().await.map_err(cost)?.map_or(0, |l| l.load_ms);
    let request = ChatRequest {
        system: "You write short, factual video narrations.".into(),
        user: "Write six short sentences about why cats purr.".into(),
        temperature: 0.7,
        max_tokens: Some(128),
        seed: Some(7),
    };
    let first_token = std::sync::Mutex::new(None::<Instant>);
    let tokens = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let on_token = |n: usize| {
        tokens.store(n, std::sync::atomic::Ordering::Relaxed);
        let mut first = first_token.lock().expect("bench mutex");
        first.get_or_insert_with(Instant::now);
    };
    llm.complete(&request, &CancellationToken::new(), &on_token)
        .await
        .map_err(cost)?;
    let done = Instant::now();
    let generated = tokens.load(std::sync::atomic::Ordering::Relaxed);
    let first = first_token
        .lock()
        .expect("bench mutex")
        .ok_or("the model produced no token")?;
    let prompt_chars = request.system.len() + request.user.len();
    let generation = (generated.saturating_sub(1)) as f64 / (done - first).as_secs_f64();
    Ok(vec![
        Row::new(MODEL, "load", format!("{load_ms} ms")),
        Row::new(
            MODEL,
            "load again (second task)",
            second_load(llm.warm_up().await.map_err(cost)?),
        ),
        Row::new(
            MODEL,
            format!("prompt processing (~{} tokens)", prompt_chars / 4 + 20),
            format!(
                "{:.0} ms to first token, ~{:.0} tokens/s",
                (first - started).as_secs_f64() * 1000.0,
                (prompt_chars / 4 + 20) as f64 / (first - started).as_secs_f64()
            ),
        ),
        Row::new(
            MODEL,
            format!("generation ({generated} tokens)"),
            format!("{generation:.1} tokens/s"),
        ),
    ])
}

/// Piper: load and real-time factor (synthesis time / audio length); writes the narration
/// the Whisper section transcribes.
async fn piper(models: &Path, wav: &Path, size: Size) -> Section {
    const MODEL: &str = "piper";
    let onnx = ModelKind::Piper.main_file(models);
    let voice = PiperVoice::new(onnx, "en-us".into(), 1.0, 1.0, 250, -14.0);
    let load_ms = voice
        .warm_up()
        .await
        .map_err(cost)?
        .map_or(0, |l| l.load_ms);
    let script: Vec<String> = sentences(size.sentences);
    let started = Instant::now();
    let narration = voice
        .synthesize(&script, wav, &CancellationToken::new(), &|_| {})
        .await
        .map_err(cost)?;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(vec![
        Row::new(MODEL, "load", format!("{load_ms} ms")),
        Row::new(
            MODEL,
            "load again (second task)",
            second_load(voice.warm_up().await.map_err(cost)?),
        ),
        Row::new(
            MODEL,
            format!("real-time factor ({:.1} s of speech)", narration.duration),
            format!("{:.3} (target ≤ 0.3)", elapsed / narration.duration),
        ),
    ])
}

/// Whisper: load and real-time factor on the Piper narration, word timestamps included.
async fn whisper(models: &Path, device: &str, wav: &Path) -> Section {
    const MODEL: &str = "whisper-base";
    let stt = WhisperStt::new(models.join(ModelKind::Whisper.folder()), device.to_string());
    let load_ms = stt.warm_up().await.map_err(cost)?.map_or(0, |l| l.load_ms);
    let duration = {
        let reader = hound::WavReader::open(wav).map_err(|e| e.to_string())?;
        f64::from(reader.duration()) / f64::from(reader.spec().sample_rate)
    };
    let started = Instant::now();
    let transcript = stt
        .transcribe(wav, Some("en"), &CancellationToken::new(), &|_| {})
        .await
        .map_err(cost)?;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(vec![
        Row::new(MODEL, "load", format!("{load_ms} ms")),
        Row::new(
            MODEL,
            "load again (second task)",
            second_load(stt.warm_up().await.map_err(cost)?),
        ),
        Row::new(
            MODEL,
            format!(
                "real-time factor ({duration:.1} s, {} words timed)",
                transcript.words.len()
            ),
            format!("{:.3} (target ≤ 0.25)", elapsed / duration),
        ),
    ])
}

/// MiniLM: load time, then sentences per second one at a time, then the same texts again from
/// the cache (full batches are measured by [`minilm_batches`]).
async fn minilm(dir: &Path, device: &str, size: Size) -> Section {
    const MODEL: &str = "minilm";
    let (texts_count, singles) = (size.batches * BATCH, size.singles);
    let text = |e: reelforge::providers::ProviderError| e.to_string();
    let cancel = CancellationToken::new();
    let owned = sentences(texts_count);
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();

    let embedder = MiniLm::new(dir.to_path_buf(), device.to_string(), None);
    let loaded = embedder.warm_up().await.map_err(text)?;
    let load_ms = loaded.map_or(0, |l| l.load_ms);
    // The first forward pays one-off allocations; keep it out of the figures.
    embedder.embed(&texts[..4], &cancel).await.map_err(text)?;

    let clock = Clock::start();
    for one in &texts[..singles] {
        embedder.embed(&[one], &cancel).await.map_err(text)?;
    }
    let single = clock.rates(singles);

    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Store::open(data.path()).map_err(|e| e.to_string())?;
    let cached = MiniLm::new(dir.to_path_buf(), device.to_string(), Some(store.cache));
    cached.embed(&texts, &cancel).await.map_err(text)?;
    let started = Instant::now();
    cached.embed(&texts, &cancel).await.map_err(text)?;
    let hits = texts_count as f64 / started.elapsed().as_secs_f64();

    Ok(vec![
        Row::new(MODEL, "load", format!("{load_ms} ms")),
        Row::new(
            MODEL,
            format!("batch 1 ({singles} texts)"),
            single.show("sentences"),
        ),
        Row::new(
            MODEL,
            format!("cache hits ({texts_count} texts)"),
            format!("{hits:.0} sentences/s"),
        ),
    ])
}

/// Full batches (the select stage's case) with the CPU encoder in each precision, the default
/// first: rounds of every precision in turn, each figure the median round, so a slow spell of
/// this shared machine falls on both alike.
async fn minilm_batches(dir: &Path, size: Size) -> Result<Vec<Row>, String> {
    let owned = sentences(size.batches * BATCH);
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    // Throughput in sentences depends on their length: the tokens say how long they were.
    let tokens = mean_tokens(dir, &texts)?;
    let cancel = CancellationToken::new();
    let mut engines = Vec::new();
    for precision in [Precision::default(), Precision::F32] {
        let embedder = MiniLm::with_precision(dir.to_path_buf(), "cpu".into(), precision, None);
        embedder.embed(&texts[..4], &cancel).await.map_err(cost)?;
        engines.push((embedder, Vec::new()));
    }
    for _ in 0..size.rounds {
        for (embedder, rounds) in &mut engines {
            let clock = Clock::start();
            for batch in texts.chunks(BATCH) {
                embedder.embed(batch, &cancel).await.map_err(cost)?;
            }
            rounds.push(clock.rates(texts.len()));
        }
    }
    let median = |values: Vec<f64>| {
        let mut values = values;
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let rows = engines.into_iter().map(|(embedder, rounds)| {
        let per_cpu_s: Option<Vec<f64>> = rounds.iter().map(|r| r.per_cpu_s).collect();
        let rates = Rates {
            per_s: median(rounds.iter().map(|r| r.per_s).collect()),
            per_cpu_s: per_cpu_s.map(median),
        };
        Row::new(
            "minilm",
            format!(
                "batch {BATCH}, {} products ({} texts, {tokens:.1} tokens each, median of {})",
                embedder.precision().name(),
                texts.len(),
                size.rounds
            ),
            format!(
                "{}, {:.0} tokens/s",
                rates.show("sentences"),
                rates.per_s * tokens
            ),
        )
    });
    Ok(rows.collect())
}

/// Tokens per text, `[CLS]` and `[SEP]` included, with the model's own tokenizer.
fn mean_tokens(dir: &Path, texts: &[&str]) -> Result<f64, String> {
    let path = dir.join("tokenizer.json");
    let mut tokenizer = tokenizers::Tokenizer::from_file(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // The file pads every text to 128; the encoder sees only the real tokens.
    tokenizer.with_padding(None);
    let mut total = 0;
    for text in texts {
        let encoding = tokenizer
            .encode(*text, true)
            .map_err(|e| format!("cannot tokenize {text:?}: {e}"))?;
        total += encoding.len();
    }
    Ok(total as f64 / texts.len().max(1) as f64)
}

/// Distinct narration-like sentences from 5 to ~35 words.
fn sentences(n: usize) -> Vec<String> {
    let subjects = [
        "The old lighthouse",
        "A hummingbird",
        "The city council",
        "A glacier in Patagonia",
        "Her grandfather",
        "The night train",
        "A swarm of bees",
        "The tallest tree in the forest",
    ];
    let middles = [
        "slowly changes",
        "has quietly shaped",
        "was photographed beside",
        "still surprises visitors near",
    ];
    let tails = [
        "the harbor.",
        "the way people think about water, light and time on the coast.",
        "a valley where farmers have grown rice for more than a thousand years, and where every \
         spring the river floods the fields, bringing soil from the mountains far away.",
    ];
    (0..n)
        .map(|i| {
            let (s, m, t) = (subjects[i % 8], middles[(i / 8) % 4], tails[i % 3]);
            format!("{s} {m} {t} ({i})")
        })
        .collect()
}

/// Wall-clock and CPU time of one measurement. On a shared machine the wall rate falls with
/// other processes' load; the rate per CPU-second much less, so both are printed.
struct Clock {
    wall: Instant,
    cpu: Option<f64>,
}

struct Rates {
    per_s: f64,
    per_cpu_s: Option<f64>,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    fn rates(&self, items: usize) -> Rates {
        let cpu = cpu_seconds().zip(self.cpu).map(|(now, then)| now - then);
        Rates {
            per_s: items as f64 / self.wall.elapsed().as_secs_f64(),
            per_cpu_s: cpu.filter(|s| *s > 0.0).map(|s| items as f64 / s),
        }
    }
}

impl Rates {
    fn show(&self, unit: &str) -> String {
        match self.per_cpu_s {
            Some(cpu) => format!("{:.0} {unit}/s ({cpu:.0} per CPU-second)", self.per_s),
            None => format!("{:.0} {unit}/s", self.per_s),
        }
    }
}

/// CPU time of the process's own threads (the models run in-process), when `/proc` tells.
fn cpu_seconds() -> Option<f64> {
    Some(reelforge::procstat::cpu_times().own_s).filter(|s| *s > 0.0)
}

/// The process's peak resident memory (`VmHWM`).
fn peak_rss() -> String {
    match reelforge::procstat::peak_rss_bytes() {
        0 => "unknown (no /proc/self/status)".into(),
        bytes => format!("{:.0} MiB", bytes as f64 / 1048576.0),
    }
}

fn print_table(rows: &[Row]) {
    let width = |f: fn(&Row) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let (m, k) = (width(|r| r.model.len()), width(|r| r.metric.len()));
    println!("{:<m$}  {:<k$}  value", "model", "metric");
    for row in rows {
        println!("{:<m$}  {:<k$}  {}", row.model, row.metric, row.value);
    }
}
