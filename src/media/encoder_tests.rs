//! Tests of `encoder.rs`.

use super::*;

fn args(codec: &str, preset: &str, crf: u32) -> String {
    encoder_args(&EncoderSettings {
        codec: codec.into(),
        preset: preset.into(),
        crf,
    })
    .join(" ")
}

#[test]
fn presets_map_to_each_encoders_names() {
    let nvenc = |p: &str| native_preset("h264_nvenc", p);
    assert_eq!(nvenc("ultrafast").as_deref(), Some("p1"));
    assert_eq!(nvenc("veryfast").as_deref(), Some("p2"));
    assert_eq!(nvenc("medium").as_deref(), Some("p4"));
    assert_eq!(nvenc("slow").as_deref(), Some("p6"));
    assert_eq!(nvenc("veryslow").as_deref(), Some("p7"));
    assert_eq!(nvenc("p5").as_deref(), Some("p5"));
    assert_eq!(nvenc("bogus").as_deref(), Some("p4"));
    let qsv = |p: &str| native_preset("h264_qsv", p);
    assert_eq!(qsv("ultrafast").as_deref(), Some("veryfast"));
    assert_eq!(qsv("slower").as_deref(), Some("slower"));
    assert_eq!(qsv("placebo").as_deref(), Some("veryslow"));
    assert_eq!(native_preset("h264_vaapi", "fast"), None);
    assert_eq!(native_preset("libx264", "slow").as_deref(), Some("slow"));
    assert!(is_hardware("hevc_nvenc") && is_hardware("h264_vaapi") && !is_hardware("libx264"));
}

#[test]
fn quality_flags_per_encoder() {
    assert_eq!(
        args("libx264", "veryfast", 23),
        "-c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p"
    );
    assert_eq!(
        args("h264_nvenc", "veryfast", 23),
        "-c:v h264_nvenc -preset p2 -rc vbr -cq 23 -b:v 0 -pix_fmt yuv420p"
    );
    assert!(args("hevc_nvenc", "medium", 0).ends_with("-cq 1 -b:v 0 -pix_fmt yuv420p -tag:v hvc1"));
    assert_eq!(
        args("h264_qsv", "fast", 60),
        "-c:v h264_qsv -preset fast -global_quality 51 -pix_fmt nv12"
    );
    assert_eq!(
        args("h264_vaapi", "slow", 20),
        "-c:v h264_vaapi -rc_mode CQP -qp 20"
    );
    assert_eq!(device_args("h264_vaapi"), ["-vaapi_device", VAAPI_DEVICE]);
    assert!(device_args("h264_nvenc").is_empty());
    assert_eq!(needs_hw_upload("h264_vaapi"), Some("format=nv12,hwupload"));
    assert_eq!(needs_hw_upload("h264_qsv"), None);
}

#[test]
fn recognises_hardware_failures_only() {
    for tail in [
        "[h264_nvenc @ 0x55] OpenEncodeSessionEx failed: unsupported device (2): (no details)",
        "[h264_nvenc @ 0x55] No NVENC capable devices found",
        "[h264_nvenc @ 0x1] Cannot load libcuda.so.1\nError initializing output stream 0:0 --",
        "[AVHWDeviceContext @ 0x1] Failed to initialise VAAPI connection: -1 (unknown libva error).",
        "[h264_qsv @ 0x1] Error initializing an internal MFX session: unsupported (-3)",
        "No device available for encoder (device type qsv for codec h264_qsv).",
    ] {
        assert!(looks_like_encoder_failure(tail), "{tail}");
    }
    for tail in [
        "/in/clip.mp4: No such file or directory",
        "[Parsed_ass_1 @ 0x1] Unable to open subs.ass",
        "Conversion failed!",
    ] {
        assert!(!looks_like_encoder_failure(tail), "{tail}");
    }
}

