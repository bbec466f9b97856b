//! Matrix–vector products for decoding one token at a time: every weight is read once per
//! step, so the step is bound by memory bandwidth, and a plain row-by-row pass reading each
//! weight once beats a general matrix product that repacks the matrix for a single row.
//!
//! One thread: on the 2-core machines this targets, a second thread brings no more bandwidth
//! (measured: 51865×512 logits take ~9 ms either way) and costs a hand-over per product.

/// Lanes of the dot product: four AVX registers of `f32`, enough independent sums to hide
/// the latency of the adds.
const LANES: usize = 32;

/// `a · b` with `LANES` independent accumulators so the loop vectorizes.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0f32; LANES];
    for (ca, cb) in ca.zip(cb) {
        for ((s, x), y) in acc.iter_mut().zip(ca).zip(cb) {
            *s += x * y;
        }
    }
    // Pairwise, as the lanes of a vector reduction would be added.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0] + tail
}

/// `y += alpha · x`, element-wise over the shorter of the two.
#[inline(always)]
pub fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += alpha * x);
}

/// `out[r] (+)= w[r] · x + bias[r]` for every row `r` of `w` (`out.len()` rows of `x.len()`
/// values, PyTorch's `[outputs, inputs]` layout): a linear layer applied to one vector. With
/// `accumulate` the result is added to `out` (the residual), else it overwrites it.
pub fn matvec(w: &[f32], x: &[f32], bias: Option<&[f32]>, out: &mut [f32], accumulate: bool) {
    #[cfg(target_arch = "x86_64")]
    if crate::providers::embed::kernels::avx2_fma() {
        // SAFETY: the CPU reported both features.
        return unsafe { matvec_avx2_fma(w, x, bias, out, accumulate) };
    }
    matvec_body(w, x, bias, out, accumulate);
}

/// [`matvec_body`] compiled for AVX2 and FMA: 8 lanes per register instead of 4.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn matvec_avx2_fma(w: &[f32], x: &[f32], bias: Option<&[f32]>, out: &mut [f32], accumulate: bool) {
    matvec_body(w, x, bias, out, accumulate);
}

#[inline(always)]
fn matvec_body(w: &[f32], x: &[f32], bias: Option<&[f32]>, out: &mut [f32], accumulate: bool) {
    let k = x.len();
    assert!(
        w.len() == out.len() * k && bias.is_none_or(|b| b.len() == out.len()),
        "matvec shapes: {} weights for {} × {k}",
        w.len(),
        out.len()
    );
    for (r, (o, row)) in out.iter_mut().zip(w.chunks_exact(k)).enumerate() {
        let value = dot(row, x) + bias.map_or(0.0, |b| b[r]);
        *o = if accumulate { *o + value } else { value };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn matvec_matches_candles_matmul_with_bias_and_residual() {
        // 70 inputs: two full lane blocks and a tail.
        let (rows, k) = (37, 70);
        let w: Vec<f32> = (0..rows * k)
            .map(|i| ((i * 7919 % 1009) as f32 / 1009.0 - 0.5) * 2.0)
            .collect();
        let x: Vec<f32> = (0..k).map(|i| (i as f32 * 0.37).sin()).collect();
        let bias: Vec<f32> = (0..rows).map(|r| r as f32 / 10.0 - 1.0).collect();
        let dev = &Device::Cpu;
        let want: Vec<f32> = Tensor::from_vec(x.clone(), (1, k), dev)
            .and_then(|tx| tx.matmul(&Tensor::from_vec(w.clone(), (rows, k), dev)?.t()?))
            .and_then(|t| t.flatten_all()?.to_vec1())
            .unwrap();

        let mut got = vec![f32::NAN; rows];
        matvec(&w, &x, None, &mut got, false);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
        let mut residual = vec![0.5; rows];
        matvec(&w, &x, Some(&bias), &mut residual, true);
        for ((g, w), b) in residual.iter().zip(&want).zip(&bias) {
            assert!((g - (w + b + 0.5)).abs() < 1e-5, "{g} vs {}", w + b + 0.5);
        }
    }

    #[test]
    fn dot_and_axpy_match_the_plain_loops() {
        for len in [0, 1, 31, 32, 33, 64, 1500] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.07).sin()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x * y)).sum();
            assert!((f64::from(dot(&a, &b)) - want).abs() < 1e-4, "len {len}");
            let mut y = b.clone();
            axpy(&mut y, -2.0, &a);
            for ((y, a), b) in y.iter().zip(&a).zip(&b) {
                assert_eq!(*y, b - 2.0 * a);
            }
        }
    }
}
