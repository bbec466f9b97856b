//! The fixed-point product against exact sums, within the rounding it promises; both builds
//! to the bit; each row independent of the others.
use super::*;

fn inputs(rows: usize, k: usize) -> Vec<f32> {
    (0..rows * k)
        .map(|i| ((i * 7919 % 2003) as f32 / 2003.0 - 0.5) * 6.0)
        .collect()
}

fn weights(k: usize, n: usize) -> Vec<f32> {
    (0..k * n)
        .map(|i| ((i * 104_729 % 1009) as f32 / 1009.0 - 0.5) * 0.2)
        .collect()
}

fn run(w: &FixedWeights, x: &[f32], initial: &[f32], start: Start<'_>, avx2: bool) -> Vec<f32> {
    let mut out = initial.to_vec();
    w.product(x, &mut out, start, avx2, &mut FixedRows::default());
    out
}

#[test]
fn each_sum_is_within_the_rounding_of_its_weights_and_inputs() {
    let avx2 = crate::providers::embed::kernels::avx2_fma();
    // Rows not a multiple of a tile, an odd depth, outputs not a multiple of a panel, the
    // MiniLM shapes; one row of zeros.
    for (rows, k, n) in [(13, 401, 37), (1, 8, 16), (20, 384, 160), (7, 1536, 50)] {
        let mut x = inputs(rows, k);
        if rows > 1 {
            x[k..2 * k].fill(0.0);
        }
        let w = weights(k, n);
        let bias: Vec<f32> = (0..n).map(|c| c as f32 / 10.0 - 1.0).collect();
        let fixed = FixedWeights::new(&w, k, n);
        let got = run(
            &fixed,
            &x,
            &vec![f32::NAN; rows * n],
            Start::Bias(&bias),
            avx2,
        );
        // The value of one integer step of each block of inputs (of a row) or weights (of a
        // column), as the product chooses them.
        let step = |values: &mut dyn Iterator<Item = f32>| {
            values.fold(0f32, |m, v| m.max(v.abs())) as f64 / MAX as f64
        };
        let (mut error, mut size) = (0f64, 0f64);
        for (i, got) in got.iter().enumerate() {
            let (r, c) = (i / n, i % n);
            let row = &x[r * k..(r + 1) * k];
            let (mut exact, mut bound) = (bias[c] as f64, 1e-6);
            for (p, a) in row.iter().enumerate() {
                let block = p / BLOCK * BLOCK..k.min((p / BLOCK + 1) * BLOCK);
                let row_step = step(&mut row[block.clone()].iter().copied());
                let col_step = step(&mut block.map(|q| w[q * n + c]));
                let (a, b) = (*a as f64, w[p * n + c] as f64);
                exact += a * b;
                // Each factor is off by at most half a step; f32 adds the blocks.
                bound += (a.abs() * col_step + b.abs() * row_step + row_step * col_step / 2.0)
                    / 2.0
                    + (a * b).abs() * 1e-6;
            }
            let off = (*got as f64 - exact).abs();
            assert!(
                off <= bound,
                "{rows}×{k}×{n} [{r},{c}]: off by {off}, bound {bound}"
            );
            error += (*got as f64 - exact).powi(2);
            size += (exact - bias[c] as f64).powi(2);
            if r == 1 && rows > 1 {
                assert_eq!(*got, bias[c], "a row of zeros gives the bias");
            }
        }
        let relative = (error / size).sqrt();
        assert!(
            relative < 2e-3,
            "{rows}×{k}×{n}: relative RMS error {relative}"
        );
    }
}

#[test]
fn both_builds_agree_to_the_bit_and_rows_do_not_see_each_other() {
    let avx2 = crate::providers::embed::kernels::avx2_fma();
    let (rows, k, n) = (17, 384, 70);
    let (x, w) = (inputs(rows, k), weights(k, n));
    let fixed = FixedWeights::new(&w, k, n);
    let bias: Vec<f32> = (0..n).map(|c| c as f32 / 7.0).collect();
    let residual: Vec<f32> = (0..rows * n).map(|i| (i % 17) as f32 - 8.0).collect();
    let cases = [
        (Start::Bias(&bias), vec![f32::NAN; rows * n]),
        (Start::Zero, vec![f32::NAN; rows * n]),
        (Start::Accumulate, residual.clone()),
    ];
    for (start, initial) in cases {
        let portable = run(&fixed, &x, &initial, start, false);
        let fast = run(&fixed, &x, &initial, start, avx2);
        assert_eq!(portable, fast, "AVX2 ({avx2}) and portable builds differ");
        for r in [0, 5, 16] {
            let alone = run(
                &fixed,
                &x[r * k..(r + 1) * k],
                &initial[r * n..(r + 1) * n],
                start,
                avx2,
            );
            assert_eq!(alone, fast[r * n..(r + 1) * n], "row {r} alone differs");
        }
    }
    // What the starts mean: the residual is added, the bias is added, zero adds nothing.
    let zero = run(&fixed, &x, &vec![0.0; rows * n], Start::Zero, avx2);
    let summed = run(&fixed, &x, &residual, Start::Accumulate, avx2);
    let biased = run(&fixed, &x, &vec![0.0; rows * n], Start::Bias(&bias), avx2);
    for i in 0..rows * n {
        assert_eq!(summed[i], zero[i] + residual[i]);
        assert_eq!(biased[i], zero[i] + bias[i % n]);
    }
}

#[test]
fn the_deepest_sums_cannot_overflow() {
    // Every input and weight at its extreme, all the same sign: the largest sum possible.
    for k in [384, 1536, 4097] {
        let (x, w) = (vec![-3.5f32; 2 * k], vec![-0.25f32; k * 16]);
        // Every block at full scale: sums of BLOCK · MAX² each.
        let fixed = FixedWeights::new(&w, k, 16);
        let avx2 = crate::providers::embed::kernels::avx2_fma();
        let got = run(&fixed, &x, &[0.0; 32], Start::Zero, avx2);
        let exact = 3.5 * 0.25 * k as f32;
        for v in got {
            assert!(
                (v - exact).abs() <= exact * 1e-5,
                "depth {k}: {v} for {exact}"
            );
        }
    }
}
