//! What the fake Pexels and Pixabay of `stock.rs` answer when no fault is queued: the
//! catalogue searched by term, orientation and page, in each vendor's JSON (or its text
//! errors for bad keys and out-of-range pages). Included by `stock.rs` as its `json` module.

use super::{JSON, Params, Shared, StockItem, TEXT, Vendor, file_bytes, photo_path, video_path};
use serde_json::{Value, json};

type Reply = (u16, &'static str, String, Option<String>);

pub(super) fn answer(
    shared: &Shared,
    vendor: Vendor,
    videos: bool,
    params: &Params,
    auth: Option<&str>,
) -> Reply {
    let cat = &shared.catalogue;
    let num = |name: &str, default: u32| -> u32 {
        params
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let term = params
        .get("query")
        .or(params.get("q"))
        .cloned()
        .unwrap_or_default();
    let split = |s: &str| -> Vec<String> {
        let words = s
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty());
        words.map(str::to_lowercase).collect()
    };
    let words = split(&term);
    let matches = |i: &StockItem| {
        let have = split(&format!("{} {} {}", i.slug, i.tags.join(" "), i.alt));
        cat.match_any_term || words.iter().any(|w| have.contains(w))
    };
    let orientation = params.get("orientation").map(String::as_str).unwrap_or("");
    let oriented = |(w, h): (u32, u32)| match orientation {
        "portrait" | "vertical" => h > w,
        "landscape" | "horizontal" => w > h,
        "square" => w.abs_diff(h) * 20 <= w.max(h),
        _ => true,
    };
    let found: Vec<&StockItem> = (cat.items.iter())
        .filter(|i| i.video == videos && matches(i) && oriented(i.size()))
        .collect();
    let total = found.len() as u32;
    let page = num("page", 1).max(1);
    let files = &cat.files_base;
    let show = |per_page: u32, to_json: fn(&StockItem, &str) -> Value| -> Vec<Value> {
        let shown = found.iter().skip(((page - 1) * per_page) as usize);
        shown
            .take(per_page as usize)
            .map(|i| to_json(i, files))
            .collect()
    };
    let text = |status, body: &str| (status, TEXT, body.to_string(), None);
    match vendor {
        Vendor::Pexels => {
            if !auth.is_some_and(|a| cat.pexels_keys.iter().any(|k| k == a)) {
                let body = r#"{"status":401,"code":"Unauthorized"}"#;
                return (401, JSON, body.into(), None);
            }
            let per_page = num("per_page", 15).clamp(1, 80);
            let (list, path) = match videos {
                true => ("videos", "videos/search/"),
                false => ("photos", "v1/search/"),
            };
            let hits = show(per_page, if videos { pexels_video } else { pexels_photo });
            let url = format!(
                "https://www.pexels.com/search/{}/",
                term.replace(' ', "%20")
            );
            let mut body = json!({"page": page, "per_page": per_page, "total_results": total});
            body["url"] = json!(url);
            body[list] = json!(hits);
            if page * per_page < total {
                let query = term.replace(' ', "+");
                let (base, next) = (&shared.base, page + 1);
                let next = format!("{base}/{path}?page={next}&per_page={per_page}&query={query}");
                body["next_page"] = json!(next);
            }
            (200, JSON, body.to_string(), None)
        }
        Vendor::Pixabay => {
            let key = params.get("key").map(String::as_str).unwrap_or("");
            if !cat.pixabay_keys.iter().any(|k| k == key) {
                return text(400, "[ERROR 400] Invalid or missing API key");
            }
            let per_page = num("per_page", 20);
            if !(3..=200).contains(&per_page) {
                return text(400, "[ERROR 400] \"per_page\" is out of valid range.");
            }
            let total_hits = total.min(500);
            if page > 1 && (page - 1) * per_page >= total_hits {
                return text(400, "[ERROR 400] \"page\" is out of valid range.");
            }
            let hits = show(per_page, if videos { pixabay_video } else { pixabay_photo });
            let body = json!({"total": total, "totalHits": total_hits, "hits": hits});
            (200, JSON, body.to_string(), None)
        }
    }
}

fn pexels_user_url(name: &str) -> String {
    let slug = name.to_lowercase().replace(' ', "-");
    format!("https://www.pexels.com/@{slug}")
}

fn pexels_video(v: &StockItem, files: &str) -> Value {
    let (width, height) = v.size();
    let mut video_files: Vec<Value> = (v.sizes.iter().enumerate())
        .map(|(i, &(w, h))| {
            let quality = match w.min(h) {
                0..=540 => "sd",
                541..=1080 => "hd",
                _ => "uhd",
            };
            let link = format!("{files}{}", video_path(v.id, (w, h)));
            json!({"id": v.id * 10 + i as u64, "quality": quality, "file_type": "video/mp4",
                   "width": w, "height": h, "fps": 25.0, "link": link, "size": file_bytes((w, h))})
        })
        .collect();
    if v.hls {
        let link = format!("https://player.vimeo.com/external/{}.m3u8?s=x", v.id);
        video_files.push(json!({"id": v.id * 10 + 9, "quality": null, "file_type": "video/hls",
                                "width": null, "height": null, "fps": null, "link": link, "size": null}));
    }
    let picture = format!("https://images.pexels.com/videos/{}/preview-0.jpg", v.id);
    json!({
        "id": v.id, "width": width, "height": height, "duration": v.duration, "full_res": null,
        "tags": v.tags, "url": format!("https://www.pexels.com/video/{}-{}/", v.slug, v.id),
        "image": format!("https://images.pexels.com/videos/{0}/free-video-{0}.jpg", v.id),
        "avg_color": null, "user": {"id": v.user_id, "name": v.user, "url": pexels_user_url(&v.user)},
        "video_files": video_files,
        "video_pictures": [{"id": v.id * 100, "picture": picture, "nr": 0}],
    })
}

fn pexels_photo(p: &StockItem, files: &str) -> Value {
    let names = "original large2x large medium small portrait landscape tiny".split(' ');
    let link = |size: &str| json!(format!("{files}{}", photo_path(p.id, size)));
    let src: serde_json::Map<String, Value> = names.map(|s| (s.to_string(), link(s))).collect();
    let (width, height) = p.size();
    json!({
        "id": p.id, "width": width, "height": height,
        "url": format!("https://www.pexels.com/photo/{}-{}/", p.slug, p.id),
        "photographer": p.user, "photographer_url": pexels_user_url(&p.user),
        "photographer_id": p.user_id, "avg_color": "#978E82", "src": src, "liked": false, "alt": p.alt,
    })
}

fn pixabay_video(v: &StockItem, files: &str) -> Value {
    let mut sizes = v.sizes.clone();
    sizes.sort_by_key(|&(w, h)| std::cmp::Reverse(w * h));
    let mut videos = serde_json::Map::new();
    for (i, name) in ["large", "medium", "small", "tiny"].iter().enumerate() {
        let entry = match sizes.get(i) {
            Some(&(w, h)) => {
                let url = format!("{files}{}", video_path(v.id, (w, h)));
                let thumbnail = format!("https://cdn.pixabay.com/{}_{name}.jpg", v.id);
                json!({"url": url, "width": w, "height": h, "size": file_bytes((w, h)),
                       "thumbnail": thumbnail})
            }
            // Pixabay's placeholder for a size it does not have.
            None => json!({"url": "", "width": 0, "height": 0, "size": 0, "thumbnail": ""}),
        };
        videos.insert(name.to_string(), entry);
    }
    json!({
        "id": v.id, "pageURL": format!("https://pixabay.com/videos/{}-{}/", v.slug, v.id),
        "type": "film", "tags": v.tags.join(", "), "duration": v.duration, "videos": videos,
        "views": 1000, "downloads": 100, "likes": 10, "comments": 1,
        "user_id": v.user_id, "user": v.user, "userImageURL": "https://cdn.pixabay.com/user/x.png",
    })
}

fn pixabay_photo(p: &StockItem, files: &str) -> Value {
    let (width, height) = p.size();
    let fit = |side: u32| {
        let scale = f64::from(side.min(width.max(height))) / f64::from(width.max(height).max(1));
        let shrink = |v: u32| (f64::from(v) * scale).round() as u32;
        (shrink(width), shrink(height))
    };
    let ((pw, ph), (ww, wh)) = (fit(150), fit(640));
    let url = |size: &str| format!("{files}{}", photo_path(p.id, size));
    json!({
        "id": p.id, "pageURL": format!("https://pixabay.com/photos/{}-{}/", p.slug, p.id),
        "type": "photo", "tags": p.tags.join(", "),
        "previewURL": url("preview"), "previewWidth": pw, "previewHeight": ph,
        "webformatURL": url("webformat"), "webformatWidth": ww, "webformatHeight": wh,
        "largeImageURL": url("large"), "imageWidth": width, "imageHeight": height,
        "imageSize": file_bytes((width, height)), "views": 1000, "downloads": 100,
        "collections": 5, "likes": 10, "comments": 1,
        "user_id": p.user_id, "user": p.user, "userImageURL": "https://cdn.pixabay.com/user/x.png",
    })
}
