//! Subtitle styling with real fonts (fontconfig, Noto, Noto CJK, DejaVu) and real
//! ffmpeg/libass renders: wrapping by rendered width, glyph coverage, font files, positions,
//! backgrounds, highlight and escaping. These need ffmpeg with libass and fontconfig.

use reelforge::config::SubtitleConfig;
use reelforge::media::subtitle::{Cue, SubtitleStyle, TimedWord, fonts_dir, to_srt, to_vtt};
use reelforge::providers::tts::SpokenSentence;
use std::path::Path;
use std::process::Command;

const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

fn config(f: impl FnOnce(&mut SubtitleConfig)) -> SubtitleConfig {
    let mut config = SubtitleConfig::default();
    f(&mut config);
    config
}

fn style(config: &SubtitleConfig, width: u32, height: u32) -> SubtitleStyle {
    SubtitleStyle::resolve(config, width, height).expect("the font resolves")
}

fn sentence(text: &str, start: f64, end: f64) -> SpokenSentence {
    SpokenSentence {
        text: text.into(),
        start,
        end,
    }
}

fn cue(text: &str) -> Cue {
    Cue {
        start: 0.0,
        end: 5.0,
        text: text.into(),
    }
}

/// A gray frame (one byte a pixel) of `ass` burned onto a `background` colour source.
fn burn(ass: &str, (w, h): (u32, u32), background: &str, fonts: Option<&Path>) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cues.ass");
    std::fs::write(&path, ass).expect("write ASS");
    let mut filter = format!("ass=filename={}", path.display());
    if let Some(fonts) = fonts {
        filter.push_str(&format!(":fontsdir={}", fonts.display()));
    }
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("color=c={background}:s={w}x{h}:d=1"))
        .args(["-vf", &filter, "-frames:v", "1", "-f", "rawvideo"])
        .args(["-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg must be installed to run the subtitle tests");
    assert!(
        output.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout.len(), (w * h) as usize, "one gray frame");
    output.stdout
}

/// (x0, x1, y0, y1) of the pixels for which `keep` holds, and how many there are.
fn bbox(frame: &[u8], w: u32, keep: impl Fn(u8) -> bool) -> Option<((u32, u32, u32, u32), usize)> {
    let mut found: Option<(u32, u32, u32, u32)> = None;
    let mut count = 0;
    for (i, &p) in frame.iter().enumerate() {
        if !keep(p) {
            continue;
        }
        count += 1;
        let (x, y) = (i as u32 % w, i as u32 / w);
        let b = found.get_or_insert((x, x, y, y));
        *b = (b.0.min(x), b.1.max(x), b.2.min(y), b.3.max(y));
    }
    found.map(|b| (b, count))
}

/// Mean row of the pixels brighter than 200.
fn bright_centre_row(frame: &[u8], w: u32) -> f64 {
    let rows: Vec<f64> = frame
        .iter()
        .enumerate()
        .filter(|(_, p)| **p > 200)
        .map(|(i, _)| (i as u32 / w) as f64)
        .collect();
    assert!(rows.len() > 50, "only {} bright pixels", rows.len());
    rows.iter().sum::<f64>() / rows.len() as f64
}

#[test]
fn long_english_sentence_wraps_into_two_lines_of_similar_width() {
    let style = style(&SubtitleConfig::default(), 1080, 1920);
    assert_eq!(style.font().map(|f| f.family.as_str()), Some("Noto Sans"));
    let text = "Cats purr when they are happy and when they are hurt";
    let cues = style.cues(&[sentence(text, 0.0, 4.0)], None);
    assert_eq!(cues.len(), 1, "{cues:?}");
    let lines: Vec<&str> = cues[0].text.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let widths: Vec<f64> = lines.iter().map(|l| style.text_width(l)).collect();
    assert!(
        widths.iter().all(|&w| w <= style.wrap_width()),
        "{widths:?}"
    );
    // Greedy filling would leave a short second line; balanced lines differ little.
    let (long, short) = (widths[0].max(widths[1]), widths[0].min(widths[1]));
    assert!(short > 0.7 * long, "{lines:?} {widths:?}");
    assert!(style.text_width(text) > style.wrap_width());
    assert_eq!(lines.join(" "), text);
    // The sidecars carry the same lines.
    assert!(to_srt(&cues).contains(&cues[0].text));
    assert!(to_vtt(&cues).contains(&cues[0].text));
}

