//! The encoder's linear layers in 16-bit fixed point: weights rounded once at load to 13-bit
//! integers, activations rounded to 13-bit integers just before each product, both with one
//! scale per block of [`BLOCK`] inputs (per output column for weights, per row for
//! activations), each block's sum taken exactly in 32-bit integers and the blocks added in
//! `f32`.
//!
//! Why: on AVX2 `vpmaddwd` multiplies 16 pairs of 16-bit integers and adds them pairwise in
//! one instruction, twice the multiplies per instruction of an `f32` FMA, at the same rate.
//! On the model's shapes the product runs ~1.5× faster than [`super::packed`]'s `f32` kernel.
//! Scales per block keep BERT's few large activations from coarsening a whole row: a product
//! stays within ~2e-4 (relative, RMS) of the `f32` one. Per-row scales make a text's vectors
//! independent of the batch it came in, and the exact integer sums make the AVX2 and portable
//! builds agree to the bit.

use super::kernels::round_even;
use super::packed::Start;

/// Columns per panel: two AVX registers of eight 32-bit sums.
const PANEL: usize = 16;
/// Rows per kernel call: 12 accumulators, 2 weight registers and a broadcast.
const TILE_ROWS: usize = 6;
/// Panels per group: their weights stay in the L2 cache while every tile of rows passes them.
const GROUP: usize = 8;
/// Inputs per scale, and per exact integer sum.
const BLOCK: usize = 128;
/// Largest magnitude of a rounded weight or activation (13 bits with the sign).
const MAX: i32 = 4095;
// A block's sum, |Σ w·x| ≤ BLOCK · MAX², must fit in an `i32`.
const _: () = assert!(BLOCK as i64 * (MAX as i64) * (MAX as i64) <= i32::MAX as i64);

/// A `[inputs × outputs]` weight matrix as integers in panel order: per panel, for each pair
/// of input rows, 16 columns of two values (what one `vpmaddwd` multiplies). An odd input
/// count and the last panel are padded with zeros.
pub struct FixedWeights {
    data: Vec<i16>,
    /// Per block of inputs, per output column (padded to whole panels): the weight one
    /// integer step stands for.
    scales: Vec<f32>,
    inputs: usize,
    /// `inputs` rounded up to a pair.
    depth: usize,
    outputs: usize,
}

/// Scratch for one band's rounded activations, reused between products.
#[derive(Default)]
pub struct FixedRows {
    values: Vec<i16>,
    /// Per row, per block: the value one integer step stands for.
    scales: Vec<f32>,
}

impl FixedRows {
    /// Room held, in `f32`-sized values.
    pub fn capacity(&self) -> usize {
        self.values.capacity() / 2 + self.scales.capacity()
    }
}

