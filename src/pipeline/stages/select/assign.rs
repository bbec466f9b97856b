//! The global choice of clips for the pieces of a timeline: every piece (a sentence's span,
//! or part of a long one) against every clip, solved over the whole timeline at once with
//! the Hungarian method instead of greedily sentence by sentence. A clip can serve several
//! pieces only through extra "copies" that carry a reuse penalty larger than any relevance
//! difference, so no clip repeats while an unused one is available.

/// What the solver needs to know of a piece of the timeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Piece {
    pub sentence: usize,
    /// Seconds of footage the piece shows (at the configured speed).
    pub seconds: f64,
}

/// What the solver needs to know of a clip.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// `None`: any length (stills, generated backgrounds).
    pub duration: Option<f64>,
    /// Found by a search for this sentence.
    pub sentence: Option<usize>,
    /// Uses by the task's earlier videos.
    pub earlier_uses: u32,
}

/// Costs in relevance units (cosine similarity, −1…1).
const REUSE_PENALTY: f64 = 2.0;
const EARLIER_VIDEO_PENALTY: f64 = 0.3;
const TOO_SHORT_PENALTY: f64 = 0.15;
const OWN_SENTENCE_BONUS: f64 = 0.03;

/// Score of showing `clip` during `piece` whose sentence has relevance `relevance`.
pub fn score(piece: &Piece, clip: &Candidate, relevance: f32) -> f64 {
    let mut s = f64::from(relevance);
    if clip.sentence == Some(piece.sentence) {
        s += OWN_SENTENCE_BONUS;
    }
    if let Some(d) = clip.duration
        && d < piece.seconds
    {
        s -= TOO_SHORT_PENALTY * (1.0 - d / piece.seconds.max(1e-9));
    }
    s - EARLIER_VIDEO_PENALTY * f64::from(clip.earlier_uses)
}

/// For each piece, the clip shown (an index into `clips`), maximising the summed score.
/// `relevance[sentence][clip]` is the similarity of a sentence and a clip.
pub fn assign(pieces: &[Piece], clips: &[Candidate], relevance: &[Vec<f32>]) -> Vec<usize> {
    let rows: Vec<&[f32]> = pieces
        .iter()
        .map(|p| relevance.get(p.sentence).map_or(&[][..], Vec::as_slice))
        .collect();
    assign_rows(pieces, clips, &rows)
}

/// Like [`assign`], with each piece scored on its own relevance row (`rows[piece][clip]`):
/// the pieces of a long sentence each on the words they cover.
pub fn assign_rows(pieces: &[Piece], clips: &[Candidate], rows: &[&[f32]]) -> Vec<usize> {
    if pieces.is_empty() || clips.is_empty() {
        return Vec::new();
    }
    // Enough copies of every clip that each piece can have one.
    let copies = pieces.len().div_ceil(clips.len());
    let slots: Vec<(usize, usize)> = (0..copies)
        .flat_map(|copy| (0..clips.len()).map(move |clip| (clip, copy)))
        .collect();
    let cost: Vec<Vec<f64>> = pieces
        .iter()
        .enumerate()
        .map(|(p, piece)| {
            let row = rows.get(p).copied().unwrap_or(&[]);
            slots
                .iter()
                .map(|&(clip, copy)| {
                    let r = row.get(clip).copied().unwrap_or(0.0);
                    -(score(piece, &clips[clip], r) - REUSE_PENALTY * copy as f64)
                })
                .collect()
        })
        .collect();
    hungarian(&cost)
        .into_iter()
        .map(|slot| slots[slot].0)
        .collect()
}