#[test]
fn cjk_sentence_wraps_without_spaces_and_never_starts_a_line_with_closing_punctuation() {
    let config = config(|c| c.font = "Noto Sans CJK SC".into());
    let style = style(&config, 1080, 1920);
    assert_eq!(
        style.font().map(|f| f.family.as_str()),
        Some("Noto Sans CJK SC")
    );
    assert_eq!(style.coverage_warning("猫咪发出呼噜声。"), None);
    let text = "猫咪发出呼噜声通常表示它们感到满足和放松。但有时候也可能意味着它们身体不舒服，\
                或者正在自我安慰。科学家至今仍在研究这种声音究竟是如何产生的。";
    let cues = style.cues(&[sentence(text, 1.0, 9.0)], None);
    assert!(cues.len() >= 2, "{cues:?}");
    let mut joined = String::new();
    for cue in &cues {
        let lines: Vec<&str> = cue.text.lines().collect();
        assert!(lines.len() <= 2, "{lines:?}");
        for line in &lines {
            assert!(!line.contains(' '), "{line}");
            assert!(style.text_width(line) <= style.wrap_width(), "{line}");
            assert!(line.chars().count() * 2 <= 28, "{line}");
            let first = line.chars().next().expect("non-empty line");
            assert!(
                !"。，、！？）」』".contains(first),
                "line starts with {first}: {line}"
            );
            joined.push_str(line);
        }
    }
    assert_eq!(joined, text);
    assert_eq!((cues[0].start, cues[cues.len() - 1].end), (1.0, 9.0));
}

#[test]
fn chinese_text_with_a_latin_font_warns_and_suggests_noto_cjk() {
    let config = config(|c| c.font = "DejaVu Sans".into());
    let style = style(&config, 1080, 1920);
    assert!(style.notes().is_empty(), "{:?}", style.notes());
    assert_eq!(
        style.coverage_warning("Cats purr, (mostly) 100% \"happy\"!"),
        None
    );
    let warning = style
        .coverage_warning("Cats 猫咪 purr 呼噜。")
        .expect("missing glyphs are reported");
    assert!(warning.contains("'DejaVu Sans'"), "{warning}");
    assert!(warning.contains("猫, 咪, 呼, 噜"), "{warning}");
    assert!(
        warning.contains("use font = \"Noto Sans CJK SC\""),
        "{warning}"
    );
    // A family that is not installed is a note: fontconfig substitutes.
    let missing = style_of_family("No Such Font Family 12345");
    assert!(
        missing.notes()[0].contains("is not installed"),
        "{:?}",
        missing.notes()
    );
    assert!(missing.font().is_some());
}

fn style_of_family(family: &str) -> SubtitleStyle {
    style(&config(|c| c.font = family.into()), 1080, 1920)
}