impl FixedWeights {
    /// Rounds `weight`, stored `[inputs × outputs]` row after row.
    pub fn new(weight: &[f32], inputs: usize, outputs: usize) -> FixedWeights {
        assert_eq!(weight.len(), inputs * outputs, "weight shape");
        let depth = inputs.next_multiple_of(2);
        let panels = outputs.div_ceil(PANEL);
        let width = panels * PANEL;
        // Largest magnitude per block of rows and column, the rows read in memory order.
        let mut scales = vec![0f32; inputs.div_ceil(BLOCK) * width];
        for (row, values) in weight.chunks_exact(outputs).enumerate() {
            let maxima = &mut scales[row / BLOCK * width..][..outputs];
            for (max, w) in maxima.iter_mut().zip(values) {
                *max = max.max(w.abs());
            }
        }
        scales.iter_mut().for_each(|max| *max /= MAX as f32);
        let inverses: Vec<f32> = scales
            .iter()
            .map(|&scale| if scale > 0.0 { 1.0 / scale } else { 0.0 })
            .collect();
        let mut data = vec![0i16; panels * depth * PANEL];
        for (row, values) in weight.chunks_exact(outputs).enumerate() {
            let inverses = &inverses[row / BLOCK * width..];
            // Row `row` is the first or second value of its pair in every column.
            let pair = (row / 2) * 2 * PANEL + row % 2;
            for (col, (w, inverse)) in values.iter().zip(inverses).enumerate() {
                let at = col / PANEL * depth * PANEL + pair + 2 * (col % PANEL);
                data[at] = quantize(*w, *inverse);
            }
        }
        FixedWeights {
            data,
            scales,
            inputs,
            depth,
            outputs,
        }
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    fn blocks(&self) -> usize {
        self.inputs.div_ceil(BLOCK)
    }

    /// `out (+)= x · W (+ bias)` for every row of `x` (`inputs` values each, rows contiguous,
    /// as is `out`). Inlined so the caller's AVX2 build applies.
    #[inline(always)]
    pub fn product(
        &self,
        x: &[f32],
        out: &mut [f32],
        start: Start<'_>,
        avx2: bool,
        scratch: &mut FixedRows,
    ) {
        let (k, n) = (self.inputs, self.outputs);
        let rows = start.rows(x, out, k, n);
        let FixedRows { values, scales } = scratch;
        // Both are overwritten below, all but the zero that pads an odd row to a pair.
        values.resize(rows * self.depth, 0);
        scales.resize(rows * self.blocks(), 0.0);
        if self.depth > k {
            values
                .chunks_exact_mut(self.depth)
                .for_each(|row| row[k] = 0);
        }
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the caller saw AVX2 on this CPU; the asserts above and the resizes bound
            // every row and column the kernels touch.
            return unsafe {
                avx2::round_rows(x, k, self.depth, values, scales);
                avx2::product(self, values, scales, out, rows, start)
            };
        }
        let _ = avx2;
        for ((row, ints), scales) in x
            .chunks_exact(k)
            .zip(values.chunks_exact_mut(self.depth))
            .zip(scales.chunks_exact_mut(self.blocks()))
        {
            let blocks = row.chunks(BLOCK).zip(ints.chunks_mut(BLOCK));
            for ((block, ints), scale) in blocks.zip(scales) {
                let max = block.iter().fold(0f32, |m, v| m.max(v.abs()));
                let inverse = block_inverse(max, scale);
                for (int, v) in ints.iter_mut().zip(block) {
                    *int = quantize(*v, inverse);
                }
            }
        }
        self.portable(values, scales, out, rows, start);
    }

    /// The same sums in plain Rust, for CPUs without AVX2.
    fn portable(
        &self,
        values: &[i16],
        row_scales: &[f32],
        out: &mut [f32],
        rows: usize,
        start: Start<'_>,
    ) {
        let (n, blocks) = (self.outputs, self.blocks());
        let width = n.next_multiple_of(PANEL);
        for (panel, weights) in self.data.chunks_exact(self.depth * PANEL).enumerate() {
            let first = panel * PANEL;
            for r in 0..rows {
                let ints = &values[r * self.depth..(r + 1) * self.depth];
                let mut total = [0f32; PANEL];
                let pairs = ints.chunks(BLOCK).zip(weights.chunks(BLOCK * PANEL));
                for (block, (ints, weights)) in pairs.enumerate() {
                    let mut sums = [0i32; PANEL];
                    for (pair, w) in ints.chunks_exact(2).zip(weights.chunks_exact(2 * PANEL)) {
                        let (a0, a1) = (i32::from(pair[0]), i32::from(pair[1]));
                        for (sum, w) in sums.iter_mut().zip(w.chunks_exact(2)) {
                            *sum += a0 * i32::from(w[0]) + a1 * i32::from(w[1]);
                        }
                    }
                    let scales = &self.scales[block * width + first..];
                    let row_scale = row_scales[r * blocks + block];
                    for ((t, sum), scale) in total.iter_mut().zip(sums).zip(scales) {
                        *t += sum as f32 * scale * row_scale;
                    }
                }
                finish(
                    &total,
                    out,
                    r * n + first,
                    PANEL.min(n - first),
                    start,
                    first,
                );
            }
        }
    }
}

