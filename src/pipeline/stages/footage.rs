//! Stage `footage`: candidate clips for every sentence, from the task's sources in order
//! (its `sources` option, else `[footage] sources`). Library sources (local folders) offer every clip to every sentence;
//! stock vendors are searched per sentence with that sentence's terms, so footage follows the
//! script; sentences nothing could fill get generated backgrounds, and the log says why.

mod gather;
mod search;

use super::artifacts::{self, FootageDoc, ScriptDoc, TermsDoc};
use super::task_config;
use crate::config::{Config, frame_size};
use crate::media::ClipSource;
use crate::pipeline::{JobCtx, LogLevel, StageError, StageOutput, StageWork};
use crate::providers::download::Downloader;
use crate::providers::footage::generated::GeneratedSource;
use crate::providers::footage::local::LocalSource;
use crate::providers::footage::{Clip, FootageRequest, FootageSource, MediaKind, StockSearch};
use crate::providers::tts::Narration;
use crate::store::Cache;
use async_trait::async_trait;
use gather::Gather;
pub use gather::{SentenceNeed, Totals};
use search::CachedSearch;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Speaking speed used to estimate sentence lengths while the voice is still being made.
const CHARS_PER_SECOND: f64 = 15.0;
pub const CREDITS: &str = "credits.txt";

pub struct FootageStage {
    pub config: Arc<Config>,
    pub cache: Cache,
    /// The stock vendors that have keys, by name.
    pub stock: Vec<Arc<dyn StockSearch>>,
    /// Shared by every task; `None` when no stock vendor is usable.
    pub downloader: Option<Downloader>,
    /// Stock vendors that cannot be used, by name, with why (no key): told to a task whose
    /// sources name them when it matters.
    pub unusable: BTreeMap<String, String>,
}

