//! Built-in moving backgrounds for when no stock footage exists: ffmpeg lavfi source
//! descriptions, calm and dark-to-mid so white subtitles stay readable, a different look for
//! each index.

/// How many distinct looks there are before the cycle repeats (with shifted hues).
pub const LOOKS: usize = 8;

/// A lavfi source description (no duration: the renderer adds `-t`) producing `width`×`height`
/// at `fps`. Consecutive indices give different looks; after `LOOKS` they repeat with
/// rotated colours and other seeds, so index 0 and index 8 still differ.
pub fn background(index: usize, width: u32, height: u32, fps: u32) -> String {
    let (w, h) = (even(width), even(height));
    let fps = fps.max(1);
    // Everything is generated at half size or coarser and scaled up: these looks are soft
    // anyway, and full-size generation would cost as much as the encode. Gradients are the
    // smoothest and the slowest per pixel, so they get a quarter.
    let (lw, lh) = (even(w / 2), even(h / 2));
    let (gw, gh) = (even(w / 4), even(h / 4));
    let cycle = index / LOOKS;
    let seed = index as u64 + 1;
    let look = match index % LOOKS {
        0 => format!(
            "gradients=s={gw}x{gh}:r={fps}:n=3:c0=0x0b1d3a:c1=0x4a1f5c:c2=0x123a4a\
             :speed=0.008:seed={seed}"
        ),
        1 => format!(
            "gradients=s={gw}x{gh}:r={fps}:type=radial:c0=0x1b5a52:c1=0x08202c\
             :speed=0.012:seed={seed}"
        ),
        2 => format!(
            "color=c=0x1f3b5a:s={lw}x{lh}:r={fps},hue=H=2*PI*t/20,vignette=PI/4\
             ,noise=alls=10:allf=t"
        ),
        3 => {
            // A cellular automaton scrolling upwards, blurred into a drifting texture.
            let (cw, ch) = (even(w / 8), even(h / 8));
            format!(
                "cellauto=s={cw}x{ch}:r={fps}:rule=30:scroll=1:random_fill_ratio=0.5\
                 :random_seed={seed},gblur=sigma=2.5,format=rgb24\
                 ,colorchannelmixer=rr=0.12:gg=0.22:bb=0.40"
            )
        }
        4 => {
            // Life changes every frame; a slow generation rate keeps it calm.
            let (cw, ch) = (even(w / 8), even(h / 8));
            format!(
                "life=s={cw}x{ch}:r=6:ratio=0.25:mold=12:seed={seed}:life_color=0x6a4a9a\
                 :death_color=0x1a1033:mold_color=0x2e1d52,gblur=sigma=1.2,fps={fps}"
            )
        }
        5 => {
            let (mw, mh) = (even(w / 4), even(h / 4));
            format!(
                "mandelbrot=s={mw}x{mh}:r={fps}:maxiter=200:start_scale=2.5:end_scale=0.2\
                 :end_pts={end}\
                 ,hue=s=0,format=rgb24,colorchannelmixer=rr=0.3:gg=0.35:bb=0.55\
                 ,gblur=sigma=0.8",
                end = fps * 60
            )
        }
        6 => format!(
            "gradients=s={gw}x{gh}:r={fps}:type=spiral:c0=0x3a1c12:c1=0x120a1e\
             :speed=0.004:seed={seed}"
        ),
        _ => format!(
            "gradients=s={gw}x{gh}:r={fps}:type=circular:n=4:c0=0x102a43:c1=0x243b2a\
             :c2=0x3b2440:c3=0x0f1c2e:speed=0.006:seed={seed}"
        ),
    };
    let hue = if cycle > 0 {
        format!(",hue=h={}", (cycle * 47) % 360)
    } else {
        String::new()
    };
    format!("{look}{hue},scale={w}:{h}:flags=bicubic,setsar=1,format=yuv420p")
}

/// Even and at least 16: yuv420p needs even sizes, and tiny sources break some generators.
fn even(n: u32) -> u32 {
    (n.max(16) / 2) * 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Renders `seconds` of `spec` and returns the last frame as 8-bit gray pixels.
    fn last_frame(spec: &str, seconds: f64, width: u32, height: u32) -> Vec<u8> {
        let output = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-f", "lavfi", "-t"])
            .arg(seconds.to_string())
            .args(["-i", spec, "-vf", "format=gray", "-f", "rawvideo", "-"])
            .output()
            .expect("ffmpeg must be installed for media tests");
        assert!(
            output.status.success(),
            "{spec}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let frame = (width * height) as usize;
        assert!(output.stdout.len() >= frame, "{spec}: no frames");
        assert_eq!(output.stdout.len() % frame, 0, "{spec}: wrong frame size");
        output.stdout[output.stdout.len() - frame..].to_vec()
    }

    #[test]
    fn first_looks_render_and_differ() {
        let (w, h) = (160, 284);
        let frames: Vec<Vec<u8>> = (0..6)
            .map(|i| last_frame(&background(i, w, h, 25), 0.5, w, h))
            .collect();
        for (i, frame) in frames.iter().enumerate() {
            let mean = frame.iter().map(|&p| p as f64).sum::<f64>() / frame.len() as f64;
            // Calm and dark-to-mid: never black, never bright enough to fight white text.
            assert!((4.0..150.0).contains(&mean), "look {i}: mean luma {mean}");
        }
        for i in 0..frames.len() {
            for j in i + 1..frames.len() {
                assert_ne!(frames[i], frames[j], "looks {i} and {j} are identical");
            }
        }
    }

    #[test]
    fn later_cycles_differ_and_odd_sizes_are_evened() {
        assert_ne!(background(0, 100, 100, 30), background(LOOKS, 100, 100, 30));
        let spec = background(7, 161, 285, 30);
        assert!(spec.ends_with("scale=160:284:flags=bicubic,setsar=1,format=yuv420p"));
        let frame = last_frame(&background(LOOKS + 2, 160, 284, 30), 0.2, 160, 284);
        assert!(frame.iter().any(|&p| p > 10));
    }

    #[test]
    fn backgrounds_move() {
        let (w, h) = (160, 284);
        for i in [0, 2, 3, 5] {
            let spec = background(i, w, h, 25);
            assert_ne!(
                last_frame(&spec, 0.04, w, h),
                last_frame(&spec, 1.0, w, h),
                "look {i} is static"
            );
        }
    }
}
