//! The numeric kernels of the CPU encoder on plain `f32` slices: matrix product (the `gemm`
//! crate candle itself uses), layer norm, exact-erf GELU and softmax.
//!
//! The element-wise kernels are branch-free loops over fixed-width lanes so the compiler turns
//! them into SIMD code; libm's scalar `erff`/`expf` cost as much as a quarter of candle's
//! MiniLM forward pass. Their approximations are accurate to a few float ulps, far inside the
//! noise a different summation order already adds.

/// Lanes of the element-wise loops: two AVX or four SSE registers of `f32`.
const LANES: usize = 8;

/// Whether this CPU runs the `avx2,fma` builds of the kernels (MiniLM's and Whisper's hot
/// loops are compiled twice: for these features, and for the baseline).
pub fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// A matrix inside a slice: element (r, c) is `data[r * row_stride + c * col_stride]`, so a
/// head's columns of the packed `[Q | K | V]` rows, or a transpose, need no copy.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> Mat<'a> {
    /// `rows × cols` values with rows `row_stride` apart (at least `cols`).
    pub fn rows(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Mat<'a> {
        Mat {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transpose, still reading the same slice.
    pub fn t(self) -> Mat<'a> {
        Mat {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether the last element lies inside `data` (so every element does: strides are
    /// non-negative).
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst (+)= scale · a · b`, where `dst` holds `a.rows × b.cols` values, rows `dst_stride`
/// apart. With `accumulate` the product is added to what `dst` holds (the residual), else it
/// overwrites it. On `threads` threads of rayon's pool; the encoder passes 1 where it splits
/// the rows between threads itself.
pub fn matmul(
    dst: &mut [f32],
    dst_stride: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    scale: f32,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(
        b.rows == k && a.fits() && b.fits() && dst_stride >= n,
        "matmul shapes: {m}×{k} · {}×{n}",
        b.rows
    );
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        (m - 1) * dst_stride + n <= dst.len(),
        "matmul: {m}×{n} do not fit in {} values",
        dst.len()
    );
    // SAFETY: the asserts above prove every element the three strided views address lies
    // inside its slice, and that the rows of `dst` (`dst_stride ≥ n` apart) do not overlap;
    // `dst` is a unique borrow, so it cannot overlap `a` or `b`; gemm reads `dst` only with
    // `accumulate`, when the caller has initialized it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            scale,
            false,
            false,
            false,
            if threads > 1 {
                gemm::Parallelism::Rayon(threads)
            } else {
                gemm::Parallelism::None
            },
        );
    }
}

/// Sum with `LANES` independent accumulators, which lets the loop vectorize (a single running
/// sum forces one add after another in program order).
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// A layer norm's scale and shift.
pub struct Norm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub eps: f32,
}

/// In place over each row of `gamma.len()` values: `x += bias` (the bias of the product that
/// wrote the row, folded in here to save a pass), then `(x - mean) / sqrt(var + eps) * gamma
/// + beta`, the variance taken around the mean (two passes, as precise as candle's).
#[inline(always)]
pub fn layer_norm(rows: &mut [f32], bias: Option<&[f32]>, norm: &Norm) {
    let Norm { gamma, beta, eps } = norm;
    let width = gamma.len();
    for row in rows.chunks_exact_mut(width) {
        if let Some(bias) = bias {
            row.iter_mut().zip(bias).for_each(|(x, b)| *x += b);
        }
        let mean = sum(row) / width as f32;
        row.iter_mut().for_each(|x| *x -= mean);
        let mut acc = [0f32; LANES];
        let chunks = row.chunks_exact(LANES);
        let tail: f32 = chunks.remainder().iter().map(|x| x * x).sum();
        for chunk in chunks {
            for (a, x) in acc.iter_mut().zip(chunk) {
                *a += x * x;
            }
        }
        let var = (acc.iter().sum::<f32>() + tail) / width as f32;
        let scale = 1.0 / (var + eps).sqrt();
        for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *x = *x * scale * g + b;
        }
    }
}

/// `erf(x)` as a rational function of `x` (Eigen's `generic_fast_erf_float`): max error
/// about 1e-7 against the exact function, and no branch, so slices of it vectorize.
#[inline(always)]
fn erf(x: f32) -> f32 {
    // erf(±4) rounds to ±1 in f32, so clamping loses nothing.
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p - 2.101_024e-6;
    p = x2 * p - 5.692_506_4e-5;
    p = x2 * p - 7.349_906_3e-4;
    p = x2 * p - 2.954_600_1e-3;
    p = x2 * p - 1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 - 2.133_740_6e-4;
    q = x2 * q - 1.682_827e-3;
    q = x2 * q - 7.373_329_3e-3;
    q = x2 * q - 1.426_473_9e-2;
    x * p / q
}

/// In place over each row of `bias.len()` values: `x += bias`, then the exact (erf) GELU BERT
/// is trained with, `x/2 · (1 + erf(x/√2))`.
#[inline(always)]
pub fn gelu(rows: &mut [f32], bias: &[f32]) {
    for row in rows.chunks_exact_mut(bias.len()) {
        for (x, b) in row.iter_mut().zip(bias) {
            let x_b = *x + b;
            *x = 0.5 * x_b * (1.0 + erf(x_b * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// `x` to the nearest integer, ties to even, for |x| < 2^22: adding then subtracting 1.5·2^23
/// rounds with plain SSE2 adds, where `round()` or `round_ties_even()` would be a libm call per
/// lane on the baseline x86-64 target.
#[inline(always)]
pub fn round_even(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    (x + ROUND) - ROUND
}

/// `e^x` for `x` in [-87, 88] (Cephes `expf`: 2^n times a degree-6 polynomial on
/// [-ln2/2, ln2/2]), within 2 ulps; branch-free so softmax rows vectorize.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = round_even(x * std::f32::consts::LOG2_E);
    // ln 2 split in two so `n · ln2` is exact enough: 0.693359375 has few mantissa bits.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4 * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // 2^n built in the exponent field; n is within [-126, 127] thanks to the clamp.
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// In place: `softmax(row)`, shifted by the row's maximum so no term overflows.
#[inline(always)]
pub fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    row.iter_mut().for_each(|x| *x = exp(*x - max));
    let scale = 1.0 / sum(row);
    row.iter_mut().for_each(|x| *x *= scale);
}

/// Runs `work` on every item, the first on this thread and each other one on a thread of its
/// own, and returns when all are done (the encoders' hand-over between bands of rows).
pub fn parallel<I, F>(items: I, work: F)
where
    I: Iterator,
    I::Item: Send,
    F: Fn(I::Item) + Sync,
{
    std::thread::scope(|scope| {
        let mut items = items;
        let Some(first) = items.next() else { return };
        let work = &work;
        for item in items {
            scope.spawn(move || work(item));
        }
        work(first);
    });
}

#[cfg(test)]
mod tests {
    //! Each kernel against candle's own op on the same numbers.
    use super::*;
    use candle_core::{Device, Tensor};

    fn grid(from: f32, to: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| from + (to - from) * i as f32 / (n - 1) as f32)
            .collect()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn gelu_matches_candles_exact_erf_gelu() {
        let xs = grid(-12.0, 12.0, 48_001);
        let want = Tensor::new(xs.as_slice(), &Device::Cpu)
            .and_then(|t| t.gelu_erf())
            .and_then(|t| t.to_vec1::<f32>())
            .unwrap();
        let mut got: Vec<f32> = xs.iter().map(|x| x - 0.25).collect();
        gelu(&mut got, &[0.25; 1]);
        // Relative to |x|: the result grows with x, its rounding with it.
        let worst = xs
            .iter()
            .zip(got.iter().zip(&want))
            .map(|(x, (g, w))| (g - w).abs() / x.abs().max(1.0))
            .fold(0.0, f32::max);
        assert!(worst < 5e-7, "gelu off by {worst}");
    }

    #[test]
    fn softmax_matches_candle() {
        for len in [1, 3, 8, 31, 256] {
            let row: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) * 1.7)
                .collect();
            let want = Tensor::new(row.as_slice(), &Device::Cpu)
                .and_then(|t| candle_nn::ops::softmax_last_dim(&t))
                .and_then(|t| t.to_vec1::<f32>())
                .unwrap();
            let mut got = row.clone();
            softmax(&mut got);
            assert!(
                max_diff(&got, &want) < 1e-6,
                "len {len}: {got:?} vs {want:?}"
            );
        }
        let xs = grid(-87.0, 88.0, 10_001);
        for x in xs {
            let (got, want) = (exp(x), x.exp());
            assert!(
                (got - want).abs() <= want * 3e-7,
                "exp({x}) = {got}, not {want}"
            );
        }
    }

    #[test]
    fn layer_norm_matches_candle() {
        let (rows, width) = (5, 384);
        let xs: Vec<f32> = (0..rows * width)
            .map(|i| ((i * 7919 % 1000) as f32 - 480.0) / 97.0)
            .collect();
        let gamma: Vec<f32> = (0..width).map(|i| 0.5 + i as f32 / 400.0).collect();
        let beta: Vec<f32> = (0..width).map(|i| (i as f32 - 190.0) / 300.0).collect();
        let dev = &Device::Cpu;
        let want = Tensor::from_vec(xs.clone(), (rows, width), dev)
            .and_then(|t| {
                let g = Tensor::new(gamma.as_slice(), dev)?;
                let b = Tensor::new(beta.as_slice(), dev)?;
                candle_nn::ops::layer_norm(&t, &g, &b, 1e-12)
            })
            .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
            .unwrap();
        let bias: Vec<f32> = (0..width).map(|i| i as f32 / 1000.0).collect();
        let mut got: Vec<f32> = xs
            .iter()
            .zip(bias.iter().cycle())
            .map(|(x, b)| x - b)
            .collect();
        let eps = 1e-12;
        layer_norm(&mut got, Some(&bias), &Norm { gamma, beta, eps });
        assert!(max_diff(&got, &want) < 1e-5, "{}", max_diff(&got, &want));
    }

    #[test]
    fn matmul_matches_candle_and_accumulates() {
        let (m, k, n) = (7, 33, 19);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 / 13.0 - 0.4).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 11) as f32 / 11.0 - 0.6).collect();
        let dev = &Device::Cpu;
        let want = Tensor::from_vec(a.clone(), (m, k), dev)
            .and_then(|ta| ta.matmul(&Tensor::from_vec(b.clone(), (k, n), dev)?))
            .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
            .unwrap();
        let mut got = vec![f32::NAN; m * n];
        let (ma, mb) = (Mat::rows(&a, m, k, k), Mat::rows(&b, k, n, n));
        matmul(&mut got, n, ma, mb, 1.0, false, 1);
        assert!(max_diff(&got, &want) < 1e-5);
        let mut plus_one = vec![1.0; m * n];
        matmul(&mut plus_one, n, ma, mb, 1.0, true, 2);
        let shifted: Vec<f32> = want.iter().map(|w| w + 1.0).collect();
        assert!(max_diff(&plus_one, &shifted) < 1e-5);
        // Strided and transposed views: every other column of a, b stored transposed, and a
        // destination with gaps between rows, scaled.
        let half = Mat {
            cols: k / 2,
            col_stride: 2,
            ..ma
        };
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let b_half = Mat {
            rows: k / 2,
            ..Mat::rows(&bt, n, k, k).t()
        };
        let b_half = Mat {
            row_stride: 2,
            ..b_half
        };
        let mut gapped = vec![0.0; m * (n + 3)];
        matmul(&mut gapped, n + 3, half, b_half, 0.5, false, 1);
        for (r, c) in (0..m).flat_map(|r| (0..n).map(move |c| (r, c))) {
            let dot: f32 = (0..k / 2)
                .map(|i| a[r * k + 2 * i] * b[2 * i * n + c])
                .sum();
            assert!((gapped[r * (n + 3) + c] - 0.5 * dot).abs() < 1e-5);
        }
    }
}
