//! Pexels and Pixabay search clients against the fake vendors in `support/stock.rs`: mapping,
//! pagination, rendition choice, key rotation, every error class and cancellation.

#[path = "support/stock.rs"]
mod stock;

use reelforge::config::{Secret, StockConfig};
use reelforge::providers::ProviderError;
use reelforge::providers::footage::MediaKind::{Image, Video};
use reelforge::providers::footage::pexels::PexelsSearch;
use reelforge::providers::footage::pixabay::PixabaySearch;
use reelforge::providers::footage::{
    Attribution, MediaKind, SearchPage, SearchQuery, StockHit, StockSearch,
};
use std::time::{Duration, Instant};
use stock::{
    Catalogue, Fault, PEXELS_KEY, PIXABAY_KEY, StockItem, StockServer, Vendor, file_bytes,
    photo_path, video_path,
};
use tokio_util::sync::CancellationToken;

const FULL_HD: (u32, u32) = (1920, 1080);
const PORTRAIT_HD: (u32, u32) = (1080, 1920);

fn config(base: String, keys: &[&str], env: &str) -> StockConfig {
    StockConfig {
        api_keys: keys.iter().map(|k| Secret::new(*k)).collect(),
        api_key_env: env.into(),
        base_url: base,
        per_page: 15,
    }
}

fn client() -> reqwest::Client {
    reelforge::providers::http::client(Duration::from_secs(5)).unwrap()
}

fn pexels(server: &StockServer, keys: &[&str]) -> PexelsSearch {
    let cfg = config(server.base_url(), keys, "PEXELS_API_KEY");
    PexelsSearch::new(&cfg, client()).unwrap()
}

fn pixabay(server: &StockServer, keys: &[&str]) -> PixabaySearch {
    let cfg = config(server.pixabay_base(), keys, "PIXABAY_API_KEY");
    PixabaySearch::new(&cfg, client()).unwrap()
}

fn query(term: &str, kind: MediaKind, (width, height): (u32, u32), per_page: u32) -> SearchQuery {
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

async fn search(s: &dyn StockSearch, q: &SearchQuery) -> Result<SearchPage, ProviderError> {
    s.search(q, &CancellationToken::new()).await
}

/// The first page of 15 for `term`, which must succeed.
async fn find(s: &dyn StockSearch, term: &str, kind: MediaKind, frame: (u32, u32)) -> SearchPage {
    search(s, &query(term, kind, frame, 15)).await.unwrap()
}

/// A short name of the error's class, for compact assertions.
fn class(e: &ProviderError) -> String {
    match e {
        ProviderError::RateLimited { retry_after, .. } => format!("rate limited {retry_after:?}"),
        ProviderError::Server { status, .. } => format!("server {status}"),
        ProviderError::Auth { status, .. } => format!("auth {status}"),
        ProviderError::BadRequest { status, .. } => format!("bad request {status}"),
        ProviderError::BadReply { .. } => "bad reply".into(),
        ProviderError::Network { .. } => "network".into(),
        ProviderError::Cancelled => "cancelled".into(),
        other => format!("other: {other}"),
    }
}

/// The sample catalogue plus two more landscape forest clips (for a second page) and a
/// portrait clip offered only in small sizes.
fn catalogue() -> Catalogue {
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

fn ids(page: &SearchPage) -> Vec<&str> {
    page.hits.iter().map(|h| h.id.as_str()).collect()
}

fn size(hit: &StockHit) -> (u32, u32) {
    (hit.width, hit.height)
}

fn credit(author: &str, author_url: &str, page_url: &str, license_url: &str) -> Attribution {
    let [author, author_url, page_url, license_url] =
        [author, author_url, page_url, license_url].map(String::from);
    Attribution {
        author,
        author_url,
        page_url,
        license_url,
    }
}

fn auths(server: &StockServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter_map(|s| s.authorization)
        .collect()
}

#[tokio::test]
async fn pexels_videos_map_paginate_and_send_the_right_request() {
    let server = StockServer::start(catalogue()).await;
    let p = pexels(&server, &[PEXELS_KEY]);
    assert_eq!(p.name(), "pexels");
    let q = query("forest", Video, FULL_HD, 2);
    let first = search(&p, &q).await.unwrap();
    // 2000002 lasts 0 s and is dropped; the portrait clip is filtered out by orientation.
    assert_eq!((ids(&first), first.next_page), (vec!["1448735"], Some(2)));
    assert!(first.notes.is_empty());
    let hit = &first.hits[0];
    let file = format!("{}{}", server.files_base(), video_path(1448735, FULL_HD));
    assert_eq!(hit.download_url, file);
    let bytes = Some(file_bytes(FULL_HD));
    assert_eq!(
        (size(hit), hit.bytes, hit.duration),
        (FULL_HD, bytes, Some(32.0))
    );
    assert_eq!(
        (hit.kind, hit.description.as_str()),
        (Video, "video of forest, trees")
    );
    assert_eq!(hit.tags, ["forest", "trees"]);
    let expected = credit(
        "Coverr-Free-Footage",
        "https://www.pexels.com/@coverr-free-footage",
        "https://www.pexels.com/video/video-of-forest-1448735/",
        "https://www.pexels.com/license/",
    );
    assert_eq!(hit.attribution, expected);

    let second = search(&p, &SearchQuery { page: 2, ..q }).await.unwrap();
    assert_eq!(
        (ids(&second), second.next_page),
        (vec!["3000001", "3000002"], None)
    );

    let seen = server.requests_to(Vendor::Pexels);
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].path.as_str(), seen[0].authorization.as_deref()),
        ("/videos/search", Some(PEXELS_KEY))
    );
    let param = |i: usize, k: &str| seen[i].params[k].clone();
    assert_eq!(
        [param(0, "query"), param(0, "orientation")],
        ["forest", "landscape"]
    );
    assert_eq!(
        [param(0, "per_page"), param(0, "page"), param(1, "page")],
        ["2", "1", "2"]
    );
}

