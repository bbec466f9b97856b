//! Which of a stock clip's renditions to download for a target frame, which orientation to ask
//! the vendor for, and what a hit's page URL says about it. Pure functions, shared by every
//! vendor.
//!
//! The clip is scaled to fill the frame and cropped, so a rendition is good enough when the
//! fill scale does not enlarge it. The smallest such rendition saves bandwidth and decode time;
//! when none is big enough the largest one loses the least sharpness.

use serde::{Deserialize, Serialize};

/// Enlargement still accepted as "covers the frame". Vendors cut renditions to their own
/// heights: a 4096x2160 clip comes as 1920x1012, which fills a 1920x1080 frame at 1.067x. That
/// is invisible after encoding, while the next rendition up is a 4K file of four times the size.
pub const UPSCALE_TOLERANCE: f64 = 1.08;

/// Frames whose sides differ by at most this fraction count as square.
const SQUARE_TOLERANCE: f64 = 0.05;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    Portrait,
    Landscape,
    Square,
}

impl Orientation {
    /// The orientation of a `width` x `height` frame.
    pub fn of(width: u32, height: u32) -> Orientation {
        let (w, h) = (f64::from(width), f64::from(height));
        if (w - h).abs() <= SQUARE_TOLERANCE * w.max(h) {
            Orientation::Square
        } else if h > w {
            Orientation::Portrait
        } else {
            Orientation::Landscape
        }
    }

    /// "portrait", "landscape", "square" (Pexels' own words).
    pub fn as_str(self) -> &'static str {
        match self {
            Orientation::Portrait => "portrait",
            Orientation::Landscape => "landscape",
            Orientation::Square => "square",
        }
    }
}

/// One downloadable file of a clip.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendition {
    pub width: u32,
    pub height: u32,
    pub url: String,
    /// File size, when the vendor says it.
    pub bytes: Option<u64>,
}

impl Rendition {
    pub fn new(width: u32, height: u32, url: impl Into<String>, bytes: Option<u64>) -> Rendition {
        Rendition {
            width,
            height,
            url: url.into(),
            bytes,
        }
    }

    fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Vendors list placeholders (`{"url":"","width":0}`) for sizes they do not have.
    fn usable(&self) -> bool {
        self.width > 0 && self.height > 0 && !self.url.trim().is_empty()
    }
}

/// How much a `width` x `height` picture must be enlarged to fill the target frame (<= 1: it
/// is shrunk or kept).
pub fn fill_scale(width: u32, height: u32, target_w: u32, target_h: u32) -> f64 {
    let sx = f64::from(target_w) / f64::from(width.max(1));
    let sy = f64::from(target_h) / f64::from(height.max(1));
    sx.max(sy)
}

/// Whether the rendition fills the frame without visible enlargement.
pub fn covers(width: u32, height: u32, target_w: u32, target_h: u32) -> bool {
    fill_scale(width, height, target_w, target_h) <= UPSCALE_TOLERANCE
}

/// The rendition to download for a `target_w` x `target_h` frame: the smallest (fewest
/// pixels) that covers the frame, or the largest when none does. Ties go to the smaller file,
/// then to the vendor's order. `None` only when no rendition is usable.
pub fn pick(renditions: &[Rendition], target_w: u32, target_h: u32) -> Option<&Rendition> {
    let usable = || renditions.iter().filter(|r| r.usable());
    let size_key = |r: &Rendition| (r.pixels(), r.bytes.unwrap_or(u64::MAX));
    let covering = usable()
        .filter(|r| covers(r.width, r.height, target_w, target_h))
        .min_by_key(|r| size_key(r));
    covering.or_else(|| {
        // max_by_key keeps the last of equals; the vendor's first listing is the better guess.
        usable().rev().max_by_key(|r| r.pixels())
    })
}

/// `width` x `height` shrunk (never enlarged) so that its long side is at most `side`: the
/// size of a capped rendition whose own size the vendor does not give.
pub fn fit_within(width: u32, height: u32, side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= side {
        return (width, height);
    }
    let scale = f64::from(side) / f64::from(long);
    let shrink = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
    (shrink(width), shrink(height))
}

/// The words of a page URL's last path segment, without the trailing id:
/// ".../video/video-of-forest-1448735/" gives "video of forest"; Pixabay's bare
/// ".../videos/id-125/" gives nothing.
pub fn slug_words(page_url: &str) -> String {
    let path = page_url.split(['?', '#']).next().unwrap_or("");
    let segment = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if segment.contains(':') || !segment.contains('-') {
        // A bare host or a lone id: no words.
        return String::new();
    }
    let mut words: Vec<&str> = segment.split('-').filter(|w| !w.is_empty()).collect();
    while words
        .last()
        .is_some_and(|w| w.chars().all(|c| c.is_ascii_digit()))
    {
        words.pop();
    }
    if words == ["id"] {
        return String::new();
    }
    words.join(" ")
}