#[test]
fn reason_is_the_tagged_line_without_its_tag() {
    let tail = "[h264_nvenc @ 0x5] Cannot load libcuda.so.1\n\
                Error initializing output stream 0:0 -- maybe incorrect parameters";
    assert_eq!(telling_line(tail), "Cannot load libcuda.so.1");
    assert_eq!(telling_line("one\n\nlast one\n"), "last one");
    assert_eq!(telling_line(&"x".repeat(500)).len(), REASON_CHARS);
}

/// Real ffmpeg. One test, run in sequence, because the cache and counter are global.
#[tokio::test]
async fn falls_back_to_libx264_and_probes_once() {
    let cancel = CancellationToken::new();
    let before = probes_run();
    let plain = choose("libx264", "veryfast", 23, &cancel).await;
    assert_eq!(plain.settings, libx264("veryfast", 23));
    assert_eq!(plain.note, None);
    assert_eq!(probes_run(), before, "libx264 needs no probe");

    // On a machine with a working NVENC the first branch runs instead.
    let gpu = std::path::Path::new("/dev/nvidia0").exists();
    let nvenc = choose("h264_nvenc", "veryfast", 23, &cancel).await;
    let after_first = probes_run();
    assert!(after_first > before, "h264_nvenc must be probed");
    if nvenc.settings.codec == "h264_nvenc" {
        assert!(gpu, "NVENC cannot work without /dev/nvidia0");
        assert_eq!(nvenc.settings.preset, "p2");
    } else {
        assert_eq!(nvenc.settings, libx264("veryfast", 23));
        let note = nvenc.note.clone().unwrap_or_default();
        eprintln!("h264_nvenc note: {note}");
        assert!(
            note.starts_with("h264_nvenc is not usable here ("),
            "{note}"
        );
        assert!(note.ends_with("): encoding with libx264"), "{note}");
        assert!(
            !note.contains("not usable here ()"),
            "reason missing: {note}"
        );
    }
    let again = choose("h264_nvenc", "veryfast", 23, &cancel).await;
    assert_eq!(again, nvenc);
    assert_eq!(
        probes_run(),
        after_first,
        "the second choose must use the cache"
    );

    let auto = choose("auto", "medium", 23, &cancel).await;
    if !gpu {
        assert_eq!(auto.settings, libx264("medium", 23));
        let note = auto.note.clone().unwrap_or_default();
        eprintln!("auto note: {note}");
        assert!(note.contains("h264_nvenc: "), "{note}");
        assert!(
            note.contains("h264_vaapi") && note.contains("libx264"),
            "{note}"
        );
    }
    let runs = probes_run();
    assert_eq!(choose("auto", "medium", 23, &cancel).await, auto);
    assert_eq!(probes_run(), runs);

    // A mid-render failure is remembered.
    mark_unusable(
        "h264_test_vaapi",
        "[x @ 0x1] Failed to initialise VAAPI connection",
    )
    .await;
    let marked = choose("h264_test_vaapi", "fast", 20, &cancel).await;
    assert_eq!(marked.settings.codec, "libx264");
    assert!(
        marked
            .note
            .unwrap_or_default()
            .contains("Failed to initialise VAAPI")
    );
    assert_eq!(probes_run(), runs);

    // An encoder this ffmpeg lacks is skipped without a test encode.
    let missing = choose("h264_nosuch_qsv", "fast", 20, &cancel).await;
    assert!(
        missing
            .note
            .unwrap_or_default()
            .contains("not built into this ffmpeg")
    );
    assert_eq!(probes_run(), runs);

    let cancelled = CancellationToken::new();
    cancelled.cancel();
    let c = choose("hevc_nvenc", "fast", 20, &cancelled).await;
    assert_eq!(c.settings.codec, "libx264");
    assert!(c.note.unwrap_or_default().contains("cancelled"));
    assert!(
        !STATE.lock().await.probes.contains_key("hevc_nvenc"),
        "cancel is not cached"
    );
}
