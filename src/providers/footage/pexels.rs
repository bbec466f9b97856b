//! Pexels search: videos (`/videos/search`) and photos (`/v1/search`), the key in the
//! `Authorization` header, several keys used in turn.
//!
//! Also holds the request plumbing the Pixabay client shares (cancellation, URL checks).

use super::keys::{Attempt, KeyRing, refusal};
use super::rendition::{Orientation, Rendition, describe, pick, slug_words};
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
use tokio_util::sync::CancellationToken;

const NAME: &str = "pexels";
const LICENSE_URL: &str = "https://www.pexels.com/license/";
/// Pexels answers at most 80 results a page.
const MAX_PER_PAGE: u32 = 80;
pub struct PexelsSearch {
    client: reqwest::Client,
    base: String,
    keys: KeyRing,
    per_page: u32,
    timeout_secs: u64,
}

impl PexelsSearch {
    /// Fails with `Invalid` when no key is configured or `base_url` is not an http(s) URL.
    pub fn new(
        config: &StockConfig,
        client: reqwest::Client,
    ) -> Result<PexelsSearch, ProviderError> {
        let keys = KeyRing::from_config(NAME, "Pexels", config, "PEXELS_API_KEY")?;
        let base = api_base(NAME, &config.base_url)?;
        // People paste the photo API root from Pexels' docs; both endpoints hang off the host.
        let base = base.strip_suffix("/v1").unwrap_or(&base).to_string();
        Ok(PexelsSearch {
            client,
            base,
            keys,
            per_page: config.per_page,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
        })
    }

    /// The client's read timeout, only to say it in `Timeout` errors.
    pub fn with_timeout_secs(mut self, secs: u64) -> Self {
        self.timeout_secs = secs;
        self
    }

    fn url(&self, query: &SearchQuery) -> Result<reqwest::Url, ProviderError> {
        let path = match query.kind {
            MediaKind::Video => "/videos/search",
            MediaKind::Image => "/v1/search",
        };
        let mut url = parse_url(NAME, &format!("{}{path}", self.base))?;
        let per_page = page_size(query.per_page, self.per_page).min(MAX_PER_PAGE);
        url.query_pairs_mut()
            .append_pair("query", query.term.trim())
            .append_pair(
                "orientation",
                Orientation::of(query.width, query.height).as_str(),
            )
            .append_pair("per_page", &per_page.to_string())
            .append_pair("page", &query.page.max(1).to_string());
        Ok(url)
    }

    /// One request with one key; 401/403 reject the key.
    async fn attempt(
        &self,
        url: &reqwest::Url,
        key: &Secret,
        query: &SearchQuery,
        cancel: &CancellationToken,
    ) -> Result<Attempt<SearchPage>, ProviderError> {
        let transport =
            |e: reqwest::Error| classify_transport(NAME, url.as_str(), &e, self.timeout_secs);
        let request = self
            .client
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, key.expose().trim());
        let (status, headers, body) = fetch(request, cancel, transport).await?;
        let body = self.keys.scrub(&body);
        if status.is_success() {
            return parse_page(&body, query).map(Attempt::Done);
        }
        refusal(NAME, status, &headers, &body)
    }
}

#[async_trait]
impl StockSearch for PexelsSearch {
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
    videos: Option<Vec<Value>>,
    photos: Option<Vec<Value>>,
    next_page: Option<Value>,
}

#[derive(Deserialize)]
struct Video {
    id: u64,
    duration: Option<f64>,
    url: Option<String>,
    tags: Option<Vec<Value>>,
    user: Option<User>,
    #[serde(default)]
    video_files: Vec<VideoFile>,
}