/// Joins description parts, leaving out a part whose words are all said already (Pexels'
/// `alt` often repeats the slug; Pixabay's slug repeats the tags).
pub fn describe(parts: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut said: Vec<String> = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let words: Vec<String> = part
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        if words.iter().all(|w| said.contains(w)) {
            continue;
        }
        said.extend(words);
        out.push(part);
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(w: u32, h: u32) -> Rendition {
        Rendition::new(w, h, format!("https://v.example/{w}x{h}.mp4"), None)
    }

    fn landscape() -> Vec<Rendition> {
        vec![r(640, 360), r(1280, 720), r(1920, 1080), r(3840, 2160)]
    }

    fn portrait() -> Vec<Rendition> {
        vec![r(360, 640), r(720, 1280), r(1080, 1920), r(2160, 3840)]
    }

    fn size(p: Option<&Rendition>) -> Option<(u32, u32)> {
        p.map(|r| (r.width, r.height))
    }

    #[test]
    fn orientation_of_common_frames() {
        assert_eq!(Orientation::of(1080, 1920), Orientation::Portrait);
        assert_eq!(Orientation::of(1920, 1080), Orientation::Landscape);
        assert_eq!(Orientation::of(1080, 1080), Orientation::Square);
        assert_eq!(Orientation::of(1080, 1050), Orientation::Square);
        assert_eq!(Orientation::of(1080, 1350), Orientation::Portrait);
        assert_eq!(Orientation::of(0, 0), Orientation::Square);
        assert_eq!(Orientation::Portrait.as_str(), "portrait");
    }

    #[test]
    fn smallest_covering_rendition_wins() {
        assert_eq!(size(pick(&landscape(), 1920, 1080)), Some((1920, 1080)));
        assert_eq!(size(pick(&landscape(), 1280, 720)), Some((1280, 720)));
        assert_eq!(size(pick(&landscape(), 854, 480)), Some((1280, 720)));
        assert_eq!(size(pick(&portrait(), 1080, 1920)), Some((1080, 1920)));
        assert_eq!(size(pick(&portrait(), 720, 1280)), Some((720, 1280)));
        // Order in the vendor's list does not matter.
        let mut shuffled = portrait();
        shuffled.reverse();
        assert_eq!(size(pick(&shuffled, 1080, 1920)), Some((1080, 1920)));
    }

    #[test]
    fn landscape_clip_for_a_portrait_frame_needs_the_height() {
        // Filling 1080x1920 from 16:9 takes a source at least 1920 tall (after cropping).
        assert_eq!(size(pick(&landscape(), 1080, 1920)), Some((3840, 2160)));
        assert_eq!(size(pick(&landscape(), 720, 1280)), Some((3840, 2160)));
        assert_eq!(size(pick(&landscape(), 360, 640)), Some((1280, 720)));
    }

    #[test]
    fn nothing_covers_takes_the_largest() {
        let small = vec![r(640, 360), r(960, 540), r(426, 240)];
        assert_eq!(size(pick(&small, 1080, 1920)), Some((960, 540)));
        assert_eq!(size(pick(&small, 3840, 2160)), Some((960, 540)));
    }

    #[test]
    fn vendor_cut_heights_within_tolerance_count_as_covering() {
        // Pexels' files of a 4096x2160 original.
        let cut = vec![r(640, 338), r(1280, 676), r(1920, 1012), r(4096, 2160)];
        assert_eq!(size(pick(&cut, 1920, 1080)), Some((1920, 1012)));
        // 1280x676 would be enlarged 1.6x for a 1080p frame: not covering.
        assert!(!covers(1280, 676, 1920, 1080));
        assert!(covers(1920, 1080, 1920, 1080));
        assert!((fill_scale(1920, 1080, 1080, 1920) - 1920.0 / 1080.0).abs() < 1e-9);
    }

    #[test]
    fn placeholders_are_ignored_and_ties_prefer_the_smaller_file() {
        let list = vec![
            Rendition::new(0, 0, "", Some(0)),
            Rendition::new(3840, 2160, "", None),
            Rendition::new(1920, 1080, "https://a/big", Some(9_000)),
            Rendition::new(1920, 1080, "https://a/small", Some(5_000)),
            r(640, 360),
        ];
        let chosen = pick(&list, 1920, 1080).map(|r| r.url.as_str());
        assert_eq!(chosen, Some("https://a/small"));
        assert_eq!(pick(&list[..2], 1920, 1080), None);
        assert_eq!(pick(&[], 1920, 1080), None);
    }

    #[test]
    fn capped_sizes_keep_the_aspect() {
        assert_eq!(fit_within(6000, 4000, 1280), (1280, 853));
        assert_eq!(fit_within(3000, 4500, 1280), (853, 1280));
        assert_eq!(fit_within(800, 600, 1280), (800, 600));
    }

    #[test]
    fn slugs_become_words() {
        let slug = |url: &str| slug_words(url);
        assert_eq!(
            slug("https://www.pexels.com/video/video-of-forest-1448735/"),
            "video of forest"
        );
        assert_eq!(
            slug("https://www.pexels.com/photo/brown-rocks-during-golden-hour-2014422/"),
            "brown rocks during golden hour"
        );
        assert_eq!(slug("https://pixabay.com/videos/id-125/"), "");
        assert_eq!(slug("https://pixabay.com/"), "");
        assert_eq!(slug(""), "");
    }

    #[test]
    fn descriptions_skip_repeats() {
        let parts = ["brown rocks", "Brown Rocks", "sunset"];
        assert_eq!(describe(&parts), "brown rocks, sunset");
        assert_eq!(describe(&["", " ", "cat"]), "cat");
    }
}
