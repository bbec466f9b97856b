//! Pexels and Pixabay search clients against the fake vendors in `support/stock.rs`: mapping,
//! pagination and rendition choice. Errors, keys and cancellation are in `stock_errors.rs`.

#[path = "support/stock.rs"]
mod stock;
#[path = "support/stock_clients.rs"]
mod stock_clients;

use reelforge::providers::footage::MediaKind::{Image, Video};
use reelforge::providers::footage::pexels::PexelsSearch;
use reelforge::providers::footage::{Attribution, SearchQuery, StockHit, StockSearch};
use stock::{PEXELS_KEY, PIXABAY_KEY, StockServer, Vendor, file_bytes, photo_path, video_path};
use stock_clients::{
    FULL_HD, catalogue, client, config, find, ids, pexels, pixabay, query, search,
};

const PORTRAIT_HD: (u32, u32) = (1080, 1920);

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