#[async_trait]
impl StageWork for FootageStage {
    async fn run(&self, ctx: &JobCtx) -> Result<StageOutput, StageError> {
        let config = task_config(&self.config, ctx)?;
        let script: ScriptDoc = artifacts::load(ctx, artifacts::SCRIPT)?;
        let terms: TermsDoc = artifacts::load(ctx, artifacts::TERMS)?;
        let (width, height) = frame_size(&ctx.spec.aspect).ok_or_else(|| {
            StageError::permanent(format!(
                "aspect '{}' is not one of 9:16, 16:9, 1:1",
                ctx.spec.aspect
            ))
        })?;
        let request = FootageRequest {
            sentence_terms: terms.terms.clone(),
            sentence_secs: sentence_lengths(ctx, &script),
            width,
            height,
            fps: config.video.fps,
        };
        let sentences = request.sentence_terms.len().max(1);
        let wanted = config.footage.candidates_per_sentence as usize;
        let order = source_order(&config, ctx);
        let mut library: Vec<Clip> = Vec::new();
        let mut found: Vec<Vec<Clip>> = vec![Vec::new(); sentences];
        let mut unused: Vec<String> = order
            .iter()
            .filter_map(|name| self.unusable.get(name).cloned())
            .collect();
        let totals = Mutex::new(Totals::new(sentences * wanted));
        let claimed = Mutex::new(HashSet::new());
        for name in order {
            let lacking = |found: &Vec<Vec<Clip>>, library: &Vec<Clip>| {
                found
                    .iter()
                    .any(|f| f.len() + library.len().min(wanted) < wanted)
            };
            match name.as_str() {
                "local" => {
                    let dirs = local_dirs(&config, ctx);
                    if dirs.is_empty() {
                        unused.push(
                            "no local footage folder (--footage-dir DIR or [footage] local_dirs)"
                                .into(),
                        );
                        continue;
                    }
                    if !lacking(&found, &library) {
                        continue;
                    }
                    ctx.progress(None, "indexing the local library");
                    let local = LocalSource::new(dirs, Some(self.cache.clone()));
                    let result = local.find(&request, &ctx.cancel).await?;
                    for note in result.notes {
                        ctx.log(LogLevel::Info, note);
                    }
                    library.extend(result.clips);
                }
                "generated" => {
                    let empty: Vec<usize> = (0..sentences)
                        .filter(|&i| found[i].is_empty() && library.is_empty())
                        .collect();
                    if empty.is_empty() {
                        continue;
                    }
                    ctx.log(
                        LogLevel::Warn,
                        format!(
                            "no stock footage for {} of {sentences} sentences ({}): using generated backgrounds",
                            empty.len(),
                            if unused.is_empty() { "nothing matched".to_string() } else { unused.join("; ") }
                        ),
                    );
                    let generated = GeneratedSource.find(&request, &ctx.cancel).await?;
                    for clip in generated.clips {
                        if let Some(i) = clip.sentence.filter(|i| empty.contains(i)) {
                            found[i].push(clip);
                        }
                    }
                }
                vendor => {
                    let Some(source) = self.stock.iter().find(|s| s.name() == vendor) else {
                        continue;
                    };
                    let Some(downloader) = &self.downloader else {
                        continue;
                    };
                    if !lacking(&found, &library) {
                        continue;
                    }
                    let needs: Vec<SentenceNeed> = (0..sentences)
                        .filter_map(|i| {
                            let have = found[i].len() + library.len().min(wanted);
                            (have < wanted).then(|| SentenceNeed {
                                index: i,
                                terms: request.sentence_terms.get(i).cloned().unwrap_or_default(),
                                clips: wanted - have,
                                secs: request.sentence_secs.get(i).copied().unwrap_or(3.0),
                            })
                        })
                        .collect();
                    ctx.progress(
                        None,
                        format!("searching {vendor} for {} sentences", needs.len()),
                    );
                    let pass = VendorPass {
                        ctx,
                        config: &config,
                        cache: &self.cache,
                        source: source.as_ref(),
                        downloader,
                        frame: (width, height),
                        claimed: &claimed,
                        totals: &totals,
                    };
                    let (clips, refusal) = pass.run(&needs).await?;
                    let mut added = 0;
                    for (need, clips) in needs.iter().zip(clips) {
                        added += clips.len();
                        found[need.index].extend(clips);
                    }
                    match refusal {
                        Some(why) => unused.push(why),
                        None if added == 0 => unused.push(format!("{vendor} found no usable clip")),
                        None => {}
                    }
                }
            }
        }
        let stock_clips: usize = found.iter().map(Vec::len).sum();
        let clips: Vec<Clip> = library
            .into_iter()
            .chain(found.into_iter().flatten())
            .collect();
        if clips.is_empty() {
            return Err(StageError::permanent(format!(
                "no footage source found any clip ({}); add \"generated\" to [footage] sources or give --footage-dir DIR",
                unused.join("; ")
            )));
        }
        let doc = FootageDoc { clips };
        artifacts::save(ctx, artifacts::FOOTAGE, &doc)?;
        let mut files = vec![artifacts::FOOTAGE.to_string()];
        files.extend(write_credits(ctx, &doc.clips)?);
        let totals = totals.into_inner().expect("totals lock is never poisoned");
        let summary = summary(&doc.clips, stock_clips, &totals);
        ctx.progress(Some(1.0), summary.clone());
        Ok(StageOutput {
            files,
            summary,
            external_bytes: stock_bytes(&doc.clips),
        })
    }
}

/// One stock vendor searched for sentences' needs, and what it finds downloaded through the
/// shared pool: the footage stage's pass over each vendor, and the select stage's
/// alternative rounds for sentences whose footage fits poorly.
pub struct VendorPass<'a> {
    pub ctx: &'a JobCtx,
    /// The task's config: search cache lifetime, retries, page size, media kind.
    pub config: &'a Config,
    pub cache: &'a Cache,
    pub source: &'a dyn StockSearch,
    pub downloader: &'a Downloader,
    /// The output frame (width, height): the vendor's orientation filter and renditions.
    pub frame: (u32, u32),
    /// Claimed clips (page or file URLs) of this task: each is fetched for one sentence only.
    pub claimed: &'a Mutex<HashSet<String>>,
    pub totals: &'a Mutex<Totals>,
}

impl VendorPass<'_> {
    /// Clips for every need, in the same order, and why the vendor stopped being asked, if
    /// it did (keys refused, or unreachable after the retries).
    pub async fn run(
        &self,
        needs: &[SentenceNeed],
    ) -> Result<(Vec<Vec<Clip>>, Option<String>), StageError> {
        let search = CachedSearch {
            cache: self.cache,
            ttl: Duration::from_secs(self.config.footage.search_ttl_hours * 3600),
            retry: self.config.net.retry_policy(),
        };
        let gather = Gather {
            ctx: self.ctx,
            source: self.source,
            per_page: per_page(self.config, self.source.name()),
            downloader: self.downloader,
            search: &search,
            kind: media_kind(self.config),
            width: self.frame.0,
            height: self.frame.1,
            claimed: self.claimed,
            totals: self.totals,
        };
        gather.run(needs).await
    }
}

