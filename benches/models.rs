//! Local model benchmarks: load time and throughput of each model on this machine, printed as
//! one table with the process's peak memory. Loads models only through reelforge's public API,
//! from the folder `./scripts/fetch-models.sh` fills.
//!
//! Run `cargo bench --bench models` (release), or `cargo test --bench models` for a quick debug
//! build (dependencies are optimized in the dev profile too). `REELFORGE_BENCH_DEVICE=cuda`
//! measures the GPU in a `--features cuda` build.

use reelforge::providers::embed::{BATCH, Embedder, MiniLm};
use reelforge::providers::models::{FETCH_COMMAND, ModelKind, default_models_dir};
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
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let models = default_models_dir();
    let device = std::env::var("REELFORGE_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    println!("models: {} (device {device})", models.display());

    // One section per local model, each measured in this same process; add the LLM
    // (tokens/s), Piper (real-time factor) and Whisper (real-time factor) sections here.
    let sections: Vec<(ModelKind, Section)> = vec![(
        ModelKind::MiniLm,
        runtime.block_on(minilm(&models.join(ModelKind::MiniLm.folder()), &device)),
    )];

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
    print_table(&rows);
    if failed {
        eprintln!("some models could not be measured; install them with {FETCH_COMMAND}");
        std::process::exit(1);
    }
}

/// MiniLM: load time, then sentences per second one at a time and in full batches (the
/// select stage's case), then the same texts again from the cache.
async fn minilm(dir: &Path, device: &str) -> Section {
    const MODEL: &str = "minilm";
    const TEXTS: usize = 8 * BATCH;
    const SINGLES: usize = 64;
    let text = |e: reelforge::providers::ProviderError| e.to_string();
    let cancel = CancellationToken::new();
    let owned = sentences(TEXTS);
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();

    let embedder = MiniLm::new(dir.to_path_buf(), device.to_string(), None);
    let loaded = embedder.warm_up().await.map_err(text)?;
    let load_ms = loaded.map_or(0, |l| l.load_ms);
    // The first forward pays one-off allocations; keep it out of the figures.
    embedder.embed(&texts[..4], &cancel).await.map_err(text)?;

    let clock = Clock::start();
    for one in &texts[..SINGLES] {
        embedder.embed(&[one], &cancel).await.map_err(text)?;
    }
    let single = clock.rates(SINGLES);

    let clock = Clock::start();
    for batch in texts.chunks(BATCH) {
        embedder.embed(batch, &cancel).await.map_err(text)?;
    }
    let batched = clock.rates(TEXTS);

    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Store::open(data.path()).map_err(|e| e.to_string())?;
    let cached = MiniLm::new(dir.to_path_buf(), device.to_string(), Some(store.cache));
    cached.embed(&texts, &cancel).await.map_err(text)?;
    let started = Instant::now();
    cached.embed(&texts, &cancel).await.map_err(text)?;
    let hits = TEXTS as f64 / started.elapsed().as_secs_f64();

    Ok(vec![
        Row::new(MODEL, "load", format!("{load_ms} ms")),
        Row::new(
            MODEL,
            format!("batch 1 ({SINGLES} texts)"),
            single.show("sentences"),
        ),
        Row::new(
            MODEL,
            format!("batch {BATCH} ({TEXTS} texts)"),
            batched.show("sentences"),
        ),
        Row::new(
            MODEL,
            format!("cache hits ({TEXTS} texts)"),
            format!("{hits:.0} sentences/s"),
        ),
    ])
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

/// User + system time of the whole process (all threads), from /proc/self/stat; Linux reports
/// it in ticks of 1/100 s on every common architecture.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// The process's peak resident memory, from `VmHWM` in /proc/self/status.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.0} MiB", kib as f64 / 1024.0))
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".into())
}

fn print_table(rows: &[Row]) {
    let width = |f: fn(&Row) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let (m, k) = (width(|r| r.model.len()), width(|r| r.metric.len()));
    println!("{:<m$}  {:<k$}  value", "model", "metric");
    for row in rows {
        println!("{:<m$}  {:<k$}  {}", row.model, row.metric, row.value);
    }
}

/// Until Cargo.toml declares this bench with `harness = false`, cargo builds it with the test
/// harness, which never calls `main`; this test runs it then (`cargo test --bench models`).
#[cfg(test)]
#[test]
fn models_bench() {
    main()
}
