//! The encoder's linear layers as a matrix product on weights packed once at load, with an
//! AVX2+FMA kernel of 6 rows × 16 columns.
//!
//! Why not `gemm`: it repacks the weights on every call (the same 42 MB per batch, ~5 % of
//! the forward pass) and starts each product from zero, so the bias needs a pass of its own.
//! Here the weights are stored in the order the kernel reads them, column panels of
//! [`PANEL`] values, one row of the panel after another, and a product may start from the
//! bias, from zero or from what the output holds (the residual).

/// Columns per panel: two AVX registers.
const PANEL: usize = 16;
/// Rows per kernel call: 12 accumulators, 2 weight registers and a broadcast fill 15 of the
/// 16 AVX registers.
const TILE_ROWS: usize = 6;
/// Depth per pass: one tile's inputs (9 KB) stay in the L1 cache while it passes a group.
const DEPTH: usize = 384;
/// Panels per group: their `DEPTH` rows (192 KB) stay in the L2 cache while every tile of
/// rows passes them.
const GROUP: usize = 8;

/// What the product starts from.
#[derive(Clone, Copy)]
pub enum Start<'a> {
    /// `out = x · W + bias` (one value per output column).
    Bias(&'a [f32]),
    /// `out = x · W`, for a product whose bias is folded into the pass that follows.
    Zero,
    /// `out += x · W`: the residual is already in `out`.
    Accumulate,
}

impl Start<'_> {
    /// The rows of `x` in a product of `[inputs × outputs]` weights into `out`, once the shapes
    /// the kernels rely on are checked (a bias must have one value per output).
    pub fn rows(&self, x: &[f32], out: &[f32], inputs: usize, outputs: usize) -> usize {
        let (k, n) = (inputs, outputs);
        let rows = x.len() / k;
        assert!(
            x.len() == rows * k && out.len() >= rows * n,
            "product shapes: {} inputs for {k}, {} outputs for {rows}×{n}",
            x.len(),
            out.len()
        );
        if let Start::Bias(bias) = self {
            assert_eq!(bias.len(), n, "bias width");
        }
        rows
    }
}

