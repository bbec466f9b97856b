//! Where the encoder cuts a batch between threads.
use super::text_bands;
use std::ops::Range;

/// Consecutive texts of these lengths, as the encoder numbers their rows.
fn spans(lengths: &[usize]) -> Vec<Range<usize>> {
    let mut start = 0;
    lengths
        .iter()
        .map(|len| {
            start += len;
            start - len..start
        })
        .collect()
}

#[test]
fn whole_texts_are_cut_at_the_text_end_nearest_an_even_split() {
    let texts = spans(&[28; 32]);
    assert_eq!(text_bands(&texts, 896, 2), Some(vec![0..448, 448..896]));
    // 10 texts of 30 and one of 20: the end nearest 160 is 150, a band of 170 = 6 % over.
    let texts = spans(&[30, 30, 30, 30, 30, 20, 30, 30, 30, 30, 30]);
    assert_eq!(text_bands(&texts, 320, 2), Some(vec![0..150, 150..320]));
    let texts = spans(&[10; 9]);
    assert_eq!(text_bands(&texts, 90, 3), Some(vec![0..30, 30..60, 60..90]));
}

#[test]
fn uneven_or_single_texts_keep_row_bands() {
    // One text cannot be split between threads without a hand-over per layer.
    assert_eq!(text_bands(&spans(&[40]), 40, 2), None);
    // The best cut leaves one thread 50 % more work than an even share.
    assert_eq!(text_bands(&spans(&[60, 20, 20]), 100, 2), None);
    // One thread needs no cut.
    assert_eq!(text_bands(&spans(&[28; 4]), 112, 1), None);
}