#[tokio::test]
async fn renditions_fit_the_frame() {
    let server = StockServer::start(catalogue()).await;
    let p = pexels(&server, &[PEXELS_KEY]);
    // Portrait frame, portrait clip: the smallest file that covers 1080x1920.
    let page = find(&p, "river", Video, PORTRAIT_HD).await;
    assert_eq!(
        (ids(&page), size(&page.hits[0])),
        (vec!["2000001"], PORTRAIT_HD)
    );
    assert_eq!(server.requests()[0].params["orientation"], "portrait");
    // Nothing covers 1080x1920: the largest of the small ones, not the first listed.
    let page = find(&p, "waterfall", Video, PORTRAIT_HD).await;
    assert_eq!(size(&page.hits[0]), (540, 960));
    assert!(page.hits[0].download_url.ends_with("/540x960.mp4"));
    // Pixabay lists the portrait clip as large..tiny; a 720x1280 frame takes "small".
    let x = pixabay(&server, &[PIXABAY_KEY]);
    let page = find(&x, "river", Video, (720, 1280)).await;
    assert_eq!(size(&page.hits[0]), (720, 1280));
}

#[tokio::test]
async fn pexels_photos_take_the_original() {
    let server = StockServer::start(catalogue()).await;
    // The photo API root from Pexels' docs works as base_url too.
    let cfg = config(
        format!("{}/v1/", server.base_url()),
        &[PEXELS_KEY],
        "PEXELS_API_KEY",
    );
    let p = PexelsSearch::new(&cfg, client()).unwrap();
    let page = find(&p, "rocks", Image, (1080, 1080)).await;
    assert_eq!((ids(&page), page.next_page), (vec!["2014422"], None));
    let hit = &page.hits[0];
    let file = format!("{}{}", server.files_base(), photo_path(2014422, "original"));
    assert_eq!(hit.download_url, file);
    assert_eq!(
        (hit.kind, size(hit), hit.duration),
        (Image, (3024, 3024), None)
    );
    // `alt` repeats the slug and is not said twice.
    assert_eq!(hit.description, "brown rocks during golden hour");
    let expected = credit(
        "Joey Farina",
        "https://www.pexels.com/@joey-farina",
        "https://www.pexels.com/photo/brown-rocks-during-golden-hour-2014422/",
        "https://www.pexels.com/license/",
    );
    assert_eq!(hit.attribution, expected);
    let seen = &server.requests()[0];
    assert_eq!(
        (seen.path.as_str(), seen.params["orientation"].as_str()),
        ("/v1/search", "square")
    );
}

