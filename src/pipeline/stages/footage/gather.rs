//! Stock footage for each sentence from one vendor: search the sentence's terms in order, page
//! by page, and download candidates through the shared pool until the sentence has enough
//! (`candidates_per_sentence` clips covering its spoken length), then cancel what is left.
//! Sentences run at once; a clip claimed by one sentence is not fetched for another.

use super::search::CachedSearch;
use crate::media::ClipSource;
use crate::pipeline::{EventKind, JobCtx, LogLevel, StageError};
use crate::providers::ProviderError;
use crate::providers::download::{
    CLIPS_CACHE_KIND, DownloadError, DownloadRequest, DownloadState, DownloadUpdate, Downloaded,
    Downloader, megabytes,
};
use crate::providers::footage::{Clip, MediaKind, SearchQuery, StockHit, StockSearch};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

/// Pages of one term looked at before moving to the next term.
const MAX_PAGES: u32 = 3;

/// What one sentence still needs.
#[derive(Clone, Debug)]
pub struct SentenceNeed {
    pub index: usize,
    pub terms: Vec<String>,
    /// Clips still wanted.
    pub clips: usize,
    /// Seconds of footage still wanted.
    pub secs: f64,
}

/// Running totals of the stage, for its progress line and summary.
#[derive(Debug)]
pub struct Totals {
    pub clips: usize,
    pub cached: usize,
    pub network_bytes: u64,
    pub target: usize,
    pub started: Instant,
}

impl Totals {
    pub fn new(target: usize) -> Totals {
        Totals {
            clips: 0,
            cached: 0,
            network_bytes: 0,
            target: target.max(1),
            started: Instant::now(),
        }
    }

    /// "12.3 MB at 4.1 MB/s" over the stage so far.
    pub fn volume(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = (self.network_bytes as f64 / secs) as u64;
        format!("{} at {}/s", megabytes(self.network_bytes), megabytes(rate))
    }

    pub fn line(&self) -> String {
        format!(
            "{}/{} clips, {}, {} already downloaded",
            self.clips,
            self.target,
            self.volume(),
            self.cached
        )
    }
}

pub struct Gather<'a> {
    pub ctx: &'a JobCtx,
    pub source: &'a dyn StockSearch,
    pub per_page: u32,
    pub downloader: &'a Downloader,
    pub search: &'a CachedSearch<'a>,
    pub kind: MediaKind,
    pub width: u32,
    pub height: u32,
    /// Clip URLs taken by any sentence of this task.
    pub claimed: &'a Mutex<HashSet<String>>,
    pub totals: &'a Mutex<Totals>,
}