/// The task's source order; folders given on the command line put the local library first.
pub fn source_order(config: &Config, ctx: &JobCtx) -> Vec<String> {
    let mut order = config.footage.sources.clone();
    if !ctx.spec.footage_dirs.is_empty() {
        order.retain(|s| s != "local");
        order.insert(0, "local".into());
    }
    order
}

fn local_dirs(config: &Config, ctx: &JobCtx) -> Vec<std::path::PathBuf> {
    if ctx.spec.footage_dirs.is_empty() {
        config.footage.local_dirs.clone()
    } else {
        ctx.spec.footage_dirs.clone()
    }
}

fn media_kind(config: &Config) -> MediaKind {
    match config.footage.media.as_str() {
        "image" => MediaKind::Image,
        _ => MediaKind::Video,
    }
}

fn per_page(config: &Config, vendor: &str) -> u32 {
    match vendor {
        "pixabay" => config.footage.pixabay.per_page,
        _ => config.footage.pexels.per_page,
    }
}

/// "18 clips (pexels 15, generated 3), 96.2 MB at 12.3 MB/s, 4 already downloaded".
/// Bytes of the stock clips on disk (the user's own library is not ours to count).
pub fn stock_bytes(clips: &[Clip]) -> u64 {
    clips
        .iter()
        .filter(|clip| clip.provider != "local")
        .filter_map(|clip| match &clip.source {
            ClipSource::Video(path) | ClipSource::Image(path) => std::fs::metadata(path).ok(),
            ClipSource::Lavfi(_) => None,
        })
        .map(|meta| meta.len())
        .sum()
}

fn summary(clips: &[Clip], stock_clips: usize, totals: &Totals) -> String {
    let mut by_provider: BTreeMap<&str, usize> = BTreeMap::new();
    for clip in clips {
        *by_provider.entry(clip.provider.as_str()).or_default() += 1;
    }
    let providers: Vec<String> = by_provider
        .iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    let mut line = format!("{} clips ({})", clips.len(), providers.join(", "));
    if totals.clips > 0 || stock_clips > 0 {
        line.push_str(&format!(
            ", {}, {} already downloaded",
            totals.volume(),
            totals.cached
        ));
    }
    line
}

/// Writes `credits.txt` for `clips` (atomically); its name when there was anything to credit.
pub fn write_credits(ctx: &JobCtx, clips: &[Clip]) -> Result<Option<String>, StageError> {
    let Some(credits) = credits(clips) else {
        return Ok(None);
    };
    crate::fsutil::write_atomic(&ctx.path(CREDITS), credits.as_bytes())
        .map_err(|e| StageError::permanent(format!("cannot write {CREDITS}: {e}")))?;
    Ok(Some(CREDITS.into()))
}

/// Authors and licences of the stock clips, one line each, for the video's description.
fn credits(clips: &[Clip]) -> Option<String> {
    let mut seen = HashSet::new();
    let lines: Vec<String> = clips
        .iter()
        .filter_map(|c| c.attribution.as_ref().map(|a| (c, a)))
        .filter(|(_, a)| seen.insert(a.page_url.clone()))
        .map(|(c, a)| {
            format!(
                "{} by {} ({}) on {}, licence {}",
                a.page_url, a.author, a.author_url, c.provider, a.license_url
            )
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n") + "\n")
}

/// Exact lengths when the voice is done, else an estimate from the text.
fn sentence_lengths(ctx: &JobCtx, script: &ScriptDoc) -> Vec<f64> {
    if let Ok(bytes) = std::fs::read(ctx.path(artifacts::VOICE))
        && let Ok(narration) = serde_json::from_slice::<Narration>(&bytes)
    {
        return narration
            .sentences
            .iter()
            .map(|s| s.end - s.start)
            .collect();
    }
    script
        .sentences
        .iter()
        .map(|s| s.chars().count() as f64 / CHARS_PER_SECOND)
        .collect()
}