/// A `[inputs × outputs]` weight matrix in panel order; the last panel is padded with zeros.
pub struct Packed {
    data: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Packed {
    /// Packs `weight`, stored `[inputs × outputs]` row after row.
    pub fn new(weight: &[f32], inputs: usize, outputs: usize) -> Packed {
        assert_eq!(weight.len(), inputs * outputs, "weight shape");
        let panels = outputs.div_ceil(PANEL);
        let mut data = vec![0f32; panels * inputs * PANEL];
        for (panel, chunk) in data.chunks_exact_mut(inputs * PANEL).enumerate() {
            let first = panel * PANEL;
            let width = PANEL.min(outputs - first);
            for (row, packed) in chunk.chunks_exact_mut(PANEL).enumerate() {
                let start = row * outputs + first;
                packed[..width].copy_from_slice(&weight[start..start + width]);
            }
        }
        Packed {
            data,
            inputs,
            outputs,
        }
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// `out (+)= x · W (+ bias)` for every row of `x` (`inputs` values each, rows contiguous,
    /// as is `out`). Inlined so the caller's AVX2+FMA build applies.
    #[inline(always)]
    pub fn product(&self, x: &[f32], out: &mut [f32], start: Start<'_>, avx2_fma: bool) {
        let rows = start.rows(x, out, self.inputs, self.outputs);
        #[cfg(target_arch = "x86_64")]
        if avx2_fma {
            // SAFETY: the caller saw both features on this CPU; the asserts above bound every
            // row and column the kernel touches.
            return unsafe { avx2::product(self, x, out, rows, start) };
        }
        let _ = avx2_fma;
        self.portable(x, out, rows, start);
    }

    /// The same sums in plain Rust, for CPUs without AVX2 and FMA.
    fn portable(&self, x: &[f32], out: &mut [f32], rows: usize, start: Start<'_>) {
        let (k, n) = (self.inputs, self.outputs);
        for (panel, weights) in self.data.chunks_exact(k * PANEL).enumerate() {
            let first = panel * PANEL;
            let width = PANEL.min(n - first);
            for r in 0..rows {
                let mut acc = [0f32; PANEL];
                for (a, w) in x[r * k..(r + 1) * k]
                    .iter()
                    .zip(weights.chunks_exact(PANEL))
                {
                    acc.iter_mut().zip(w).for_each(|(s, w)| *s += a * w);
                }
                let dst = &mut out[r * n + first..r * n + first + width];
                match start {
                    Start::Bias(bias) => dst
                        .iter_mut()
                        .zip(acc.iter().zip(&bias[first..]))
                        .for_each(|(d, (s, b))| *d = s + b),
                    Start::Zero => dst.copy_from_slice(&acc[..width]),
                    Start::Accumulate => dst.iter_mut().zip(acc).for_each(|(d, s)| *d += s),
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{DEPTH, GROUP, PANEL, Packed, Start, TILE_ROWS};
    use std::arch::x86_64::*;

    /// Groups of panels, then tiles of rows, then the group's panels: each weight is read
    /// from memory once per pass, each tile's inputs from L2 once per group.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product(
        w: &Packed,
        x: &[f32],
        out: &mut [f32],
        rows: usize,
        start: Start<'_>,
    ) {
        let (k, n) = (w.inputs, w.outputs);
        let (x, out) = (x.as_ptr(), out.as_mut_ptr());
        let panels = n.div_ceil(PANEL);
        for depth in (0..k).step_by(DEPTH) {
            let len = DEPTH.min(k - depth);
            // Only the first pass starts from the bias; later ones add to what it wrote.
            let start = if depth == 0 { start } else { Start::Accumulate };
            for group in (0..panels).step_by(GROUP) {
                for r in (0..rows).step_by(TILE_ROWS) {
                    for panel in group..(group + GROUP).min(panels) {
                        let first = panel * PANEL;
                        // SAFETY (all): the caller checked `x` holds `rows × k` values and
                        // `out` `rows × n`; the panel holds `k × PANEL`.
                        let tile = Tile {
                            x: unsafe { x.add(r * k + depth) },
                            stride: k,
                            w: unsafe { w.data.as_ptr().add(panel * k * PANEL + depth * PANEL) },
                            len,
                            out: unsafe { out.add(r * n + first) },
                            out_stride: n,
                            cols: PANEL.min(n - first),
                            base: match start {
                                Start::Bias(bias) => {
                                    Base::Bias(unsafe { bias.as_ptr().add(first) })
                                }
                                Start::Zero => Base::Zero,
                                Start::Accumulate => Base::Out,
                            },
                        };
                        // SAFETY: as above, for the tile's rows and columns.
                        unsafe {
                            match (rows - r).min(TILE_ROWS) {
                                6 => tile.run::<6>(),
                                5 => tile.run::<5>(),
                                4 => tile.run::<4>(),
                                3 => tile.run::<3>(),
                                2 => tile.run::<2>(),
                                _ => tile.run::<1>(),
                            }
                        }
                    }
                }
            }
        }
    }

    /// Up to 6 rows × one panel, over `len` of the inputs.
    struct Tile {
        x: *const f32,
        stride: usize,
        w: *const f32,
        len: usize,
        out: *mut f32,
        out_stride: usize,
        /// Output columns of the panel that exist (the rest is padding).
        cols: usize,
        base: Base,
    }

    /// What the tile's sums are added to.
    #[derive(Clone, Copy)]
    enum Base {
        Bias(*const f32),
        Zero,
        Out,
    }

    impl Tile {
        #[inline(always)]
        unsafe fn run<const R: usize>(&self) {
            unsafe {
                let mut lo = [_mm256_setzero_ps(); R];
                let mut hi = [_mm256_setzero_ps(); R];
                let mut w = self.w;
                for p in 0..self.len {
                    let (w0, w1) = (_mm256_loadu_ps(w), _mm256_loadu_ps(w.add(8)));
                    for r in 0..R {
                        let a = _mm256_broadcast_ss(&*self.x.add(r * self.stride + p));
                        lo[r] = _mm256_fmadd_ps(a, w0, lo[r]);
                        hi[r] = _mm256_fmadd_ps(a, w1, hi[r]);
                    }
                    w = w.add(PANEL);
                }
                for r in 0..R {
                    let dst = self.out.add(r * self.out_stride);
                    let base = match self.base {
                        Base::Bias(bias) => Some(bias),
                        Base::Zero => None,
                        Base::Out => Some(dst.cast_const()),
                    };
                    if self.cols == PANEL {
                        let (mut lo, mut hi) = (lo[r], hi[r]);
                        if let Some(base) = base {
                            lo = _mm256_add_ps(lo, _mm256_loadu_ps(base));
                            hi = _mm256_add_ps(hi, _mm256_loadu_ps(base.add(8)));
                        }
                        _mm256_storeu_ps(dst, lo);
                        _mm256_storeu_ps(dst.add(8), hi);
                    } else {
                        // The padding columns of the last panel have no place in `out`.
                        let mut sums = [0f32; PANEL];
                        _mm256_storeu_ps(sums.as_mut_ptr(), lo[r]);
                        _mm256_storeu_ps(sums.as_mut_ptr().add(8), hi[r]);
                        for (c, sum) in sums.iter().enumerate().take(self.cols) {
                            *dst.add(c) = sum + base.map_or(0.0, |b| *b.add(c));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `start + x · W` written the obvious way, in f64.
    fn naive(x: &[f32], w: &[f32], k: usize, n: usize, start: &[f32]) -> Vec<f32> {
        let rows = x.len() / k;
        (0..rows * n)
            .map(|i| {
                let (r, c) = (i / n, i % n);
                let dot: f64 = (0..k)
                    .map(|p| x[r * k + p] as f64 * w[p * n + c] as f64)
                    .sum();
                (dot + start[i] as f64) as f32
            })
            .collect()
    }

    #[test]
    fn product_matches_the_straightforward_sums() {
        let avx2_fma = crate::providers::embed::kernels::avx2_fma();
        // Rows not a multiple of a tile, outputs not of a panel, inputs over one depth pass.
        for (rows, k, n) in [(13, 400, 37), (1, 8, 16), (20, 384, 160), (7, 900, 50)] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 7919 % 2003) as f32 / 2003.0 - 0.5) * 2.0)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 104_729 % 1009) as f32 / 1009.0 - 0.5) * 0.2)
                .collect();
            let bias: Vec<f32> = (0..n).map(|c| c as f32 / 10.0 - 1.0).collect();
            let residual: Vec<f32> = (0..rows * n).map(|i| (i % 17) as f32 - 8.0).collect();
            let packed = Packed::new(&w, k, n);
            let biases: Vec<f32> = (0..rows * n).map(|i| bias[i % n]).collect();
            let cases = [
                (Start::Bias(&bias), vec![f32::NAN; rows * n], biases),
                (Start::Zero, vec![f32::NAN; rows * n], vec![0.0; rows * n]),
                (Start::Accumulate, residual.clone(), residual.clone()),
            ];
            for (start, initial, base) in cases {
                let want = naive(&x, &w, k, n, &base);
                for fast in [false, avx2_fma] {
                    let mut got = initial.clone();
                    packed.product(&x, &mut got, start, fast);
                    let worst = got
                        .iter()
                        .zip(&want)
                        .map(|(g, w)| (g - w).abs())
                        .fold(0.0, f32::max);
                    assert!(worst < 1e-4, "{rows}×{k}×{n}, avx2 {fast}: off by {worst}");
                }
            }
        }
    }
}
