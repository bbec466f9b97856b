//! Loudness per ITU-R BS.1770-4 (what EBU R128 and the platforms' "-14 LUFS" mean): measure
//! the integrated loudness of a mono signal, then bring it to a target with a peak limiter.

/// Blocks of 400 ms, started every 100 ms (75 % overlap), as the standard prescribes.
const BLOCK_SECONDS: f64 = 0.4;
const HOP_SECONDS: f64 = 0.1;
const ABSOLUTE_GATE_LUFS: f64 = -70.0;
const RELATIVE_GATE_LU: f64 = -10.0;
/// Look-ahead of the limiter: gain falls over this long before a peak, so no click.
const LIMITER_ATTACK_SECONDS: f64 = 0.005;
/// Gain recovers over this long after a peak: slow enough not to distort low voices.
const LIMITER_RELEASE_SECONDS: f64 = 0.08;
/// Limiting lowers loudness; a few measure-and-correct rounds win it back.
const NORMALIZE_ROUNDS: usize = 6;
/// Gain beyond the plain loudness gain that limiting may ask for: past this the limiter
/// would be crushing the voice, and a slightly quieter narration is the better result.
const MAX_EXTRA_GAIN_DB: f64 = 12.0;
/// Flattest loudness-per-dB slope the secant steps trust (keeps one step from overshooting).
const MIN_SLOPE: f64 = 0.2;

/// A second-order IIR section with a0 normalized to 1: `a` holds a1 and a2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Biquad {
    pub b: [f64; 3],
    pub a: [f64; 2],
}

impl Biquad {
    fn run(&self, signal: &mut [f64]) {
        // Direct form I: exact enough in f64 and has no state-scaling subtleties.
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        for sample in signal.iter_mut() {
            let x0 = *sample;
            let y0 =
                self.b[0] * x0 + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
            (x2, x1, y2, y1) = (x1, x0, y1, y0);
            *sample = y0;
        }
    }
}

