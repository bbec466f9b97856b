//! Pixabay search: videos (`/videos/`) and photos (`/`), several keys used in turn.
//!
//! Pixabay takes the key as a query parameter, so the request URL is never logged or quoted:
//! transport errors go through `classify_transport` (which drops the query) and every error
//! and note is scrubbed of the keys before it leaves. Pixabay reports a bad key as HTTP 400
//! with a plain-text body, and its Cloudflare front answers floods with an HTML "Error 1015"
//! page (429, sometimes 403 or 503): [`refusal`] recognises both.

use super::keys::{Attempt, KeyRing, refusal};
use super::rendition::{Orientation, Rendition, describe, fit_within, pick, slug_words};
use super::vendor::{
    DEFAULT_TIMEOUT_SECS, api_base, bad_reply, fetch, page_size, parse_url, search_with_keys,
};
use super::{Attribution, MediaKind, SearchPage, SearchQuery, StockHit, StockSearch};
use crate::config::{Secret, StockConfig};
use crate::providers::ProviderError;
use crate::providers::http::classify_transport;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

const NAME: &str = "pixabay";
const LICENSE_URL: &str = "https://pixabay.com/service/license-summary/";
/// Pixabay serves at most this many results of one search, whatever `totalHits` says.
const MAX_RESULTS: u64 = 500;
/// Pixabay refuses `per_page` outside 3..=200 and `q` over 100 characters.
const PER_PAGE: (u32, u32) = (3, 200);
const MAX_TERM_CHARS: usize = 100;
/// `largeImageURL` is scaled to fit this many pixels on its long side.
const LARGE_IMAGE_SIDE: u32 = 1280;

pub struct PixabaySearch {
    client: reqwest::Client,
    base: String,
    keys: KeyRing,
    per_page: u32,
    timeout_secs: u64,
}

impl PixabaySearch {
    /// Fails with `Invalid` when no key is configured or `base_url` is not an http(s) URL.
    pub fn new(
        config: &StockConfig,
        client: reqwest::Client,
    ) -> Result<PixabaySearch, ProviderError> {
        Ok(PixabaySearch {
            client,
            keys: KeyRing::from_config(NAME, "Pixabay", config, "PIXABAY_API_KEY")?,
            base: api_base(NAME, &config.base_url)?,
            per_page: config.per_page,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
        })
    }

    /// The client's read timeout, only to say it in `Timeout` errors.
    pub fn with_timeout_secs(mut self, secs: u64) -> Self {
        self.timeout_secs = secs;
        self
    }

    /// The endpoint without the key, and the per-page count actually asked.
    fn url(&self, query: &SearchQuery) -> Result<(reqwest::Url, u32), ProviderError> {
        let per_page = page_size(query.per_page, self.per_page).clamp(PER_PAGE.0, PER_PAGE.1);
        let term: String = query.term.trim().chars().take(MAX_TERM_CHARS).collect();
        let path = match query.kind {
            MediaKind::Video => "/videos/",
            MediaKind::Image => "/",
        };
        let mut url = parse_url(NAME, &format!("{}{path}", self.base))?;
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("q", &term);
            match query.kind {
                MediaKind::Video => pairs.append_pair("video_type", "film"),
                MediaKind::Image => pairs.append_pair("image_type", "photo").append_pair(
                    "orientation",
                    match Orientation::of(query.width, query.height) {
                        Orientation::Portrait => "vertical",
                        Orientation::Landscape => "horizontal",
                        Orientation::Square => "all",
                    },
                ),
            };
            pairs
                .append_pair("page", &query.page.max(1).to_string())
                .append_pair("per_page", &per_page.to_string())
                .append_pair("safesearch", "true");
        }
        Ok((url, per_page))
    }

    /// One request with one key. The keyed URL is only ever handed to reqwest.
    async fn attempt(
        &self,
        (url, per_page): &(reqwest::Url, u32),
        key: &Secret,
        query: &SearchQuery,
        cancel: &CancellationToken,
    ) -> Result<Attempt<SearchPage>, ProviderError> {
        let transport =
            |e: reqwest::Error| classify_transport(NAME, url.as_str(), &e, self.timeout_secs);
        let mut keyed = url.clone();
        keyed
            .query_pairs_mut()
            .append_pair("key", key.expose().trim());
        let (status, headers, body) = fetch(self.client.get(keyed), cancel, transport).await?;
        let body = self.keys.scrub(&body);
        if status.is_success() {
            return parse_page(&body, query, *per_page).map(Attempt::Done);
        }
        refusal(NAME, status, &headers, &body)
    }
}

