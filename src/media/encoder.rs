//! Which video encoder a render uses: libx264, a named hardware encoder, or "auto" (the
//! first hardware encoder that works here). Hardware encoders are compiled into many ffmpeg
//! builds that cannot use them (no GPU, no driver), so each is tried once per process on a
//! one-frame encode and the answer is cached; anything unusable falls back to libx264 with
//! a note saying why.
//!
//! The render graph's owner builds the command from [`device_args`] (global, before the
//! inputs), [`needs_hw_upload`] (appended to the last video filter) and [`encoder_args`]
//! (instead of its own `-c:v … -pix_fmt …`); the render stage calls [`choose`] before
//! planning and, when a hardware encode fails part-way ([`looks_like_encoder_failure`]),
//! calls [`mark_unusable`] and renders again with [`libx264`].

use super::MediaError;
use super::render::EncoderSettings;
use super::tool::{find_tool, run_tool};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// "auto" tries these in order: NVENC is the fastest where it exists, QSV and VAAPI cover
/// Intel and AMD.
pub const AUTO_ORDER: [&str; 3] = ["h264_nvenc", "h264_qsv", "h264_vaapi"];
/// The first DRM render node; the one VAAPI drivers attach to on single-GPU machines.
pub const VAAPI_DEVICE: &str = "/dev/dri/renderD128";
/// A broken driver can hang instead of failing; a one-frame encode never takes this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest reason kept in a note, so it fits a status line.
const REASON_CHARS: usize = 160;

/// What was learned about one encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncoderProbe {
    pub codec: String,
    pub usable: bool,
    /// Why it is not usable (ffmpeg's most telling error line); `None` when usable.
    pub reason: Option<String>,
}

/// The encoder to render with, and a note for the log/UI when it is not what was asked for
/// literally (a fallback, or what "auto" picked).
#[derive(Clone, Debug, PartialEq)]
pub struct Chosen {
    pub settings: EncoderSettings,
    pub note: Option<String>,
}

/// The process-wide cache: the encoders compiled into ffmpeg and each probe's result. An
/// async mutex held across the probe makes concurrent renders wait for one probe instead of
/// each starting its own.
struct State {
    compiled: Option<Result<BTreeSet<String>, String>>,
    probes: BTreeMap<String, EncoderProbe>,
}

static STATE: Mutex<State> = Mutex::const_new(State {
    compiled: None,
    probes: BTreeMap::new(),
});
static FFMPEG_RUNS: AtomicUsize = AtomicUsize::new(0);

/// How many times this module has started ffmpeg (encoder listing and probes), so tests can
/// check that results are cached.
pub fn probes_run() -> usize {
    FFMPEG_RUNS.load(Ordering::SeqCst)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Software,
    Nvenc,
    Qsv,
    Vaapi,
}

/// ffmpeg names hardware encoders `<codec>_<api>`.
fn family(codec: &str) -> Family {
    match codec.rsplit_once('_').map(|(_, api)| api) {
        Some("nvenc") => Family::Nvenc,
        Some("qsv") => Family::Qsv,
        Some("vaapi") => Family::Vaapi,
        _ => Family::Software,
    }
}

pub fn is_hardware(codec: &str) -> bool {
    family(codec) != Family::Software
}

/// libx264 with the configured preset and crf: the encoder that always works.
pub fn libx264(preset: &str, crf: u32) -> EncoderSettings {
    EncoderSettings {
        codec: "libx264".into(),
        preset: preset.into(),
        crf,
    }
}