/// The K-weighting pre-filter (head-related high shelf) and RLB high-pass for `sample_rate`.
/// BS.1770 tabulates them for 48 kHz only; these are the analog prototypes behind that table
/// put through the bilinear transform (as libebur128 does), so 22.05 kHz voices are measured
/// with the right curve rather than with 48 kHz coefficients.
pub fn k_weighting(sample_rate: u32) -> [Biquad; 2] {
    let fs = f64::from(sample_rate);
    let (f0, gain_db, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let vh = 10f64.powf(gain_db / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let a0 = 1.0 + k / q + k * k;
    let high_pass = Biquad {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    [shelf, high_pass]
}

fn block_loudness(mean_square: f64) -> f64 {
    -0.691 + 10.0 * mean_square.log10()
}

/// Integrated loudness in LUFS of a mono signal in [-1, 1], or `None` when every block is
/// below the absolute gate (silence). A signal shorter than one block is measured as one.
pub fn integrated_loudness(samples: &[f32], sample_rate: u32) -> Option<f64> {
    if samples.is_empty() || sample_rate == 0 {
        return None;
    }
    let mut weighted: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
    for stage in k_weighting(sample_rate) {
        stage.run(&mut weighted);
    }
    // Prefix sums of the squares make every overlapping block O(1).
    let mut energy = Vec::with_capacity(weighted.len() + 1);
    energy.push(0.0);
    let mut total = 0.0;
    for y in &weighted {
        total += y * y;
        energy.push(total);
    }
    let rate = f64::from(sample_rate);
    let block = ((BLOCK_SECONDS * rate).round() as usize).min(samples.len());
    let hop = ((HOP_SECONDS * rate).round() as usize).max(1);
    let blocks: Vec<f64> = (0..=(samples.len() - block) / hop)
        .map(|i| (energy[i * hop + block] - energy[i * hop]) / block as f64)
        .filter(|&z| z > 0.0 && block_loudness(z) > ABSOLUTE_GATE_LUFS)
        .collect();
    if blocks.is_empty() {
        return None;
    }
    let mean = |zs: &[f64]| zs.iter().sum::<f64>() / zs.len() as f64;
    let relative_gate = block_loudness(mean(&blocks)) + RELATIVE_GATE_LU;
    let gated: Vec<f64> = blocks
        .into_iter()
        .filter(|&z| block_loudness(z) > relative_gate)
        .collect();
    Some(block_loudness(mean(&gated)))
}

/// Keeps every sample within ±`ceiling` by lowering the gain around peaks: the gain reaches
/// what a peak needs exactly at the peak, ramps down to it over the attack (look-ahead) and
/// back up over the release, so it never clips and never pumps sample by sample.
pub fn limit(samples: &mut [f32], sample_rate: u32, ceiling: f32) {
    let rate = f64::from(sample_rate);
    let attack_step = 1.0 / (LIMITER_ATTACK_SECONDS * rate).max(1.0) as f32;
    let release_step = 1.0 / (LIMITER_RELEASE_SECONDS * rate).max(1.0) as f32;
    let mut gain: Vec<f32> = samples
        .iter()
        .map(|s| {
            let peak = s.abs();
            if peak > ceiling { ceiling / peak } else { 1.0 }
        })
        .collect();
    if gain.iter().all(|&g| g >= 1.0) {
        return;
    }
    // Backwards: each gain may be at most the next one plus an attack step (look-ahead ramp).
    for i in (0..gain.len().saturating_sub(1)).rev() {
        gain[i] = gain[i].min(gain[i + 1] + attack_step);
    }
    // Forwards: recover no faster than the release allows.
    for i in 1..gain.len() {
        gain[i] = gain[i].min(gain[i - 1] + release_step);
    }
    for (sample, g) in samples.iter_mut().zip(gain) {
        // The clamp only catches float rounding: the gain already fits every peak.
        *sample = (*sample * g).clamp(-ceiling, ceiling);
    }
}

/// What [`normalize`] did, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalized {
    /// Loudness before, `None` for silence.
    pub measured_lufs: Option<f64>,
    /// Gain applied before the limiter, dB (volume included).
    pub gain_db: f64,
    /// Loudness after gain and limiting.
    pub final_lufs: Option<f64>,
}

/// Brings `samples` to `target_lufs` integrated loudness, multiplies by `volume` on top
/// (so volume 0.5 is 6 dB under the target), and limits peaks to `ceiling_dbfs`. When heavy
/// limiting costs loudness, the gain is raised and the result measured again.
pub fn normalize(
    samples: &mut [f32],
    sample_rate: u32,
    target_lufs: f64,
    volume: f64,
    ceiling_dbfs: f64,
) -> Normalized {
    let ceiling = 10f64.powf(ceiling_dbfs / 20.0) as f32;
    let measured = integrated_loudness(samples, sample_rate);
    if volume <= 0.0 {
        samples.fill(0.0);
        return Normalized {
            measured_lufs: measured,
            gain_db: f64::NEG_INFINITY,
            final_lufs: None,
        };
    }
    let volume_db = 20.0 * volume.log10();
    let Some(measured_lufs) = measured else {
        // Silence (or close to it): nothing to measure, so only the volume and the limiter.
        samples.iter_mut().for_each(|s| *s *= volume as f32);
        limit(samples, sample_rate, ceiling);
        return Normalized {
            measured_lufs: None,
            gain_db: volume_db,
            final_lufs: integrated_loudness(samples, sample_rate),
        };
    };
    let goal = target_lufs + volume_db;
    let original = samples.to_vec();
    let mut gain_db = goal - measured_lufs;
    let mut final_lufs = None;
    let mut previous: Option<(f64, f64)> = None;
    for _ in 0..NORMALIZE_ROUNDS {
        let gain = 10f64.powf(gain_db / 20.0) as f32;
        for (out, &src) in samples.iter_mut().zip(&original) {
            *out = src * gain;
        }
        limit(samples, sample_rate, ceiling);
        final_lufs = integrated_loudness(samples, sample_rate);
        let Some(now) = final_lufs else { break };
        if (goal - now).abs() < 0.05 {
            break;
        }
        // Secant step: under limiting, 1 dB more gain buys less than 1 LU, and the slope
        // from the last two rounds says how much less.
        let slope = previous
            .map(|(g, l)| (now - l) / (gain_db - g))
            .filter(|s| s.is_finite())
            .unwrap_or(1.0)
            .clamp(MIN_SLOPE, 1.0);
        previous = Some((gain_db, now));
        gain_db = (gain_db + (goal - now) / slope).min(goal - measured_lufs + MAX_EXTRA_GAIN_DB);
    }
    Normalized {
        measured_lufs: Some(measured_lufs),
        gain_db,
        final_lufs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amplitude: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn coefficients_match_the_48k_table_of_the_standard() {
        let [shelf, high_pass] = k_weighting(48_000);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        let expected_shelf = [1.53512485958697, -2.69169618940638, 1.19839281085285];
        for (got, want) in shelf.b.iter().zip(expected_shelf) {
            assert!(close(*got, want), "shelf b {:?}", shelf.b);
        }
        assert!(close(shelf.a[0], -1.69065929318241), "{:?}", shelf.a);
        assert!(close(shelf.a[1], 0.73248077421585), "{:?}", shelf.a);
        assert_eq!(high_pass.b, [1.0, -2.0, 1.0]);
        assert!(
            close(high_pass.a[0], -1.99004745483398),
            "{:?}",
            high_pass.a
        );
        assert!(close(high_pass.a[1], 0.99007225036621), "{:?}", high_pass.a);
    }

    #[test]
    fn full_scale_997_hz_sine_is_minus_3_01_lufs_at_every_rate() {
        // BS.1770's own calibration point: a 0 dBFS 997 Hz sine reads -3.01 LKFS.
        for rate in [22_050, 44_100, 48_000] {
            let lufs = integrated_loudness(&sine(997.0, 1.0, rate, 5.0), rate).unwrap();
            assert!((lufs - -3.01).abs() < 0.05, "{rate} Hz: {lufs}");
        }
    }

    #[test]
    fn sine_at_minus_20_dbfs_rms_reads_about_minus_20_lufs() {
        // RMS -20 dBFS = amplitude 0.1·√2; the K-curve adds ~0.69 dB at 1 kHz, which the
        // -0.691 constant takes back: -20.0 expected.
        let amplitude = 0.1 * std::f64::consts::SQRT_2;
        let lufs = integrated_loudness(&sine(1000.0, amplitude, 22_050, 3.0), 22_050).unwrap();
        assert!((lufs - -20.0).abs() < 0.1, "{lufs}");
    }

    #[test]
    fn gates_drop_silence_and_quiet_passages() {
        let rate = 22_050;
        let loud = sine(1000.0, 0.1414, rate, 4.0);
        let mut with_silence = loud.clone();
        with_silence.extend(vec![0.0; 4 * rate as usize]);
        let lufs = integrated_loudness(&with_silence, rate).unwrap();
        assert!((lufs - -20.0).abs() < 0.15, "absolute gate: {lufs}");
        // A passage 20 dB down is under the relative gate (-10 LU) and does not count.
        let mut with_quiet = loud;
        with_quiet.extend(sine(1000.0, 0.01414, rate, 4.0));
        let lufs = integrated_loudness(&with_quiet, rate).unwrap();
        assert!((lufs - -20.0).abs() < 0.3, "relative gate: {lufs}");
        assert_eq!(integrated_loudness(&vec![0.0; 30_000], rate), None);
        assert_eq!(integrated_loudness(&[], rate), None);
    }

    /// Tone bursts of varying strength with sharp peaks: speech-like crest factor, so the
    /// limiter has real work at -14 LUFS.
    fn bursty(rate: u32) -> Vec<f32> {
        let mut seed: u32 = 12345;
        let mut out = Vec::new();
        for _ in 0..20 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let level = 0.02 + f64::from(seed >> 16) / 65_536.0 * 0.2;
            out.extend(sine(220.0 + f64::from(seed % 400), level, rate, 0.25));
            out.extend(vec![0.0; (rate / 20) as usize]);
            out.push(0.6);
            out.push(-0.6);
        }
        out
    }

    #[test]
    fn normalizes_to_the_target_and_keeps_peaks_under_the_ceiling() {
        let rate = 22_050;
        for target in [-14.0, -23.0] {
            let mut audio = bursty(rate);
            let report = normalize(&mut audio, rate, target, 1.0, -1.0);
            let lufs = integrated_loudness(&audio, rate).unwrap();
            assert!(
                (lufs - target).abs() < 0.5,
                "target {target}: {lufs} {report:?}"
            );
            let peak = audio.iter().fold(0f32, |m, s| m.max(s.abs()));
            assert!(peak <= 0.8913, "peak {peak}");
        }
        // Volume 0.5 is 6 dB under the target.
        let mut audio = bursty(rate);
        normalize(&mut audio, rate, -20.0, 0.5, -1.0);
        let lufs = integrated_loudness(&audio, rate).unwrap();
        assert!((lufs - -26.02).abs() < 0.5, "{lufs}");
    }

    #[test]
    fn limiter_leaves_quiet_audio_alone_and_silence_stays_silent() {
        let quiet = sine(440.0, 0.5, 22_050, 0.5);
        let mut limited = quiet.clone();
        limit(&mut limited, 22_050, 0.89);
        assert_eq!(quiet, limited);
        let mut silence = vec![0.0f32; 10_000];
        let report = normalize(&mut silence, 22_050, -14.0, 1.0, -1.0);
        assert_eq!(report.measured_lufs, None);
        assert!(silence.iter().all(|s| *s == 0.0));
    }
}