#[async_trait]
impl StockSearch for PixabaySearch {
    fn name(&self) -> &str {
        NAME
    }

    async fn search(
        &self,
        query: &SearchQuery,
        cancel: &CancellationToken,
    ) -> Result<SearchPage, ProviderError> {
        let url = self.url(query)?;
        let attempt = |_, key| self.attempt(&url, key, query, cancel);
        search_with_keys(NAME, &self.keys, query, attempt).await
    }
}

#[derive(Deserialize)]
struct Reply {
    #[serde(rename = "totalHits")]
    total_hits: u64,
    hits: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Hit {
    id: u64,
    #[serde(rename = "pageURL")]
    page_url: Option<String>,
    tags: Option<String>,
    duration: Option<f64>,
    videos: Option<HashMap<String, VideoFile>>,
    #[serde(rename = "webformatURL")]
    webformat_url: Option<String>,
    webformat_width: Option<u32>,
    webformat_height: Option<u32>,
    #[serde(rename = "largeImageURL")]
    large_image_url: Option<String>,
    image_width: Option<u32>,
    image_height: Option<u32>,
    user: Option<String>,
    #[serde(rename = "user_id")]
    user_id: Option<u64>,
}

#[derive(Deserialize)]
struct VideoFile {
    url: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    size: Option<u64>,
}

fn parse_page(body: &str, query: &SearchQuery, per_page: u32) -> Result<SearchPage, ProviderError> {
    let reply: Reply = serde_json::from_str(body.trim())
        .map_err(|e| bad_reply(NAME, format!("the reply is not Pixabay search JSON ({e})")))?;
    let page = query.page.max(1);
    let available = reply.total_hits.min(MAX_RESULTS);
    let next_page = (u64::from(page) * u64::from(per_page) < available).then_some(page + 1);
    // One odd entry should not cost the whole page.
    let hits = reply
        .hits
        .iter()
        .filter_map(|h| serde_json::from_value::<Hit>(h.clone()).ok())
        .filter_map(|h| hit(h, query))
        .collect();
    Ok(SearchPage {
        hits,
        next_page,
        notes: Vec::new(),
    })
}

fn hit(hit: Hit, query: &SearchQuery) -> Option<StockHit> {
    let (renditions, duration) = match query.kind {
        MediaKind::Video => {
            // Sub-second clips are useless as footage; unknown lengths cannot be planned.
            let duration = hit.duration.filter(|d| d.is_finite() && *d >= 1.0)?;
            let videos = hit.videos.as_ref()?;
            let renditions: Vec<Rendition> = ["large", "medium", "small", "tiny"]
                .iter()
                .filter_map(|name| videos.get(*name))
                .filter_map(|f| Some(Rendition::new(f.width?, f.height?, f.url.clone()?, f.size)))
                .collect();
            (renditions, Some(duration))
        }
        MediaKind::Image => {
            let mut renditions = Vec::new();
            if let (Some(url), Some(w), Some(h)) =
                (&hit.large_image_url, hit.image_width, hit.image_height)
            {
                let (w, h) = fit_within(w, h, LARGE_IMAGE_SIDE);
                renditions.push(Rendition::new(w, h, url.clone(), None));
            }
            if let (Some(url), Some(w), Some(h)) = (
                &hit.webformat_url,
                hit.webformat_width,
                hit.webformat_height,
            ) {
                renditions.push(Rendition::new(w, h, url.clone(), None));
            }
            (renditions, None)
        }
    };
    let chosen = pick(&renditions, query.width, query.height)?;
    let tags_text = hit.tags.unwrap_or_default();
    let tags: Vec<String> = tags_text
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let page_url = hit.page_url.unwrap_or_default();
    let slug = slug_words(&page_url);
    let user = hit.user.unwrap_or_default();
    let author_url = match hit.user_id {
        Some(id) if !user.is_empty() => format!("https://pixabay.com/users/{user}-{id}/"),
        _ => String::new(),
    };
    Some(StockHit {
        provider: NAME.into(),
        id: hit.id.to_string(),
        kind: query.kind,
        download_url: chosen.url.clone(),
        width: chosen.width,
        height: chosen.height,
        bytes: chosen.bytes,
        duration,
        description: describe(&[tags.join(", ").as_str(), slug.as_str()]),
        tags,
        attribution: Attribution {
            author: user,
            author_url,
            page_url,
            license_url: LICENSE_URL.into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn query(kind: MediaKind, page: u32) -> SearchQuery {
        SearchQuery {
            term: "flowers".into(),
            kind,
            width: 1920,
            height: 1080,
            page,
            per_page: 20,
        }
    }

    #[test]
    fn refusals_are_told_apart() {
        let none = HeaderMap::new();
        let refuse = |status: u16, body: &str| {
            let status = StatusCode::from_u16(status).unwrap();
            match refusal::<()>(NAME, status, &none, body) {
                Ok(Attempt::Rejected(code)) => format!("key {code}"),
                Ok(Attempt::Done(())) => "done".into(),
                Err(ProviderError::RateLimited { .. }) => "rate limited".into(),
                Err(e) => format!("{e}"),
            }
        };
        assert_eq!(
            refuse(400, "[ERROR 400] Invalid or missing API key"),
            "key 400"
        );
        assert_eq!(refuse(401, "Unauthorized"), "key 401");
        let range = refuse(400, "[ERROR 400] \"page\" is out of valid range.");
        assert!(range.contains("request refused (HTTP 400)"), "{range}");
        let cloudflare = "<!DOCTYPE html><title>Access denied | pixabay.com used Cloudflare to \
            restrict access</title><h1>Error 1015</h1><p>You are being rate limited</p>";
        for status in [429, 403, 503] {
            assert_eq!(refuse(status, cloudflare), "rate limited");
        }
        let blocked = refuse(403, "<!DOCTYPE html><title>Access denied</title>Error 1020");
        assert!(blocked.contains("not a key problem"), "{blocked}");
        assert!(refuse(500, "oops").contains("server error (HTTP 500): oops"));
    }

    #[test]
    fn pagination_stops_at_total_hits_and_the_500_cap() {
        let body = |total: u64| format!(r#"{{"total":{total},"totalHits":{total},"hits":[]}}"#);
        let next = |total, page| {
            parse_page(&body(total), &query(MediaKind::Video, page), 20)
                .unwrap()
                .next_page
        };
        assert_eq!(next(45, 1), Some(2));
        assert_eq!(next(45, 2), Some(3));
        assert_eq!(next(45, 3), None);
        assert_eq!(next(40, 2), None);
        assert_eq!(next(100_000, 24), Some(25));
        assert_eq!(next(100_000, 25), None);
        assert!(matches!(
            parse_page("[ERROR 400] nope", &query(MediaKind::Video, 1), 20),
            Err(ProviderError::BadReply { .. })
        ));
    }

    #[test]
    fn placeholder_renditions_are_skipped() {
        let body = r#"{"total":1,"totalHits":1,"hits":[{"id":125,"pageURL":"https://pixabay.com/videos/id-125/",
          "type":"film","tags":"flowers, yellow, blossom","duration":12,"videos":{
          "large":{"url":"","width":0,"height":0,"size":0,"thumbnail":""},
          "medium":{"url":"https://cdn.pixabay.com/m.mp4","width":1280,"height":720,"size":300,"thumbnail":""},
          "small":{"url":"https://cdn.pixabay.com/s.mp4","width":960,"height":540,"size":200,"thumbnail":""},
          "tiny":{"url":"https://cdn.pixabay.com/t.mp4","width":640,"height":360,"size":100,"thumbnail":""}},
          "user_id":1281706,"user":"Coverr-Free-Footage"}]}"#;
        let page = parse_page(body, &query(MediaKind::Video, 1), 20).unwrap();
        let h = &page.hits[0];
        assert_eq!(
            (h.download_url.as_str(), h.bytes),
            ("https://cdn.pixabay.com/m.mp4", Some(300))
        );
        assert_eq!(h.description, "flowers, yellow, blossom");
        assert_eq!(h.tags, ["flowers", "yellow", "blossom"]);
        assert_eq!(
            h.attribution.author_url,
            "https://pixabay.com/users/Coverr-Free-Footage-1281706/"
        );
    }
}