/// `codec`'s own name for an x264 preset (names already native pass through); `None` for
/// VAAPI, which has no presets.
pub fn native_preset(codec: &str, preset: &str) -> Option<String> {
    let mapped = match family(codec) {
        Family::Software => preset,
        Family::Vaapi => return None,
        // p1 (fastest) … p7 (best); unknown names get NVENC's own default.
        Family::Nvenc => match preset {
            "p1" | "p2" | "p3" | "p4" | "p5" | "p6" | "p7" => preset,
            "ultrafast" | "superfast" => "p1",
            "veryfast" => "p2",
            "faster" | "fast" => "p3",
            "slow" => "p6",
            "slower" | "veryslow" | "placebo" => "p7",
            _ => "p4",
        },
        // QSV has the x264 names from veryfast to veryslow.
        Family::Qsv => match preset {
            "veryfast" | "faster" | "fast" | "medium" | "slow" | "slower" | "veryslow" => preset,
            "ultrafast" | "superfast" => "veryfast",
            "placebo" => "veryslow",
            _ => "medium",
        },
    };
    Some(mapped.to_string())
}

/// `codec` with its native preset, ready for [`encoder_args`].
fn settings_for(codec: &str, preset: &str, crf: u32) -> EncoderSettings {
    EncoderSettings {
        codec: codec.into(),
        preset: native_preset(codec, preset).unwrap_or_default(),
        crf,
    }
}

/// Global arguments that must come before the first `-i` (the VAAPI device, which also
/// becomes the filter graph's hardware device for `hwupload`).
pub fn device_args(codec: &str) -> Vec<String> {
    match family(codec) {
        Family::Vaapi => vec!["-vaapi_device".into(), VAAPI_DEVICE.into()],
        _ => Vec::new(),
    }
}

/// Filters to append to the last video filter (joined with a comma): VAAPI encodes only
/// frames already in GPU memory, in NV12 layout.
pub fn needs_hw_upload(codec: &str) -> Option<&'static str> {
    match family(codec) {
        Family::Vaapi => Some("format=nv12,hwupload"),
        _ => None,
    }
}

/// The video encoder arguments, from `-c:v` through the pixel format: they replace the
/// graph's `-c:v … -preset … -crf … -pix_fmt yuv420p`. x264 names in `settings.preset`
/// are mapped, so settings made before hardware was considered still work.
pub fn encoder_args(settings: &EncoderSettings) -> Vec<String> {
    let codec = settings.codec.as_str();
    let fam = family(codec);
    // The hardware quality scales read like crf, but 0 means "automatic" (NVENC) or is out
    // of range, and 52+ is rejected: keep to 1–51.
    let quality = if fam == Family::Software {
        settings.crf
    } else {
        settings.crf.clamp(1, 51)
    }
    .to_string();
    let mut args = vec!["-c:v".to_string(), codec.to_string()];
    if let Some(preset) = native_preset(codec, &settings.preset).filter(|p| !p.is_empty()) {
        args.extend(["-preset".into(), preset]);
    }
    let rest: &[&str] = match fam {
        Family::Software => &["-crf", &quality, "-pix_fmt", "yuv420p"],
        // Constant quality is VBR with a target; `-b:v 0` lifts NVENC's 2 Mb/s default
        // average, which would otherwise cap a 1080p short far below the asked quality.
        Family::Nvenc => &[
            "-rc", "vbr", "-cq", &quality, "-b:v", "0", "-pix_fmt", "yuv420p",
        ],
        // global_quality selects QSV's (intelligent) constant-quality mode; QSV reads NV12
        // from system memory and uploads it itself.
        Family::Qsv => &["-global_quality", &quality, "-pix_fmt", "nv12"],
        // Frames arrive as VAAPI surfaces (see needs_hw_upload): no -pix_fmt.
        Family::Vaapi => &["-rc_mode", "CQP", "-qp", &quality],
    };
    args.extend(rest.iter().map(|s| s.to_string()));
    // Apple players only accept HEVC in MP4 tagged hvc1 (ffmpeg writes hev1).
    if fam != Family::Software && codec.starts_with("hevc_") {
        args.extend(["-tag:v".into(), "hvc1".into()]);
    }
    args
}