/// Minimum-cost assignment of each row to a distinct column (rows ≤ columns), by the
/// Hungarian method with potentials: O(rows² × columns).
pub fn hungarian(cost: &[Vec<f64>]) -> Vec<usize> {
    let n = cost.len();
    let m = cost.first().map_or(0, Vec::len);
    assert!(n <= m, "the solver needs at least as many slots as pieces");
    // 1-based arrays, column 0 is the virtual start.
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; m + 1]);
    let mut owner = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for row in 1..=n {
        owner[0] = row;
        let mut col0 = 0;
        let mut min_to = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[col0] = true;
            let r = owner[col0];
            let (mut delta, mut next) = (f64::INFINITY, 0);
            for col in 1..=m {
                if used[col] {
                    continue;
                }
                let reduced = cost[r - 1][col - 1] - u[r] - v[col];
                if reduced < min_to[col] {
                    min_to[col] = reduced;
                    way[col] = col0;
                }
                if min_to[col] < delta {
                    delta = min_to[col];
                    next = col;
                }
            }
            for col in 0..=m {
                if used[col] {
                    u[owner[col]] += delta;
                    v[col] -= delta;
                } else {
                    min_to[col] -= delta;
                }
            }
            col0 = next;
            if owner[col0] == 0 {
                break;
            }
        }
        while col0 != 0 {
            let prev = way[col0];
            owner[col0] = owner[prev];
            col0 = prev;
        }
    }
    let mut result = vec![0; n];
    for col in 1..=m {
        if owner[col] != 0 {
            result[owner[col] - 1] = col - 1;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(cost: &[Vec<f64>]) -> f64 {
        fn go(cost: &[Vec<f64>], row: usize, used: &mut Vec<bool>) -> f64 {
            if row == cost.len() {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for col in 0..cost[row].len() {
                if !used[col] {
                    used[col] = true;
                    best = best.min(cost[row][col] + go(cost, row + 1, used));
                    used[col] = false;
                }
            }
            best
        }
        go(cost, 0, &mut vec![false; cost[0].len()])
    }

    #[test]
    fn hungarian_finds_the_optimum_of_random_matrices() {
        let mut rng = fastrand::Rng::with_seed(11);
        for (n, m) in [(1, 1), (3, 3), (4, 6), (5, 7), (6, 6)] {
            for _ in 0..20 {
                let cost: Vec<Vec<f64>> = (0..n)
                    .map(|_| (0..m).map(|_| rng.f64() * 10.0 - 5.0).collect())
                    .collect();
                let cols = hungarian(&cost);
                let mut distinct = cols.clone();
                distinct.sort_unstable();
                distinct.dedup();
                assert_eq!(distinct.len(), n, "columns are distinct");
                let total: f64 = cols.iter().enumerate().map(|(r, &c)| cost[r][c]).sum();
                assert!((total - brute_force(&cost)).abs() < 1e-9, "{n}x{m}");
            }
        }
    }

    #[test]
    fn the_global_choice_beats_the_greedy_one() {
        // Greedy gives clip 0 to sentence 0 (0.9 vs 0.8) and leaves sentence 1 with 0.1;
        // the whole timeline scores more with 0 → clip 1, 1 → clip 0.
        let relevance = vec![vec![0.9, 0.8], vec![0.85, 0.1]];
        let pieces = [
            Piece {
                sentence: 0,
                seconds: 3.0,
            },
            Piece {
                sentence: 1,
                seconds: 3.0,
            },
        ];
        let clip = Candidate {
            duration: Some(10.0),
            sentence: None,
            earlier_uses: 0,
        };
        assert_eq!(assign(&pieces, &[clip, clip], &relevance), vec![1, 0]);
    }

    #[test]
    fn no_repeat_while_an_unused_clip_is_left_and_short_clips_lose() {
        let relevance = vec![vec![0.9, 0.2, 0.3]];
        let piece = Piece {
            sentence: 0,
            seconds: 4.0,
        };
        let long = Candidate {
            duration: Some(10.0),
            sentence: None,
            earlier_uses: 0,
        };
        // Three pieces of one sentence: the best clip once, then the others.
        let mut got = assign(&[piece; 3], &[long; 3], &relevance);
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2]);
        // Four pieces, three clips: exactly one repeat.
        let got = assign(&[piece; 4], &[long; 3], &relevance);
        assert_eq!(got.iter().filter(|&&c| c == 0).count(), 2, "{got:?}");
        // Equal relevance: the clip long enough for the piece wins.
        let short = Candidate {
            duration: Some(1.0),
            ..long
        };
        assert_eq!(assign(&[piece], &[short, long], &[vec![0.5, 0.5]]), vec![1]);
    }

    #[test]
    fn each_piece_can_have_its_own_row() {
        // Two pieces of one sentence: by the sentence's row both want clip 0; by their own
        // rows the second wants clip 1.
        let piece = Piece {
            sentence: 0,
            seconds: 3.0,
        };
        let clip = Candidate {
            duration: Some(10.0),
            sentence: None,
            earlier_uses: 0,
        };
        let rows: [&[f32]; 2] = [&[0.9, 0.1], &[0.2, 0.8]];
        assert_eq!(assign_rows(&[piece; 2], &[clip; 2], &rows), vec![0, 1]);
        assert_eq!(
            assign(&[piece; 2], &[clip; 2], &[vec![0.9, 0.1]]).len(),
            2,
            "the sentence's row serves every piece"
        );
    }
}
