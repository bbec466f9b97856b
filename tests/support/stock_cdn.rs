//! A Pexels-shaped server whose clip files live on a second server (the "CDN"), as the
//! real vendor serves them. Needs `support/files.rs` and `support/stock.rs` as `files` and
//! `stock` in the including crate.

use crate::stock::{Catalogue, LANDSCAPE, StockItem, StockServer, video_path};

/// Eight landscape clips whose files live on a second server (the "CDN"), with `options`.
pub fn start_vendor_and_cdn(
    runtime: &tokio::runtime::Runtime,
    options: crate::files::ServerOptions,
) -> (StockServer, crate::files::FileServer, Vec<String>, Vec<u8>) {
    let fixtures = crate::files::Fixtures::make();
    let cdn = runtime.block_on(crate::files::FileServer::start_with(options));
    let items: Vec<StockItem> = (0..8)
        .map(|i| {
            let slug = format!("forest-clip-number-{i}");
            StockItem::video(4_000_000 + i, &slug, &["forest"], 3, LANDSCAPE)
        })
        .collect();
    let mut names = Vec::new();
    for item in &items {
        for size in &item.sizes {
            let name = video_path(item.id, *size)
                .trim_start_matches('/')
                .to_string();
            cdn.add(&name, fixtures.plain.clone());
            names.push(name);
        }
    }
    let catalogue = Catalogue {
        items,
        match_any_term: true,
        files_base: format!("http://{}/files", cdn.addr),
        ..Catalogue::sample()
    };
    let server = runtime.block_on(StockServer::start(catalogue));
    (server, cdn, names, fixtures.plain)
}
