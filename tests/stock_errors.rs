//! Pexels and Pixabay search clients against the fake vendors in `support/stock.rs`, when
//! things go wrong: rate limits (429 and Cloudflare pages), server errors, rejected and
//! rotating keys, secrets kept out of errors, garbage replies and cancellation.

#[path = "support/stock.rs"]
mod stock;
#[path = "support/stock_clients.rs"]
mod stock_clients;

use reelforge::providers::ProviderError;
use reelforge::providers::footage::MediaKind::Video;
use reelforge::providers::footage::StockSearch;
use reelforge::providers::footage::pexels::PexelsSearch;
use reelforge::providers::footage::pixabay::PixabaySearch;
use std::time::{Duration, Instant};
use stock::{Fault, PEXELS_KEY, PIXABAY_KEY, StockServer, Vendor};
use stock_clients::{
    FULL_HD, catalogue, client, config, find, ids, pexels, pixabay, query, search,
};
use tokio_util::sync::CancellationToken;

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

fn auths(server: &StockServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter_map(|s| s.authorization)
        .collect()
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