#[test]
fn font_file_is_used_by_family_and_folder_and_a_missing_one_is_a_clear_error() {
    let config = config(|c| {
        c.font_file = DEJAVU.into();
        c.size = 40;
        c.outline = 0;
    });
    let style = style(&config, 270, 480);
    assert_eq!(style.ass.font, "DejaVu Sans");
    let folder = Path::new(DEJAVU).parent().map(Path::to_path_buf);
    assert_eq!(style.fonts_dir(), folder);
    assert_eq!(fonts_dir(&config), folder);
    assert_eq!(fonts_dir(&SubtitleConfig::default()), None);
    let ass = style.to_ass(&[cue("Font file")]);
    assert!(ass.contains("Style: Default,DejaVu Sans,40,"), "{ass}");
    let frame = burn(&ass, (270, 480), "black", style.fonts_dir().as_deref());
    assert!(frame.iter().filter(|&&p| p > 200).count() > 100);

    let missing = config_with_file("/no/such/dir/Missing.ttf");
    let err = SubtitleStyle::resolve(&missing, 270, 480).expect_err("missing file");
    let message = err.to_string();
    assert!(message.contains("subtitles.font_file"), "{message}");
    assert!(message.contains("/no/such/dir/Missing.ttf"), "{message}");
    assert!(message.contains("no such file"), "{message}");

    let dir = tempfile::tempdir().expect("temp dir");
    let junk = dir.path().join("junk.ttf");
    std::fs::write(&junk, "not a font").expect("write junk");
    let err = SubtitleStyle::resolve(&config_with_file(&junk.display().to_string()), 270, 480)
        .expect_err("not a font");
    assert!(
        err.to_string().contains("not a TrueType/OpenType font"),
        "{err}"
    );
}

fn config_with_file(path: &str) -> SubtitleConfig {
    config(|c| c.font_file = path.into())
}

#[test]
fn measured_width_matches_what_libass_draws() {
    for (font, text) in [
        ("Noto Sans", "Measured widths"),
        ("DejaVu Sans", "Measured widths"),
        ("Noto Sans CJK SC", "猫咪发出呼噜声"),
    ] {
        let config = config(|c| {
            c.font = font.into();
            c.size = 30;
            c.outline = 0;
            c.shadow = 0;
            c.position = "center".into();
        });
        let style = style(&config, 480, 270);
        let frame = burn(&style.to_ass(&[cue(text)]), (480, 270), "black", None);
        let ((x0, x1, _, _), _) = bbox(&frame, 480, |p| p > 60).expect("text drawn");
        let drawn = f64::from(x1 - x0 + 1);
        let measured = style.text_width(text);
        assert!(
            (drawn - measured).abs() < 0.08 * measured + 3.0,
            "{font}: drawn {drawn} px, measured {measured} px"
        );
    }
}

#[test]
fn each_position_puts_the_text_in_its_band() {
    let (w, h) = (270, 480);
    for (position, percent, low, high) in [
        ("bottom", 80.0, 400.0, 480.0),
        ("top", 80.0, 0.0, 80.0),
        ("center", 80.0, 220.0, 260.0),
        ("custom", 50.0, 220.0, 260.0),
        ("custom", 25.0, 100.0, 140.0),
    ] {
        let config = config(|c| {
            c.position = position.into();
            c.position_percent = percent;
            c.size = 30;
        });
        let style = style(&config, w, h);
        let ass = style.to_ass(&[cue("HELLO")]);
        if position == "custom" {
            assert!(ass.contains("{\\an5\\pos(135,"), "{ass}");
        }
        let row = bright_centre_row(&burn(&ass, (w, h), "black", None), w);
        assert!(
            (low..high).contains(&row),
            "{position} {percent}%: text centred on row {row}"
        );
    }
}

/// White text, no outline or shadow, on white: only a background can show.
fn background_frame(background: &str) -> Vec<u8> {
    let config = config(|c| {
        c.background = background.into();
        c.background_color = "#000000".into();
        c.background_opacity = 0.5;
        c.outline = 0;
        c.shadow = 0;
        c.size = 30;
        c.position = "center".into();
    });
    let style = style(&config, 270, 480);
    burn(
        &style.to_ass(&[cue("Box me\nplease")]),
        (270, 480),
        "white",
        None,
    )
}