impl Gather<'_> {
    /// Clips for every sentence in `needs`, in the same order, and why the vendor stopped
    /// being asked, if it did. A vendor that refuses us (every key rejected) or stays
    /// unreachable after the retries is reported once and not searched again by this stage.
    pub async fn run(
        &self,
        needs: &[SentenceNeed],
    ) -> Result<(Vec<Vec<Clip>>, Option<String>), StageError> {
        let refused = Mutex::new(None);
        let results: Vec<Result<Vec<Clip>, StageError>> =
            futures_util::future::join_all(needs.iter().map(|need| self.sentence(need, &refused)))
                .await;
        let clips = results.into_iter().collect::<Result<_, _>>()?;
        Ok((
            clips,
            refused
                .into_inner()
                .expect("refusal lock is never poisoned"),
        ))
    }

    async fn sentence(
        &self,
        need: &SentenceNeed,
        refused: &Mutex<Option<String>>,
    ) -> Result<Vec<Clip>, StageError> {
        let mut got: Vec<Clip> = Vec::new();
        let mut covered = 0.0;
        // Enough clips covering the sentence, or twice the count when clips are short.
        let enough = |got: &Vec<Clip>, covered: f64| {
            got.len() >= need.clips && (covered >= need.secs || got.len() >= need.clips * 2)
        };
        let is_refused = || {
            refused
                .lock()
                .expect("refusal lock is never poisoned")
                .is_some()
        };
        'terms: for term in &need.terms {
            let mut page_number = 1;
            while page_number <= MAX_PAGES && !enough(&got, covered) {
                if is_refused() {
                    break 'terms;
                }
                let query = SearchQuery {
                    term: term.clone(),
                    kind: self.kind,
                    width: self.width,
                    height: self.height,
                    page: page_number,
                    per_page: self.per_page,
                };
                let page = match self.search.page(self.ctx, self.source, &query).await {
                    Ok(page) => page,
                    Err(ProviderError::Cancelled) => return Err(StageError::cancelled()),
                    // Only this term was refused (a query the vendor cannot take).
                    Err(e @ ProviderError::BadRequest { .. }) => {
                        self.ctx.log(
                            LogLevel::Warn,
                            format!("{e}; sentence {} tries its next term", need.index + 1),
                        );
                        continue 'terms;
                    }
                    // Keys refused, or still failing after every retry: asking again with
                    // another term would only wait the same backoff again.
                    Err(e) => {
                        let mut refusal = refused.lock().expect("refusal lock is never poisoned");
                        if refusal.is_none() {
                            self.ctx.log(
                                LogLevel::Warn,
                                format!(
                                    "{e}; {} is not searched again for this task",
                                    self.source.name()
                                ),
                            );
                            *refusal = Some(e.to_string());
                        }
                        break 'terms;
                    }
                };
                self.download_until_enough(need, term, page.hits, &mut got, &mut covered, &enough)
                    .await?;
                match page.next_page {
                    Some(next) if next > page_number => page_number = next,
                    _ => break,
                }
            }
            if enough(&got, covered) {
                break;
            }
        }
        Ok(got)
    }

    /// Downloads this page's candidates, a few at once, replacing rejected ones, until the
    /// sentence has enough or the page runs out; then cancels the transfers left.
    async fn download_until_enough(
        &self,
        need: &SentenceNeed,
        term: &str,
        hits: Vec<StockHit>,
        got: &mut Vec<Clip>,
        covered: &mut f64,
        enough: &(dyn Fn(&Vec<Clip>, f64) -> bool + Sync),
    ) -> Result<(), StageError> {
        let stop = self.ctx.cancel.child_token();
        let mut candidates = hits.into_iter();
        let mut in_flight = FuturesUnordered::new();
        loop {
            let wanted_now = if got.len() < need.clips {
                need.clips - got.len()
            } else {
                1
            };
            while !enough(got, *covered) && in_flight.len() < wanted_now {
                let Some(hit) = self.next_unclaimed(&mut candidates) else {
                    break;
                };
                let stop = stop.clone();
                in_flight.push(async move {
                    let fetched = self.fetch(&hit, &stop).await;
                    (hit, fetched)
                });
            }
            let Some((hit, fetched)) = in_flight.next().await else {
                break;
            };
            match fetched {
                Ok(file) => {
                    if file.from_cache {
                        self.ctx.cache_hit(CLIPS_CACHE_KIND, file.download_ms);
                    } else {
                        self.ctx.cache_miss(CLIPS_CACHE_KIND);
                    }
                    let clip = clip_from(&hit, file, need.index, term, self.kind);
                    *covered += clip.duration.unwrap_or(need.secs).min(need.secs.max(0.1));
                    got.push(clip);
                    if enough(got, *covered) {
                        break;
                    }
                }
                // The downloader has already said why; the next candidate takes its place.
                Err(DownloadError::Rejected { .. }) => {}
                Err(DownloadError::Cancelled) if !self.ctx.cancel.is_cancelled() => {}
                Err(DownloadError::Cancelled) => return Err(StageError::cancelled()),
                Err(e @ (DownloadError::Storage { .. } | DownloadError::Setup(_))) => {
                    return Err(StageError::permanent(format!(
                        "{e}; check free space and permissions of the data folder"
                    )));
                }
            }
        }
        // Enough: the transfers still running are not needed. Their `.part` files go with them.
        stop.cancel();
        while let Some((hit, fetched)) = in_flight.next().await {
            if let Ok(file) = fetched {
                got.push(clip_from(&hit, file, need.index, term, self.kind));
            }
        }
        if self.ctx.cancel.is_cancelled() {
            return Err(StageError::cancelled());
        }
        Ok(())
    }

    /// The next hit no sentence has claimed, by file or by page: a clip found again (by
    /// another term, or by a later search for more) is not fetched twice.
    fn next_unclaimed(&self, candidates: &mut impl Iterator<Item = StockHit>) -> Option<StockHit> {
        let mut claimed = self
            .claimed
            .lock()
            .expect("claim set lock is never poisoned");
        let page = |hit: &StockHit| hit.attribution.page_url.clone();
        let hit = candidates.find(|hit| {
            !claimed.contains(&hit.download_url)
                && (hit.attribution.page_url.is_empty() || !claimed.contains(&page(hit)))
        })?;
        claimed.insert(hit.download_url.clone());
        if !hit.attribution.page_url.is_empty() {
            claimed.insert(page(&hit));
        }
        Some(hit)
    }

    async fn fetch(
        &self,
        hit: &StockHit,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Result<Downloaded, DownloadError> {
        let request = DownloadRequest {
            url: hit.download_url.clone(),
            label: format!("{} {}", hit.provider, hit.id),
            source: hit.provider.clone(),
            kind: self.kind,
            expected_bytes: hit.bytes,
        };
        let updates = |update: DownloadUpdate| self.report(update);
        self.downloader.fetch(request, &updates, stop).await
    }

    /// Every clip update becomes an event; finished clips move the stage's totals.
    fn report(&self, update: DownloadUpdate) {
        if matches!(update.state, DownloadState::Done | DownloadState::Cached) {
            let mut totals = self.totals.lock().expect("totals lock is never poisoned");
            totals.clips += 1;
            if update.state == DownloadState::Cached {
                totals.cached += 1;
            } else {
                totals.network_bytes += update.done_bytes;
            }
            let fraction = totals.clips as f32 / totals.target as f32;
            self.ctx.progress(Some(fraction.min(0.99)), totals.line());
        }
        self.ctx.emit(EventKind::Download {
            clip: update.label,
            source: update.source,
            state: update.state,
            done_bytes: update.done_bytes,
            total_bytes: update.total_bytes,
            bytes_per_sec: update.bytes_per_sec,
            detail: update.detail,
            retry_in_ms: update.retry_in.map(|d| d.as_millis() as u64),
        });
    }
}

fn clip_from(
    hit: &StockHit,
    file: Downloaded,
    sentence: usize,
    term: &str,
    kind: MediaKind,
) -> Clip {
    let source = match kind {
        MediaKind::Video => ClipSource::Video(file.path),
        MediaKind::Image => ClipSource::Image(file.path),
    };
    Clip {
        sentence: Some(sentence),
        search_term: Some(term.to_string()),
        tags: hit.tags.clone(),
        attribution: Some(hit.attribution.clone()),
        ..Clip::new(
            source,
            file.duration.or(hit.duration),
            (file.width, file.height),
            hit.description.clone(),
            &hit.provider,
        )
    }
}
