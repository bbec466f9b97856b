//! Tests for the mel front end: the filter bank against reference values, the spectrogram
//! against a tone whose band is known.

use super::*;

fn bank() -> Vec<f32> {
    mel_filters(SAMPLE_RATE, N_FFT, 80)
}

fn at(bank: &[f32], mel: usize, bin: usize) -> f32 {
    bank[mel * N_BINS + bin]
}

/// Reference entries of librosa.filters.mel(sr=16000, n_fft=400, n_mels=80, htk=False,
/// norm="slaney"). Obtained by a separate pure-Python (float64) transcription of librosa's
/// algorithm (neither numpy nor librosa is installed here), printed once and pasted;
/// (0, 1) also matches the first non-zero entry of openai-whisper's shipped
/// `mel_filters.npz`, 0.02486259.
const REFERENCE: [(usize, usize, f64); 6] = [
    (0, 1, 0.02486259398417609),
    (1, 2, 0.022871772096078016),
    (10, 10, 0.019908218880980724),
    (40, 43, 0.014735565741439118),
    (79, 190, 0.0022320550527126447),
    (79, 192, 0.0031647117391764836),
];

#[test]
fn filter_bank_matches_reference_entries() {
    let bank = bank();
    assert_eq!(bank.len(), 80 * 201);
    for (mel, bin, want) in REFERENCE {
        let got = f64::from(at(&bank, mel, bin));
        assert!(
            (got - want).abs() < 1e-7,
            "filter[{mel}][{bin}] = {got}, expected {want}"
        );
    }
}

#[test]
fn each_row_is_a_unit_area_triangle_on_the_slaney_scale() {
    let bank = bank();
    // Independent of the implementation: edges from the scale's definition, linear below
    // 1 kHz (15 mel at 1 kHz) and logarithmic above (27 mel per factor 6.4).
    let hz = |m: f64| {
        if m < 15.0 {
            m * 200.0 / 3.0
        } else {
            1000.0 * 6.4f64.powf((m - 15.0) / 27.0)
        }
    };
    let top_mel = 15.0 + 27.0 * 8.0f64.ln() / 6.4f64.ln();
    for mel in 0..80 {
        let lo = hz(top_mel * mel as f64 / 81.0);
        let hi = hz(top_mel * (mel + 2) as f64 / 81.0);
        let row = &bank[mel * N_BINS..(mel + 1) * N_BINS];
        for (bin, &w) in row.iter().enumerate() {
            let f = bin as f64 * 40.0;
            if f <= lo || f >= hi {
                assert_eq!(w, 0.0, "row {mel} bin {bin} outside ({lo}, {hi})");
            }
        }
        // Unit area in Hz: samples 40 Hz apart sum to about 1/40 once the triangle spans
        // several bins (the narrow low rows hold a single sample or two).
        let sum: f64 = row.iter().map(|&w| f64::from(w)).sum();
        if hi - lo > 400.0 {
            assert!(
                (sum * 40.0 - 1.0).abs() < 0.05,
                "row {mel} area {}",
                sum * 40.0
            );
        }
        // Peak value = 2 / width, reached at the bin nearest the centre.
        let peak = row.iter().fold(0f32, |m, &w| m.max(w));
        assert!(f64::from(peak) <= 2.0 / (hi - lo) + 1e-6, "row {mel}");
    }
    // Row 79 spans 7408.5–8000 Hz: bins 186..=199 are inside.
    let last = &bank[79 * N_BINS..];
    let inside: Vec<usize> = (0..N_BINS).filter(|&b| last[b] > 0.0).collect();
    assert_eq!((inside[0], inside[inside.len() - 1]), (186, 199));
}

#[test]
fn a_tone_lights_up_its_own_band_and_windows_are_zero_padded() {
    let front = MelFrontEnd::new(80).unwrap();
    // 1 s of a 1 kHz tone, then 0.5 s of silence. 1 kHz is Slaney mel 15: the peak of
    // filter 26 (edge 27 of 82).
    let mut samples: Vec<f32> = (0..16_000)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
        .collect();
    samples.extend(std::iter::repeat_n(0.0, 8000));
    let lm = front.compute(&samples, &Device::Cpu).unwrap();
    assert_eq!(lm.content_frames, 150);
    assert_eq!(lm.mel.dims(), &[80, 150]);
    let mel: Vec<Vec<f32>> = lm.mel.to_vec2().unwrap();
    let frame = 50;
    let loudest = (0..80)
        .max_by(|&a, &b| mel[a][frame].total_cmp(&mel[b][frame]))
        .unwrap();
    let center_mel = 15.0 / (15.0 + 27.0 * 8.0f64.ln() / 6.4f64.ln()) * 81.0;
    assert!(
        (loudest as f64 - (center_mel - 1.0)).abs() <= 1.0,
        "loudest band {loudest}, expected near {}",
        center_mel - 1.0
    );
    // The maximum maps to (max + 4) / 4 and nothing lies more than 8 (2 after scaling)
    // below it; the silence sits exactly on that floor.
    let max = mel.iter().flatten().fold(f32::MIN, |m, &v| m.max(v));
    let min = mel.iter().flatten().fold(f32::MAX, |m, &v| m.min(v));
    assert!((max - min - 2.0).abs() < 1e-4, "range {min}..{max}");
    assert_eq!(mel[40][140], min);
    // A window is 3000 frames; past the audio it holds zeros (openai's pad_or_trim).
    let window: Vec<Vec<f32>> = lm
        .window(100)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2()
        .unwrap();
    assert_eq!((window.len(), window[0].len()), (80, WINDOW_FRAMES));
    assert_eq!(window[40][0], mel[40][100]);
    assert!(window.iter().all(|row| row[50..].iter().all(|&v| v == 0.0)));
}

#[test]
fn stft_matches_a_direct_dft() {
    // One frame of noise-like samples through the matrix DFT vs a naive f64 DFT.
    let front = MelFrontEnd::new(80).unwrap();
    let frame: Vec<f32> = (0..N_FFT)
        .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
        .collect();
    let x = Tensor::from_slice(&frame, (1, N_FFT), &Device::Cpu).unwrap();
    let got: Vec<f32> = x
        .matmul(&front.basis)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for k in [0, 1, 37, 200] {
        let (mut re, mut im) = (0f64, 0f64);
        for (n, &v) in frame.iter().enumerate() {
            let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / 400.0).cos();
            let angle = 2.0 * std::f64::consts::PI * (k * n) as f64 / 400.0;
            re += f64::from(v) * hann * angle.cos();
            im -= f64::from(v) * hann * angle.sin();
        }
        assert!((f64::from(got[k]) - re).abs() < 1e-3, "re[{k}]");
        assert!((f64::from(got[N_BINS + k]) - im).abs() < 1e-3, "im[{k}]");
    }
}
