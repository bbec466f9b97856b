//! Alternative rounds: a sentence whose best clip scores below `[select] min_relevance` gets
//! more candidates, searched with other words of the sentence (`alternatives.rs`) through the
//! vendors and download pool the footage stage uses, for at most `[select]
//! alternative_rounds` rounds; then the best available is accepted. Each outcome is logged.
//! New clips are appended to `footage.json` and the credits, so render and credits see them.
//! Tasks that use no stock vendor (local folders, generated backgrounds) have nothing to
//! search and skip this silently.

use super::alternatives::alternative_terms;
use super::{Scores, SelectStage, Span};
use crate::config::Config;
use crate::pipeline::stages::artifacts::{self, FootageDoc, TermsDoc};
use crate::pipeline::stages::footage::{
    SentenceNeed, Totals, VendorPass, source_order, stock_bytes, write_credits,
};
use crate::pipeline::{JobCtx, LogLevel, StageError};
use crate::providers::download::Downloader;
use crate::providers::embed::Embedder;
use crate::providers::footage::{Clip, StockSearch};
use crate::providers::tts::Narration;
use crate::store::Cache;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Terms searched per sentence and round.
const TERMS_PER_ROUND: usize = 2;
/// The most rounds, whatever the config says.
const MAX_ROUNDS: u32 = 3;

/// What searching stock vendors and downloading their clips needs besides the task: the
/// same vendors, search cache and shared download pool as the footage stage.
#[derive(Clone)]
pub struct StockAccess {
    pub cache: Cache,
    /// Vendors with keys, by name.
    pub stock: Vec<Arc<dyn StockSearch>>,
    /// `None` when no stock vendor is usable.
    pub downloader: Option<Downloader>,
}

/// What the rounds added: files rewritten, bytes of the clips they brought in.
#[derive(Default)]
pub(super) struct Widened {
    pub files: Vec<String>,
    pub bytes: u64,
}

pub(super) struct Rounds<'a> {
    pub stage: &'a SelectStage,
    pub ctx: &'a JobCtx,
    pub config: &'a Config,
    pub embedder: &'a Arc<dyn Embedder>,
    pub narration: &'a Narration,
    pub terms: Option<&'a TermsDoc>,
    pub spans: &'a [Span],
    /// Output frame (width, height).
    pub frame: (u32, u32),
}