#[tokio::test]
async fn pixabay_videos_map_and_paginate() {
    let server = StockServer::start(catalogue()).await;
    let x = pixabay(&server, &[PIXABAY_KEY]);
    assert_eq!(x.name(), "pixabay");
    let q = query("forest", Video, FULL_HD, 3);
    let first = search(&x, &q).await.unwrap();
    // Pixabay does not filter videos by orientation: the portrait clip comes too.
    assert_eq!(
        (ids(&first), first.next_page),
        (vec!["1448735", "2000001"], Some(2))
    );
    let hit = &first.hits[0];
    let file = format!("{}{}", server.files_base(), video_path(1448735, FULL_HD));
    assert_eq!(hit.download_url, file);
    assert_eq!(
        (hit.bytes, hit.duration),
        (Some(file_bytes(FULL_HD)), Some(32.0))
    );
    assert_eq!(hit.description, "forest, trees, video of forest");
    let expected = credit(
        "Coverr-Free-Footage",
        "https://pixabay.com/users/Coverr-Free-Footage-1281706/",
        "https://pixabay.com/videos/video-of-forest-1448735/",
        "https://pixabay.com/service/license-summary/",
    );
    assert_eq!(hit.attribution, expected);
    // The portrait clip fills a landscape frame only from its 2160x3840 file.
    assert_eq!(size(&first.hits[1]), (2160, 3840));

    let second = search(&x, &SearchQuery { page: 2, ..q }).await.unwrap();
    assert_eq!(
        (ids(&second), second.next_page),
        (vec!["3000001", "3000002"], None)
    );

    let seen = server.requests_to(Vendor::Pixabay);
    assert_eq!(
        (seen[0].path.as_str(), seen[0].authorization.as_deref()),
        ("/api/videos/", None)
    );
    let sent =
        ["key", "q", "page", "per_page", "safesearch", "video_type"].map(|k| &seen[0].params[k]);
    assert_eq!(sent, [PIXABAY_KEY, "forest", "1", "3", "true", "film"]);
}