/// Whether an ffmpeg stderr tail says the (hardware) encoder itself failed rather than an
/// input or filter. Only meaningful when the encode used a hardware encoder: check
/// [`is_hardware`] too, since "Error initializing output stream" also follows bad libx264
/// options.
pub fn looks_like_encoder_failure(stderr_tail: &str) -> bool {
    const SIGNS: &[&str] = &[
        "no nvenc capable devices found",
        "openencodesessionex failed",
        "cannot load libcuda",
        "cannot load libnvidia-encode",
        "nvenc api version",
        "cuda_error",
        "failed to initialise vaapi",
        "no va display found",
        "vaapi_device",
        "failed to upload frame",
        "error initializing an internal mfx session",
        "no device available for encoder",
        "device creation failed",
        "error initializing output stream",
        "error while opening encoder",
    ];
    let tail = stderr_tail.to_ascii_lowercase();
    SIGNS.iter().any(|sign| tail.contains(sign))
}

/// Records that `codec` failed mid-render, so later renders in this process go straight to
/// libx264 instead of failing the same way.
pub async fn mark_unusable(codec: &str, reason: &str) {
    let probe = probe_result(codec, Some(telling_line(reason)));
    STATE.lock().await.probes.insert(codec.into(), probe);
}

/// Picks the encoder for `requested` ("libx264", "auto" or an ffmpeg encoder name). Never
/// fails: anything unusable becomes libx264 with a note. A cancelled probe is not cached
/// and yields libx264; the caller's next cancellable step then reports the cancellation.
pub async fn choose(requested: &str, preset: &str, crf: u32, cancel: &CancellationToken) -> Chosen {
    let requested = requested.trim();
    let fallback = |why: String| Chosen {
        settings: libx264(preset, crf),
        note: Some(format!("{why}: encoding with libx264")),
    };
    if requested.is_empty() || requested == "libx264" {
        return Chosen {
            settings: libx264(preset, crf),
            note: None,
        };
    }
    if requested == "auto" {
        let mut tried = Vec::new();
        for codec in AUTO_ORDER {
            match probe(codec, cancel).await {
                Err(Cancelled) => return fallback("encoder probe cancelled".into()),
                Ok(p) if p.usable => {
                    return Chosen {
                        settings: settings_for(codec, preset, crf),
                        note: Some(format!("encoder auto: using {codec}")),
                    };
                }
                Ok(p) => tried.push(format!("{codec}: {}", p.reason.unwrap_or_default())),
            }
        }
        return fallback(format!(
            "no hardware encoder is usable here ({})",
            tried.join("; ")
        ));
    }
    match probe(requested, cancel).await {
        Err(Cancelled) => fallback(format!("the {requested} probe was cancelled")),
        Ok(p) if p.usable => Chosen {
            settings: settings_for(requested, preset, crf),
            note: None,
        },
        Ok(p) => fallback(format!(
            "{requested} is not usable here ({})",
            p.reason.unwrap_or_default()
        )),
    }
}

/// The probe was cancelled (never cached).
struct Cancelled;

/// `codec`'s cached probe, probing it first if this process has not yet.
pub async fn probe_cached(
    codec: &str,
    cancel: &CancellationToken,
) -> Result<EncoderProbe, MediaError> {
    probe(codec, cancel)
        .await
        .map_err(|Cancelled| MediaError::Cancelled)
}

async fn probe(codec: &str, cancel: &CancellationToken) -> Result<EncoderProbe, Cancelled> {
    let mut state = STATE.lock().await;
    if let Some(known) = state.probes.get(codec) {
        return Ok(known.clone());
    }
    if state.compiled.is_none() {
        state.compiled = Some(list_encoders(cancel).await?);
    }
    // Not compiled in: skipped without a test encode.
    let result = match &state.compiled {
        Some(Ok(names)) if !names.contains(codec) => {
            probe_result(codec, Some("not built into this ffmpeg".into()))
        }
        Some(Err(why)) => probe_result(codec, Some(why.clone())),
        _ => test_encode(codec, cancel).await?,
    };
    state.probes.insert(codec.into(), result.clone());
    Ok(result)
}

