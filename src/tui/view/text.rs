//! Text helpers for the panes: display widths, truncation, wrapping, and the formats of
//! durations, byte counts and speeds. Widths are terminal cells (via ratatui's own width
//! measure), so a wide character never pushes a column out of line.

use ratatui::text::Span;

/// Terminal cells `s` takes.
pub fn width(s: &str) -> usize {
    Span::raw(s).width()
}

fn char_width(c: char) -> usize {
    let mut buf = [0u8; 4];
    width(c.encode_utf8(&mut buf))
}

/// `s` cut to at most `max` cells, ending in "…" when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `s` cut from the left ("…/tasks/ab12/final.mp4"): the end of a path is what tells it apart.
pub fn truncate_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let w = char_width(c);
        if used + w + 1 > max {
            break;
        }
        tail.push(c);
        used += w;
    }
    std::iter::once('…').chain(tail.into_iter().rev()).collect()
}

/// `s` truncated to `w` cells and padded with spaces to exactly `w`.
pub fn pad(s: &str, w: usize) -> String {
    let mut out = truncate(s, w);
    let fill = w.saturating_sub(width(&out));
    out.extend(std::iter::repeat_n(' ', fill));
    out
}

/// `s` truncated to `w` cells and right-aligned in exactly `w`.
pub fn pad_left(s: &str, w: usize) -> String {
    let cut = truncate(s, w);
    let fill = w.saturating_sub(width(&cut));
    let mut out: String = std::iter::repeat_n(' ', fill).collect();
    out.push_str(&cut);
    out
}

/// Word-wraps `s` into lines of at most `w` cells, at most `max_lines` of them (the last
/// one ends in "…" when text was left out). Words longer than a line are broken.
pub fn wrap(s: &str, w: usize, max_lines: usize) -> Vec<String> {
    if w == 0 || max_lines == 0 {
        return Vec::new();
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let mut word = word.to_string();
        loop {
            let sep = usize::from(!line.is_empty());
            if width(&line) + sep + width(&word) <= w {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word wider than the line: take what fits and carry the rest.
            let mut head = String::new();
            let mut rest = String::new();
            for c in word.chars() {
                if rest.is_empty() && width(&head) + char_width(c) <= w {
                    head.push(c);
                } else {
                    rest.push(c);
                }
            }
            if head.is_empty() {
                // Not even one character fits (a wide one in a 1-cell line): drop it.
                break;
            }
            lines.push(head);
            if rest.is_empty() {
                break;
            }
            word = rest;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            *last = truncate(&format!("{last}…"), w);
        }
    }
    lines
}

/// A stage timer, "mm:ss.s" (minutes grow past 59 rather than wrap).
pub fn clock(ms: u64) -> String {
    let tenths = ms / 100;
    format!(
        "{:02}:{:02}.{}",
        tenths / 600,
        (tenths / 10) % 60,
        tenths % 10
    )
}

/// A short duration: "850ms", "4.2s", "3m05s", "1h02m".
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
    }
}

const MB: f64 = 1_000_000.0;

/// Bytes as megabytes with one decimal ("12.3"), the unit of the download gauges.
pub fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / MB)
}

/// A size for memory readings: "412 MB", "1.2 GB".
pub fn size(bytes: u64) -> String {
    if bytes >= 1_000_000_000 {
        format!("{:.1} GB", bytes as f64 / 1e9)
    } else {
        format!("{} MB", bytes / 1_000_000)
    }
}

/// A transfer rate: "2.1 MB/s", "512 kB/s", "0 B/s".
pub fn speed(bytes_per_sec: u64) -> String {
    match bytes_per_sec {
        0..1_000 => format!("{bytes_per_sec} B/s"),
        1_000..1_000_000 => format!("{} kB/s", bytes_per_sec / 1000),
        _ => format!("{:.1} MB/s", bytes_per_sec as f64 / MB),
    }
}

/// Seconds left until `at_ms`, rounded up so a countdown never shows "0s" early.
pub fn seconds_until(at_ms: u64, now_ms: u64) -> u64 {
    at_ms.saturating_sub(now_ms).div_ceil(1000)
}

/// Wall-clock time of day (UTC) of a log line, "HH:MM:SS".
pub fn time_of_day(at_ms: u64) -> String {
    let s = (at_ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_and_padding_keep_to_the_width() {
        assert_eq!(truncate("footage", 4), "foo…");
        assert_eq!(truncate("footage", 0), "");
        assert_eq!(truncate("ab", 5), "ab");
        assert_eq!(truncate_left("/tmp/tasks/ab/final.mp4", 10), "…final.mp4");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad_left("ab", 4), "  ab");
        assert_eq!(pad("abcdef", 3), "ab…");
    }

    #[test]
    fn wrapping_breaks_at_words_and_long_words() {
        assert_eq!(wrap("one two three", 7, 5), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4, 5), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("one two three four", 7, 1), vec!["one tw…"]);
        assert!(wrap("x", 0, 3).is_empty());
    }

    #[test]
    fn formats() {
        assert_eq!(clock(83_450), "01:23.4");
        assert_eq!(clock(0), "00:00.0");
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(4_200), "4.2s");
        assert_eq!(duration(185_000), "3m05s");
        assert_eq!(mb(12_345_678), "12.3");
        assert_eq!(speed(2_100_000), "2.1 MB/s");
        assert_eq!(speed(512_000), "512 kB/s");
        assert_eq!(seconds_until(10_001, 7_000), 4);
        assert_eq!(seconds_until(5_000, 7_000), 0);
        assert_eq!(time_of_day(3_723_000), "01:02:03");
    }
}