#[derive(Default, Deserialize)]
struct User {
    name: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct VideoFile {
    file_type: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    link: Option<String>,
    size: Option<u64>,
}

#[derive(Deserialize)]
struct Photo {
    id: u64,
    width: u32,
    height: u32,
    url: Option<String>,
    photographer: Option<String>,
    photographer_url: Option<String>,
    alt: Option<String>,
    src: PhotoSources,
}

#[derive(Deserialize)]
struct PhotoSources {
    original: String,
}

fn parse_page(body: &str, query: &SearchQuery) -> Result<SearchPage, ProviderError> {
    let reply: Reply = serde_json::from_str(body.trim())
        .map_err(|e| bad_reply(NAME, format!("the reply is not Pexels search JSON ({e})")))?;
    let (list, name) = match query.kind {
        MediaKind::Video => (&reply.videos, "videos"),
        MediaKind::Image => (&reply.photos, "photos"),
    };
    let Some(list) = list else {
        return Err(bad_reply(NAME, format!("the reply has no `{name}` list")));
    };
    // One odd entry should not cost the whole page.
    let hits = list
        .iter()
        .filter_map(|item| match query.kind {
            MediaKind::Video => video_hit(serde_json::from_value(item.clone()).ok()?, query),
            MediaKind::Image => photo_hit(serde_json::from_value(item.clone()).ok()?),
        })
        .collect();
    // A missing `next_page` marks the last page.
    let more = (reply.next_page.as_ref().and_then(Value::as_str)).is_some_and(|s| !s.is_empty());
    Ok(SearchPage {
        hits,
        next_page: more.then(|| query.page.max(1) + 1),
        notes: Vec::new(),
    })
}

fn video_hit(video: Video, query: &SearchQuery) -> Option<StockHit> {
    // Without a length the clip cannot be planned against the narration; sub-second clips are
    // useless as footage.
    let duration = video.duration.filter(|d| d.is_finite() && *d >= 1.0)?;
    let renditions: Vec<Rendition> = video
        .video_files
        .into_iter()
        .filter(|f| {
            // HLS playlists are not files to download; their sizes are null anyway.
            let kind = f.file_type.as_deref().unwrap_or("").to_ascii_lowercase();
            !kind.contains("hls") && !kind.contains("mpegurl")
        })
        .filter_map(|f| Some(Rendition::new(f.width?, f.height?, f.link?, f.size)))
        .filter(|r| !r.url.to_ascii_lowercase().contains(".m3u8"))
        .collect();
    let chosen = pick(&renditions, query.width, query.height)?;
    let page_url = video.url.unwrap_or_default();
    let tags: Vec<String> = (video.tags.unwrap_or_default().iter())
        .filter_map(|t| Some(t.as_str()?.trim().to_string()))
        .filter(|t| !t.is_empty())
        .collect();
    let slug = slug_words(&page_url);
    let parts: Vec<&str> = std::iter::once(slug.as_str())
        .chain(tags.iter().map(String::as_str))
        .collect();
    let user = video.user.unwrap_or_default();
    Some(StockHit {
        provider: NAME.into(),
        id: video.id.to_string(),
        kind: MediaKind::Video,
        download_url: chosen.url.clone(),
        width: chosen.width,
        height: chosen.height,
        bytes: chosen.bytes,
        duration: Some(duration),
        description: describe(&parts),
        tags,
        attribution: Attribution {
            author: user.name.unwrap_or_default(),
            author_url: user.url.unwrap_or_default(),
            page_url,
            license_url: LICENSE_URL.into(),
        },
    })
}

/// Only `original` has a known size (the named sizes are crops or caps whose dimensions the
/// reply does not give), so it is the one rendition that provably fills the frame.
fn photo_hit(photo: Photo) -> Option<StockHit> {
    if photo.width == 0 || photo.height == 0 || photo.src.original.trim().is_empty() {
        return None;
    }
    let page_url = photo.url.unwrap_or_default();
    let slug = slug_words(&page_url);
    let alt = photo.alt.unwrap_or_default();
    Some(StockHit {
        provider: NAME.into(),
        id: photo.id.to_string(),
        kind: MediaKind::Image,
        download_url: photo.src.original,
        width: photo.width,
        height: photo.height,
        bytes: None,
        duration: None,
        description: describe(&[slug.as_str(), alt.as_str()]),
        tags: Vec::new(),
        attribution: Attribution {
            author: photo.photographer.unwrap_or_default(),
            author_url: photo.photographer_url.unwrap_or_default(),
            page_url,
            license_url: LICENSE_URL.into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(kind: MediaKind, width: u32, height: u32) -> SearchQuery {
        let term = "forest".into();
        SearchQuery {
            term,
            kind,
            width,
            height,
            page: 1,
            per_page: 15,
        }
    }

    #[test]
    fn hls_and_sizeless_files_are_skipped_and_short_clips_dropped() {
        let body = r#"{"page":1,"per_page":15,"videos":[
          {"id":1,"duration":12,"url":"https://www.pexels.com/video/a-b-1/","tags":null,
           "user":{"name":"N","url":"https://www.pexels.com/@n"},
           "video_files":[
             {"id":1,"quality":null,"file_type":"video/hls","width":null,"height":null,"fps":null,"link":"https://x/p.m3u8","size":null},
             {"id":2,"quality":"hd","file_type":"video/mp4","width":1280,"height":720,"fps":25,"link":"https://x/hd.mp4","size":10},
             {"id":3,"quality":"uhd","file_type":"video/mp4","width":3840,"height":2160,"fps":25,"link":"https://x/uhd.mp4","size":null}]},
          {"id":2,"duration":0,"url":"https://www.pexels.com/video/short-2/","video_files":[
             {"file_type":"video/mp4","width":1280,"height":720,"link":"https://x/s.mp4"}]},
          {"id":"not a number"}]}"#;
        let page = parse_page(body, &query(MediaKind::Video, 1280, 720)).unwrap();
        assert_eq!(page.next_page, None);
        let hit = &page.hits[..];
        assert_eq!(hit.len(), 1);
        assert_eq!(
            (hit[0].id.as_str(), hit[0].width, hit[0].bytes),
            ("1", 1280, Some(10))
        );
        assert_eq!(hit[0].description, "a b");
        let page = parse_page(body, &query(MediaKind::Video, 1080, 1920)).unwrap();
        assert_eq!(page.hits[0].download_url, "https://x/uhd.mp4");
    }
}
