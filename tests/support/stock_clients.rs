//! The stock search tests' shared setup: Pexels and Pixabay clients pointed at the fake
//! vendors of `stock.rs`, queries, and a catalogue with a second page of forest clips.
//!
//! Include it next to the fake vendors:
//! `#[path = "support/stock.rs"] mod stock;` and
//! `#[path = "support/stock_clients.rs"] mod stock_clients;`.

// Shared by several test crates (tests/stock_search.rs, tests/stock_errors.rs), each using only
// part of it; the rest would warn as dead code in each of them.
#![allow(dead_code)]

use crate::stock::{Catalogue, StockItem, StockServer};
use reelforge::config::{Secret, StockConfig};
use reelforge::providers::ProviderError;
use reelforge::providers::footage::pexels::PexelsSearch;
use reelforge::providers::footage::pixabay::PixabaySearch;
use reelforge::providers::footage::{MediaKind, SearchPage, SearchQuery, StockSearch};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const FULL_HD: (u32, u32) = (1920, 1080);

pub fn config(base: String, keys: &[&str], env: &str) -> StockConfig {
    StockConfig {
        api_keys: keys.iter().map(|k| Secret::new(*k)).collect(),
        api_key_env: env.into(),
        base_url: base,
        per_page: 15,
    }
}

pub fn client() -> reqwest::Client {
    reelforge::providers::http::client(Duration::from_secs(5)).unwrap()
}

pub fn pexels(server: &StockServer, keys: &[&str]) -> PexelsSearch {
    let cfg = config(server.base_url(), keys, "PEXELS_API_KEY");
    PexelsSearch::new(&cfg, client()).unwrap()
}

pub fn pixabay(server: &StockServer, keys: &[&str]) -> PixabaySearch {
    let cfg = config(server.pixabay_base(), keys, "PIXABAY_API_KEY");
    PixabaySearch::new(&cfg, client()).unwrap()
}

pub fn query(
    term: &str,
    kind: MediaKind,
    (width, height): (u32, u32),
    per_page: u32,
) -> SearchQuery {
    let (term, page) = (term.into(), 1);
    SearchQuery {
        term,
        kind,
        width,
        height,
        page,
        per_page,
    }
}

pub async fn search(s: &dyn StockSearch, q: &SearchQuery) -> Result<SearchPage, ProviderError> {
    s.search(q, &CancellationToken::new()).await
}

/// The first page of 15 for `term`, which must succeed.
pub async fn find(
    s: &dyn StockSearch,
    term: &str,
    kind: MediaKind,
    frame: (u32, u32),
) -> SearchPage {
    search(s, &query(term, kind, frame, 15)).await.unwrap()
}

/// The sample catalogue plus two more landscape forest clips (for a second page) and a
/// portrait clip offered only in small sizes.
pub fn catalogue() -> Catalogue {
    let mut cat = Catalogue::sample();
    let hd = [(640, 360), (1280, 720), (1920, 1080)];
    let small = [(360, 640), (540, 960), (240, 426)];
    let more = [
        StockItem::video(3000001, "forest-fog", &["fog"], 9, &hd),
        StockItem::video(3000002, "forest-rain", &["rain"], 11, &hd),
        StockItem::video(3000003, "tiny-waterfall", &[], 6, &small),
    ];
    cat.items.extend(more);
    cat
}

pub fn ids(page: &SearchPage) -> Vec<&str> {
    page.hits.iter().map(|h| h.id.as_str()).collect()
}