#[test]
fn box_and_rounded_backgrounds_are_translucent_and_shaped() {
    let grey = |p: u8| (100..=160).contains(&p);
    assert!(bbox(&background_frame("none"), 270, grey).is_none());
    for background in ["box", "rounded"] {
        let frame = background_frame(background);
        let ((x0, x1, y0, y1), count) = bbox(&frame, 270, grey).expect("a grey box");
        // Half-opaque black over white is mid grey, around the text's centre.
        assert!(count > 1500, "{background}: {count} grey pixels");
        assert!((x0 + x1).abs_diff(270) < 8, "{background}: x {x0}..{x1}");
        assert!((y0 + y1).abs_diff(480) < 12, "{background}: y {y0}..{y1}");
        assert!(
            x1 - x0 > 80 && y1 - y0 > 50,
            "{background}: {x0}..{x1} {y0}..{y1}"
        );
        let corner = frame[(y0 * 270 + x0) as usize];
        if background == "rounded" {
            assert!(corner > 240, "rounded corner is clear: {corner}");
        }
    }
    // libass boxes each line: between the lines of a two-line cue, at the box's edge,
    // the box is still there.
    let frame = background_frame("box");
    let ((x0, _, _, _), _) = bbox(&frame, 270, grey).expect("a grey box");
    let corner = frame[(240 * 270 + x0 + 2) as usize];
    assert!(grey(corner), "box edge between lines: {corner}");
}

#[test]
fn rounded_box_sits_behind_the_text_at_every_position() {
    for position in ["bottom", "top", "custom"] {
        let config = config(|c| {
            c.background = "rounded".into();
            c.background_color = "#808080".into();
            c.background_opacity = 1.0;
            c.position = position.into();
            c.position_percent = 30.0;
            c.outline = 0;
            c.shadow = 0;
            c.size = 30;
        });
        let style = style(&config, 270, 480);
        let ass = style.to_ass(&[cue("Rounded\nbox")]);
        let frame = burn(&ass, (270, 480), "black", None);
        let (text, _) = bbox(&frame, 270, |p| p > 200).expect("text");
        let (boxed, _) = bbox(&frame, 270, |p| (110..=150).contains(&p)).expect("box");
        assert!(
            boxed.0 < text.0 && boxed.1 > text.1 && boxed.2 < text.2 && boxed.3 > text.3,
            "{position}: text {text:?} outside box {boxed:?}"
        );
    }
}

#[test]
fn word_highlight_keeps_working_with_box_and_rounded_backgrounds() {
    let words = [
        TimedWord {
            text: "Cats".into(),
            start: 0.2,
            end: 0.6,
        },
        TimedWord {
            text: "purr".into(),
            start: 0.6,
            end: 1.1,
        },
        TimedWord {
            text: "softly.".into(),
            start: 1.2,
            end: 1.9,
        },
    ];
    let cues = [Cue {
        start: 0.0,
        end: 2.0,
        text: "Cats purr\nsoftly.".into(),
    }];
    for background in ["box", "rounded"] {
        let config = config(|c| {
            c.background = background.into();
            c.position = "custom".into();
            c.position_percent = 60.0;
        });
        let style = style(&config, 1080, 1920);
        let ass = style.to_ass_highlighted(&cues, &words, "#FFD700");
        let style_line = ass
            .lines()
            .find(|l| l.starts_with("Style:"))
            .expect("style");
        let fields: Vec<&str> = style_line.split(',').collect();
        let events: Vec<&str> = ass.lines().filter(|l| l.starts_with("Dialogue:")).collect();
        assert!(
            events
                .iter()
                .any(|e| e.contains("{\\c&H0000D7FF&}purr{\\r}")),
            "{ass}"
        );
        if background == "box" {
            assert_eq!(fields[15], "3", "BorderStyle: {style_line}");
            assert_eq!(
                fields[5], "&H80000000",
                "translucent box colour: {style_line}"
            );
            assert_eq!(events.len(), 4, "{ass}");
        } else {
            assert_eq!(fields[15], "1", "{style_line}");
            assert_eq!(events.len(), 5, "{ass}");
            assert!(events[0].starts_with("Dialogue: 0,0:00:00.00,0:00:02.00,"));
            assert!(events[0].contains("\\p1}m "), "{}", events[0]);
            assert!(events[1..].iter().all(|e| e.starts_with("Dialogue: 1,")));
        }
        assert!(
            events
                .iter()
                .skip(usize::from(background == "rounded"))
                .all(|e| e.contains("{\\an5\\pos(540,"))
        );
        let frame = burn(&ass, (1080, 1920), "black", None);
        assert!(
            frame.iter().filter(|&&p| p > 200).count() > 500,
            "{background}"
        );
    }
}