/// Writes a tile row's `total` into `out[at..at + cols]` as `start` says.
#[inline(always)]
fn finish(
    total: &[f32; PANEL],
    out: &mut [f32],
    at: usize,
    cols: usize,
    start: Start<'_>,
    first: usize,
) {
    let dst = &mut out[at..at + cols];
    match start {
        Start::Bias(bias) => {
            for ((d, t), b) in dst.iter_mut().zip(total).zip(&bias[first..]) {
                *d = t + b;
            }
        }
        Start::Zero => dst.copy_from_slice(&total[..cols]),
        Start::Accumulate => dst.iter_mut().zip(total).for_each(|(d, t)| *d += t),
    }
}

/// The factor that maps a block whose largest magnitude is `max` onto `±MAX`; stores the
/// value of one step in `scale` (0 for a block of zeros, whose integers are all 0).
#[inline(always)]
fn block_inverse(max: f32, scale: &mut f32) -> f32 {
    if max > 0.0 {
        *scale = max / MAX as f32;
        MAX as f32 / max
    } else {
        *scale = 0.0;
        0.0
    }
}

/// `v · inverse` to the nearest integer, ties to even (as `vcvtps2dq` rounds).
#[inline(always)]
fn quantize(v: f32, inverse: f32) -> i16 {
    round_even(v * inverse) as i16
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{
        BLOCK, FixedWeights, GROUP, PANEL, Start, TILE_ROWS, block_inverse, finish, quantize,
    };
    use std::arch::x86_64::*;

    /// Each row of `x`, block by block, as integers of at most `MAX`, 16 values at a time.
    #[target_feature(enable = "avx2")]
    pub(super) fn round_rows(
        x: &[f32],
        inputs: usize,
        depth: usize,
        values: &mut [i16],
        scales: &mut [f32],
    ) {
        let magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        let rows = x.chunks_exact(inputs).zip(values.chunks_exact_mut(depth));
        let scales = scales.chunks_exact_mut(inputs.div_ceil(BLOCK));
        for ((row, ints), scales) in rows.zip(scales) {
            let blocks = row.chunks(BLOCK).zip(ints.chunks_mut(BLOCK));
            for ((block, ints), scale) in blocks.zip(scales) {
                let chunks = block.chunks_exact(8);
                let tail = chunks.remainder().iter().fold(0f32, |m, v| m.max(v.abs()));
                let mut max = _mm256_setzero_ps();
                for chunk in chunks {
                    // SAFETY: `chunk` holds 8 values.
                    let v = unsafe { _mm256_loadu_ps(chunk.as_ptr()) };
                    max = _mm256_max_ps(max, _mm256_and_ps(v, magnitude));
                }
                let mut lanes = [0f32; 8];
                // SAFETY: `lanes` holds 8 values.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), max) };
                let inverse = block_inverse(lanes.iter().fold(tail, |m, v| m.max(*v)), scale);
                let factor = _mm256_set1_ps(inverse);
                let chunks = block.chunks_exact(16);
                let done = block.len() - chunks.remainder().len();
                for (chunk, out) in chunks.zip(ints.chunks_exact_mut(16)) {
                    // SAFETY: `chunk` holds 16 values and `out` room for 16.
                    unsafe {
                        let lo = _mm256_loadu_ps(chunk.as_ptr());
                        let hi = _mm256_loadu_ps(chunk.as_ptr().add(8));
                        let lo = _mm256_cvtps_epi32(_mm256_mul_ps(lo, factor));
                        let hi = _mm256_cvtps_epi32(_mm256_mul_ps(hi, factor));
                        // `packs` interleaves 128-bit halves; the permute puts them in order.
                        let packed = _mm256_packs_epi32(lo, hi);
                        let ordered = _mm256_permute4x64_epi64::<0b11_01_10_00>(packed);
                        _mm256_storeu_si256(out.as_mut_ptr().cast(), ordered);
                    }
                }
                for (int, v) in ints[done..].iter_mut().zip(&block[done..]) {
                    *int = quantize(*v, inverse);
                }
            }
        }
    }

    /// Groups of panels, then tiles of rows, then the group's panels, as in `packed`.
    #[target_feature(enable = "avx2")]
    pub(super) fn product(
        w: &FixedWeights,
        values: &[i16],
        row_scales: &[f32],
        out: &mut [f32],
        rows: usize,
        start: Start<'_>,
    ) {
        let panels = w.outputs.div_ceil(PANEL);
        for group in (0..panels).step_by(GROUP) {
            for first_row in (0..rows).step_by(TILE_ROWS) {
                for panel in group..(group + GROUP).min(panels) {
                    let tile = Tile {
                        w,
                        values,
                        row_scales,
                        first_row,
                        panel,
                    };
                    // SAFETY: the caller checked `values` holds `rows × depth` integers and
                    // `row_scales` `rows × blocks` values; the panel holds `depth × PANEL`.
                    let totals = unsafe {
                        match (rows - first_row).min(TILE_ROWS) {
                            6 => tile.run::<6>(),
                            5 => tile.run::<5>(),
                            4 => tile.run::<4>(),
                            3 => tile.run::<3>(),
                            2 => tile.run::<2>(),
                            _ => tile.run::<1>(),
                        }
                    };
                    let (n, first) = (w.outputs, panel * PANEL);
                    for (r, total) in totals.iter().enumerate().take(rows - first_row) {
                        let at = (first_row + r) * n + first;
                        finish(total, out, at, PANEL.min(n - first), start, first);
                    }
                }
            }
        }
    }

    /// Up to 6 rows × one panel.
    struct Tile<'a> {
        w: &'a FixedWeights,
        values: &'a [i16],
        row_scales: &'a [f32],
        first_row: usize,
        panel: usize,
    }

    impl Tile<'_> {
        /// The tile's `R` rows of sums, in `[TILE_ROWS]` arrays (the rest left at zero).
        #[inline(always)]
        unsafe fn run<const R: usize>(&self) -> [[f32; PANEL]; TILE_ROWS] {
            let (depth, blocks) = (self.w.depth, self.w.blocks());
            let width = self.w.outputs.next_multiple_of(PANEL);
            let mut totals = [[0f32; PANEL]; TILE_ROWS];
            // SAFETY (all): see `product`; the tile's rows, pairs and columns lie inside.
            unsafe {
                let panel = self.w.data.as_ptr().add(self.panel * depth * PANEL);
                let x = self.values.as_ptr().add(self.first_row * depth);
                // One pointer per row, so each broadcast is a single indexed load.
                let rows: [*const i16; R] = std::array::from_fn(|r| x.add(r * depth));
                for block in 0..blocks {
                    let pairs = block * BLOCK..depth.min((block + 1) * BLOCK);
                    let mut lo = [_mm256_setzero_si256(); R];
                    let mut hi = [_mm256_setzero_si256(); R];
                    let mut w = panel.add(pairs.start * PANEL);
                    for pair in pairs.step_by(2) {
                        let w0 = _mm256_loadu_si256(w.cast());
                        let w1 = _mm256_loadu_si256(w.add(PANEL).cast());
                        for r in 0..R {
                            // Both inputs of the pair in every 32-bit lane.
                            let a = rows[r].add(pair).cast::<i32>().read_unaligned();
                            let a = _mm256_set1_epi32(a);
                            lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(a, w0));
                            hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(a, w1));
                        }
                        w = w.add(2 * PANEL);
                    }
                    let scales = self
                        .w
                        .scales
                        .as_ptr()
                        .add(block * width + self.panel * PANEL);
                    let (s0, s1) = (_mm256_loadu_ps(scales), _mm256_loadu_ps(scales.add(8)));
                    for r in 0..R {
                        let row = self.first_row + r;
                        let row_scale = _mm256_set1_ps(self.row_scales[row * blocks + block]);
                        // (sum · column scale) · row scale, added: the portable order.
                        let add = |total: *mut f32, sums: __m256i, col: __m256| {
                            let v = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), col);
                            let v =
                                _mm256_add_ps(_mm256_loadu_ps(total), _mm256_mul_ps(v, row_scale));
                            _mm256_storeu_ps(total, v);
                        };
                        add(totals[r].as_mut_ptr(), lo[r], s0);
                        add(totals[r].as_mut_ptr().add(8), hi[r], s1);
                    }
                }
            }
            totals
        }
    }
}

#[cfg(test)]
#[path = "fixed_tests.rs"]
mod tests;