/// `ffmpeg -encoders`: the names in its table (` V....D name  description`).
async fn list_encoders(
    cancel: &CancellationToken,
) -> Result<Result<BTreeSet<String>, String>, Cancelled> {
    let ffmpeg = match find_tool("ffmpeg") {
        Ok(path) => path,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let mut cmd = Command::new(ffmpeg);
    cmd.args(["-hide_banner", "-nostdin", "-encoders"]);
    FFMPEG_RUNS.fetch_add(1, Ordering::SeqCst);
    match run_tool(&mut cmd, "ffmpeg", cancel).await {
        Ok(out) => Ok(Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let flags = words.next()?;
                let is_row = flags.len() == 6 && flags.chars().all(|c| "VASFXBD.".contains(c));
                is_row.then(|| words.next().map(str::to_string)).flatten()
            })
            .collect())),
        Err(MediaError::Cancelled) => Err(Cancelled),
        Err(e) => Ok(Err(telling_line(&e.to_string()))),
    }
}

/// One black 256×256 frame through exactly the arguments a render would use.
async fn test_encode(codec: &str, cancel: &CancellationToken) -> Result<EncoderProbe, Cancelled> {
    let mut args = ["-hide_banner", "-nostdin", "-loglevel", "error"]
        .map(String::from)
        .to_vec();
    args.extend(device_args(codec));
    let input = [
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=256x256:d=0.04",
        "-frames:v",
        "1",
    ];
    args.extend(input.map(String::from));
    if let Some(upload) = needs_hw_upload(codec) {
        args.extend(["-vf".into(), upload.into()]);
    }
    args.extend(encoder_args(&settings_for(codec, "medium", 23)));
    args.extend(["-f", "null", "-"].map(String::from));
    let Ok(ffmpeg) = find_tool("ffmpeg") else {
        // list_encoders already found ffmpeg; it vanishing now is not worth a variant.
        return Ok(probe_result(codec, Some("ffmpeg is not on PATH".into())));
    };
    let mut cmd = Command::new(ffmpeg);
    cmd.args(&args);
    FFMPEG_RUNS.fetch_add(1, Ordering::SeqCst);
    // kill_on_drop (set by run_tool) ends the child when the timeout drops the future.
    let outcome = tokio::time::timeout(PROBE_TIMEOUT, run_tool(&mut cmd, "ffmpeg", cancel)).await;
    let reason = match outcome {
        Ok(Ok(_)) => None,
        Ok(Err(MediaError::Cancelled)) => return Err(Cancelled),
        Ok(Err(MediaError::Failed { stderr_tail, .. })) => Some(telling_line(&stderr_tail)),
        Ok(Err(e)) => Some(telling_line(&e.to_string())),
        Err(_) => Some(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    };
    Ok(probe_result(codec, reason))
}

/// Usable exactly when there is no reason against it.
fn probe_result(codec: &str, reason: Option<String>) -> EncoderProbe {
    EncoderProbe {
        codec: codec.into(),
        usable: reason.is_none(),
        reason,
    }
}

/// The line of an ffmpeg error that names the cause. The last line is usually the generic
/// "Error initializing output stream … maybe incorrect parameters", so the first line a
/// component tagged (`[h264_nvenc @ 0x…] Cannot load libcuda.so.1`) wins, without its tag.
fn telling_line(stderr: &str) -> String {
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let tagged = lines
        .clone()
        .find(|l| l.starts_with('[') && l.contains(" @ "));
    let line = match tagged {
        Some(l) => l.split_once("] ").map_or(l, |(_, msg)| msg),
        None => lines
            .next_back()
            .unwrap_or("ffmpeg failed without a message"),
    };
    line.chars().take(REASON_CHARS).collect()
}

#[cfg(test)]
#[path = "encoder_tests.rs"]
mod tests;