impl Rounds<'_> {
    /// Searches more footage for the sentences that fit poorly, appending what it finds to
    /// `footage` and scoring again; says what happened to each such sentence.
    pub async fn run(
        &self,
        footage: &mut FootageDoc,
        scores: &mut Scores,
    ) -> Result<Widened, StageError> {
        let threshold = self.config.select.min_relevance as f32;
        let count = self.narration.sentences.len();
        let mut weak: Vec<usize> = (0..count).filter(|&i| scores.best(i) < threshold).collect();
        let access = &self.stage.stock;
        let vendors: Vec<&Arc<dyn StockSearch>> = source_order(self.config, self.ctx)
            .iter()
            .filter_map(|name| access.stock.iter().find(|s| s.name() == name))
            .collect();
        let mut done = Widened::default();
        let Some(downloader) = &access.downloader else {
            return Ok(done);
        };
        if vendors.is_empty() || threshold <= 0.0 || weak.is_empty() {
            return Ok(done);
        }
        let rounds = self.config.select.alternative_rounds.min(MAX_ROUNDS);
        let mut searched: Vec<Vec<String>> = (0..count)
            .map(|i| {
                let t = self.terms.and_then(|t| t.terms.get(i));
                t.cloned().unwrap_or_default()
            })
            .collect();
        // Clips already here are not fetched again for another sentence.
        let claimed: HashSet<String> = (footage.clips.iter())
            .filter_map(|c| c.attribution.as_ref().map(|a| a.page_url.clone()))
            .collect();
        let claimed = Mutex::new(claimed);
        let mut refused: HashSet<String> = HashSet::new();
        let wanted = self.config.footage.candidates_per_sentence.max(1) as usize;
        let (mut rounds_done, mut new_clips) = (0, 0);
        for round in 1..=rounds {
            let mut asked: Vec<(usize, Vec<String>)> = Vec::new();
            for &i in &weak {
                let text = &self.narration.sentences[i].text;
                let terms = alternative_terms(text, &searched[i], TERMS_PER_ROUND);
                if terms.is_empty() {
                    self.accept(i, scores.best(i), "no other words of it left to search");
                } else {
                    asked.push((i, terms));
                }
            }
            weak.retain(|i| asked.iter().any(|(a, _)| a == i));
            let live: Vec<&Arc<dyn StockSearch>> = (vendors.iter().copied())
                .filter(|v| !refused.contains(v.name()))
                .collect();
            if asked.is_empty() || live.is_empty() {
                break;
            }
            rounds_done = round;
            let needs: Vec<SentenceNeed> = (asked.iter())
                .map(|(i, terms)| {
                    let s = &self.narration.sentences[*i];
                    SentenceNeed {
                        index: *i,
                        terms: terms.clone(),
                        clips: wanted,
                        secs: (s.end - s.start).max(0.5),
                    }
                })
                .collect();
            self.ctx.progress(
                None,
                format!(
                    "searching other terms for {} poorly fitting sentences (round {round}/{rounds})",
                    needs.len()
                ),
            );
            let found = self
                .fetch(&needs, &live, downloader, &claimed, &mut refused)
                .await?;
            let before: Vec<f32> = asked.iter().map(|(i, _)| scores.best(*i)).collect();
            let mut added = vec![0usize; asked.len()];
            for (k, clips) in found.into_iter().enumerate() {
                for clip in clips {
                    // The download cache hands back the same file for a clip found again.
                    if footage.clips.iter().any(|c| c.source == clip.source) {
                        continue;
                    }
                    done.bytes += stock_bytes(std::slice::from_ref(&clip));
                    footage.clips.push(clip);
                    added[k] += 1;
                    new_clips += 1;
                }
            }
            if added.iter().any(|&n| n > 0) {
                *scores = (self.stage)
                    .score(
                        self.ctx,
                        self.embedder,
                        &footage.clips,
                        self.narration,
                        self.spans,
                    )
                    .await?;
            }
            for (k, (i, terms)) in asked.iter().enumerate() {
                self.ctx.log(
                    LogLevel::Info,
                    format!(
                        "sentence {} best clip scored {:.2} < {threshold:.2}: searched \"{}\" (round {round}/{rounds}), {} new clip{}, best now {:.2}",
                        i + 1,
                        before[k],
                        terms.join(", "),
                        added[k],
                        if added[k] == 1 { "" } else { "s" },
                        scores.best(*i)
                    ),
                );
                searched[*i].extend(terms.iter().cloned());
            }
            weak.retain(|&i| scores.best(i) < threshold);
        }
        for &i in &weak {
            let why = match rounds_done {
                0 if rounds == 0 => {
                    "no alternative rounds ([select] alternative_rounds = 0)".into()
                }
                0 => "no stock vendor left to search".to_string(),
                n => format!(
                    "after {n} round{} of other terms",
                    if n == 1 { "" } else { "s" }
                ),
            };
            self.accept(i, scores.best(i), &why);
        }
        if new_clips > 0 {
            artifacts::save(self.ctx, artifacts::FOOTAGE, footage)?;
            done.files.push(artifacts::FOOTAGE.into());
            done.files.extend(write_credits(self.ctx, &footage.clips)?);
        }
        Ok(done)
    }

    /// Each vendor in turn searched for what the needs still lack; a vendor that refuses us
    /// is not asked again. The clips found for each need, in order.
    async fn fetch(
        &self,
        needs: &[SentenceNeed],
        vendors: &[&Arc<dyn StockSearch>],
        downloader: &Downloader,
        claimed: &Mutex<HashSet<String>>,
        refused: &mut HashSet<String>,
    ) -> Result<Vec<Vec<Clip>>, StageError> {
        let wanted: usize = needs.iter().map(|n| n.clips).sum();
        let totals = Mutex::new(Totals::new(wanted));
        let mut found: Vec<Vec<Clip>> = vec![Vec::new(); needs.len()];
        for vendor in vendors {
            let pending: Vec<(usize, SentenceNeed)> = (needs.iter().enumerate())
                .filter(|(k, need)| found[*k].len() < need.clips)
                .map(|(k, need)| {
                    let clips = need.clips - found[k].len();
                    (
                        k,
                        SentenceNeed {
                            clips,
                            ..need.clone()
                        },
                    )
                })
                .collect();
            if pending.is_empty() {
                break;
            }
            let pass = VendorPass {
                ctx: self.ctx,
                config: self.config,
                cache: &self.stage.stock.cache,
                source: vendor.as_ref(),
                downloader,
                frame: self.frame,
                claimed,
                totals: &totals,
            };
            let only: Vec<SentenceNeed> = pending.iter().map(|(_, n)| n.clone()).collect();
            let (clips, refusal) = pass.run(&only).await?;
            for ((k, _), clips) in pending.iter().zip(clips) {
                found[*k].extend(clips);
            }
            if refusal.is_some() {
                refused.insert(vendor.name().to_string());
            }
        }
        Ok(found)
    }

    fn accept(&self, sentence: usize, best: f32, why: &str) {
        let threshold = self.config.select.min_relevance;
        self.ctx.log(
            LogLevel::Warn,
            format!(
                "sentence {} best clip scores {best:.2} < {threshold:.2}, {why}: accepting the best available ({best:.2})",
                sentence + 1
            ),
        );
    }
}