#[tokio::test]
async fn pixabay_photos_choose_between_large_and_webformat() {
    let server = StockServer::start(catalogue()).await;
    let x = pixabay(&server, &[PIXABAY_KEY]);
    let page = find(&x, "path", Image, FULL_HD).await;
    assert_eq!(ids(&page), ["2014423"]);
    let hit = &page.hits[0];
    // 6000x4000 comes as 1280x853 at most: too small for 1080p, so the largest one.
    assert_eq!(
        (size(hit), hit.kind, hit.duration, hit.bytes),
        ((1280, 853), Image, None, None)
    );
    let file = format!("{}{}", server.files_base(), photo_path(2014423, "large"));
    assert_eq!(hit.download_url, file);
    assert_eq!(hit.description, "forest, path");
    let page_url = "https://pixabay.com/photos/forest-path-2014423/";
    assert_eq!(
        (
            hit.attribution.author.as_str(),
            hit.attribution.page_url.as_str()
        ),
        ("Joey Farina", page_url)
    );
    let seen = &server.requests()[0];
    assert_eq!(seen.path, "/api/");
    let sent = ["orientation", "image_type"].map(|k| &seen.params[k]);
    assert_eq!(sent, ["horizontal", "photo"]);
    // A small frame is covered by the 640 px web format.
    let page = find(&x, "path", Image, (640, 360)).await;
    assert_eq!(size(&page.hits[0]), (640, 427));
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_transient() {
    let server = StockServer::start(catalogue()).await;
    let (p, x) = (
        pexels(&server, &[PEXELS_KEY]),
        pixabay(&server, &[PIXABAY_KEY]),
    );
    let q = query("forest", Video, FULL_HD, 15);
    server.push_fault(Vendor::Pexels, Fault::RateLimited(Some("7".into())));
    server.push_fault(Vendor::Pexels, Fault::RateLimited(None));
    server.push_fault(Vendor::Pexels, Fault::ServerError);
    server.push_fault(Vendor::Pixabay, Fault::RateLimited(Some("3".into())));
    server.push_fault(Vendor::Pixabay, Fault::ServerError);
    let mut seen = Vec::new();
    for s in [&p as &dyn StockSearch, &p, &p, &x, &x] {
        let e = search(s, &q).await.unwrap_err();
        assert!(e.is_transient(), "{e}");
        seen.push(class(&e));
    }
    let expected = [
        "rate limited Some(7s)",
        "rate limited None",
        "server 500",
        "rate limited Some(3s)",
        "server 500",
    ];
    assert_eq!(seen, expected);
    // No retries inside search: one request per failure, and the queue is spent.
    assert_eq!(server.requests().len(), 5);
    assert_eq!(
        ids(&search(&p, &q).await.unwrap()),
        ["1448735", "3000001", "3000002"]
    );
}

#[tokio::test]
async fn pixabay_cloudflare_pages_are_rate_limits() {
    let server = StockServer::start(catalogue()).await;
    let x = pixabay(&server, &[PIXABAY_KEY]);
    let q = query("forest", Video, FULL_HD, 20);
    for status in [429, 403, 503] {
        server.push_fault(Vendor::Pixabay, Fault::Cloudflare(status));
        let e = search(&x, &q).await.unwrap_err();
        assert_eq!(class(&e), "rate limited None", "{status}");
    }
    // The 403 page did not cost the key.
    assert_eq!(search(&x, &q).await.unwrap().hits.len(), 4);
}

#[tokio::test]
async fn rejected_key_is_set_aside_and_the_next_one_used() {
    let server = StockServer::start(catalogue()).await;
    let p = pexels(&server, &["revoked-key", PEXELS_KEY]);
    let page = find(&p, "forest", Video, FULL_HD).await;
    assert_eq!(ids(&page), ["1448735", "3000001", "3000002"]);
    let note = "pexels: API key 1 of 2 was rejected (HTTP 401) and is set aside for this run";
    assert_eq!(page.notes, [note]);
    for _ in 0..3 {
        assert!(find(&p, "forest", Video, FULL_HD).await.notes.is_empty());
    }
    assert_eq!(
        auths(&server),
        [
            "revoked-key",
            PEXELS_KEY,
            PEXELS_KEY,
            PEXELS_KEY,
            PEXELS_KEY
        ]
    );

    // Pixabay's "[ERROR 400] Invalid or missing API key" counts as a rejection too.
    let x = pixabay(&server, &["old-pixabay-key", PIXABAY_KEY]);
    let page = find(&x, "forest", Video, FULL_HD).await;
    let note = "pixabay: API key 1 of 2 was rejected (HTTP 400) and is set aside for this run";
    assert_eq!((page.notes, page.hits.len()), (vec![note.to_string()], 4));
}

#[tokio::test]
async fn good_keys_take_turns() {
    let mut cat = catalogue();
    cat.pexels_keys = vec!["key-a".into(), "key-b".into()];
    let server = StockServer::start(cat).await;
    let p = pexels(&server, &["key-a", "key-b"]);
    for _ in 0..4 {
        find(&p, "forest", Video, FULL_HD).await;
    }
    assert_eq!(auths(&server), ["key-a", "key-b", "key-a", "key-b"]);
}

#[tokio::test]
async fn all_keys_rejected_is_an_auth_error_without_the_keys() {
    let server = StockServer::start(catalogue()).await;
    let q = query("forest", Video, FULL_HD, 15);
    let p = pexels(&server, &["wrong-one", "wrong-two"]);
    let e = search(&p, &q).await.unwrap_err();
    let text = format!("{e} {e:?}");
    assert_eq!(class(&e), "auth 401");
    assert!(!e.is_transient());
    assert!(
        text.contains("PEXELS_API_KEY / [footage.pexels] api_keys"),
        "{text}"
    );
    assert!(
        !text.contains("wrong-one") && !text.contains("wrong-two"),
        "{text}"
    );
    // The ring is spent: later searches fail without asking the vendor.
    assert_eq!(class(&search(&p, &q).await.unwrap_err()), "auth 401");
    assert_eq!(server.requests().len(), 2);

    let x = pixabay(&server, &["wrong-three"]);
    let e = search(&x, &q).await.unwrap_err();
    let text = format!("{e} {e:?}");
    assert_eq!(class(&e), "auth 400");
    assert!(
        text.contains("PIXABAY_API_KEY / [footage.pixabay] api_keys"),
        "{text}"
    );
    assert!(!text.contains("wrong-three"), "{text}");
}

#[tokio::test]
async fn pixabay_key_never_appears_in_errors() {
    let server = StockServer::start(catalogue()).await;
    let x = pixabay(&server, &[PIXABAY_KEY]);
    let q = query("forest", Video, FULL_HD, 20);
    let echo = format!("bad request: /api/videos/?key={PIXABAY_KEY}&q=forest");
    server.push_fault(Vendor::Pixabay, Fault::Status(502, echo.clone()));
    server.push_fault(Vendor::Pixabay, Fault::Status(400, echo));
    server.push_fault(Vendor::Pixabay, Fault::Garbage);
    let mut errors = Vec::new();
    for _ in 0..3 {
        errors.push(search(&x, &q).await.unwrap_err());
    }
    // Nothing listens on a port just freed: a transport error, whose URL held the key.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config(
        format!("http://127.0.0.1:{port}/api"),
        &[PIXABAY_KEY],
        "PIXABAY_API_KEY",
    );
    let closed = PixabaySearch::new(&cfg, client()).unwrap();
    errors.push(search(&closed, &q).await.unwrap_err());
    let classes: Vec<String> = errors.iter().map(class).collect();
    assert_eq!(
        classes,
        ["server 502", "bad request 400", "bad reply", "network"]
    );
    for e in &errors {
        let text = format!("{e} {e:?}");
        assert!(!text.contains(PIXABAY_KEY), "{text}");
    }
    // The vendor's echo is kept, minus the key.
    assert!(
        errors[0].to_string().contains("key=<redacted>&q=forest"),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn garbage_replies_are_bad_replies() {
    let server = StockServer::start(catalogue()).await;
    let p = pexels(&server, &[PEXELS_KEY]);
    server.push_fault(Vendor::Pexels, Fault::Garbage);
    let e = search(&p, &query("forest", Video, FULL_HD, 15))
        .await
        .unwrap_err();
    assert_eq!(class(&e), "bad reply");
    assert!(e.is_transient());
}

#[tokio::test]
async fn cancellation_stops_a_hanging_search() {
    let server = StockServer::start(catalogue()).await;
    let (p, x) = (
        pexels(&server, &[PEXELS_KEY]),
        pixabay(&server, &[PIXABAY_KEY]),
    );
    let q = query("forest", Video, FULL_HD, 15);
    for (s, vendor) in [
        (&p as &dyn StockSearch, Vendor::Pexels),
        (&x, Vendor::Pixabay),
    ] {
        server.push_fault(vendor, Fault::Delay(Duration::from_secs(30)));
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            trigger.cancel();
        });
        let started = Instant::now();
        assert_eq!(
            class(&s.search(&q, &cancel).await.unwrap_err()),
            "cancelled"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // Already cancelled: nothing more is sent (the hung request is never answered).
        assert_eq!(
            class(&s.search(&q, &cancel).await.unwrap_err()),
            "cancelled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(server.requests_to(vendor).is_empty());
    }
}

#[test]
fn missing_keys_are_invalid_settings() {
    let cfg = config(
        "https://api.pexels.com".into(),
        &["", " "],
        "PEXELS_API_KEY",
    );
    let e = PexelsSearch::new(&cfg, client()).err().unwrap().to_string();
    assert_eq!(
        e,
        "pexels: no Pexels API key: set PEXELS_API_KEY or [footage.pexels] api_keys"
    );
    let cfg = config("https://pixabay.com/api".into(), &[], "PIXABAY_API_KEY");
    let e = PixabaySearch::new(&cfg, client())
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        e,
        "pixabay: no Pixabay API key: set PIXABAY_API_KEY or [footage.pixabay] api_keys"
    );
}