#[test]
fn special_characters_are_literal_in_ass_srt_and_vtt() {
    let config = config(|c| {
        c.size = 30;
        c.position = "center".into();
        c.outline = 0;
        c.shadow = 0;
    });
    let style = style(&config, 480, 270);
    let text = "{\\b1} 100% \"q\": 'z' a\\Nb \\h\\n <i>&amp;\\";
    let ass = style.to_ass(&[cue(text)]);
    let dialogue = ass
        .lines()
        .find(|l| l.starts_with("Dialogue:"))
        .expect("event");
    let shown = dialogue.rsplit(",,").next().expect("text field");
    assert_eq!(
        shown,
        "\\{\\\u{2060}b1\\} 100% \"q\": 'z' a\\\u{2060}Nb \\\u{2060}h\\\u{2060}n <i>&amp;\\\u{2060}"
    );
    // Drawn on one line (no `\N` break), nothing bold or italic, and ffmpeg is happy.
    let one = burn(&ass, (480, 270), "black", None);
    let ((_, _, y0, y1), _) = bbox(&one, 480, |p| p > 100).expect("text drawn");
    assert!(y1 - y0 < 40, "one line: rows {y0}..{y1}");
    let two = burn(&style.to_ass(&[cue("Ab\nAj")]), (480, 270), "black", None);
    let ((_, _, y0, y1), _) = bbox(&two, 480, |p| p > 100).expect("text drawn");
    assert!(y1 - y0 > 40, "two lines: rows {y0}..{y1}");

    let cues = [cue("a <b> & c --> d {x} \\N 100%")];
    assert!(to_srt(&cues).contains("\na <b> & c --> d {x} \\N 100%\n"));
    assert!(to_vtt(&cues).contains("\na &lt;b&gt; &amp; c --&gt; d {x} \\N 100%\n"));
}

#[test]
fn long_sentences_split_into_cues_at_word_timings() {
    let config = config(|c| c.size = 60);
    let style = style(&config, 1080, 1920);
    let text = "Scientists still argue about how exactly cats make the sound, but most agree \
                it comes from the muscles of the larynx twitching many times per second while \
                the cat breathes in and out, which is why it never stops.";
    let words: Vec<TimedWord> = text
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| TimedWord {
            text: w.into(),
            // Slow at first, fast at the end: not proportional to characters.
            start: 2.0 + (i as f64).sqrt() * 1.5,
            end: 2.0 + ((i + 1) as f64).sqrt() * 1.5 - 0.05,
        })
        .collect();
    let end = words.last().map_or(0.0, |w| w.end + 0.1);
    let cues = style.cues(
        &[sentence(text, 2.0, end)],
        Some(std::slice::from_ref(&words)),
    );
    assert!(cues.len() >= 2, "{cues:?}");
    assert_eq!((cues[0].start, cues[cues.len() - 1].end), (2.0, end));
    let mut seen = 0;
    for pair in cues.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
        seen += pair[0].text.split_whitespace().count();
        assert_eq!(pair[1].start, words[seen].start, "{pair:?}");
    }
    // Without word timings: shared by characters, still covering the span.
    let plain = style.cues(&[sentence(text, 2.0, end)], None);
    assert_eq!(plain.len(), cues.len());
    assert_eq!(plain[plain.len() - 1].end, end);
    // Timed words that are not this sentence's words are ignored.
    let other = vec![vec![TimedWord {
        text: "x".into(),
        start: 3.0,
        end: 4.0,
    }]];
    assert_eq!(style.cues(&[sentence(text, 2.0, end)], Some(&other)), plain);
}
