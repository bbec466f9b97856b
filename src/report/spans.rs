//! Where a task's time went, from its stage intervals alone: which stages overlapped, the
//! critical path through the stage graph, and its longest stage (the bottleneck).
//!
//! The dashboard (live intervals of one task) and `reelforge report` (recorded intervals
//! of many) both call these, so the two always agree on what "critical" means.

use crate::pipeline::Stage;

/// One stage's interval, ms since the epoch. A caller passes at most one span per stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub stage: Stage,
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The bottleneck: the longest stage on the critical path and its share of the task's
/// wall time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bottleneck {
    pub stage: Stage,
    pub ms: u64,
    pub share: f64,
}

/// Pairs of stages that ran at the same time, with how long they overlapped (ms), in the
/// order of `spans`.
pub fn overlaps(spans: &[Span]) -> Vec<(Stage, Stage, u64)> {
    let mut out = Vec::new();
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            let shared = a.end.min(b.end).saturating_sub(a.start.max(b.start));
            if shared > 0 {
                out.push((a.stage, b.stage, shared));
            }
        }
    }
    out
}

/// The chain of stages that decided when the task ended, first to last: from the stage
/// that ended last, back through the input that became ready last (its "gate").
///
/// With real intervals this is the longest dependency chain measured in elapsed time: a
/// stage cannot start before its last input ends, so any other chain ends earlier. A
/// dependency with no span (skipped, or never run) is looked through to its own inputs, so
/// skipping `terms` does not cut the chain at `footage`.
pub fn critical_path(spans: &[Span]) -> Vec<Stage> {
    let Some(mut at) = spans.iter().max_by_key(|s| (s.end, s.stage.index())) else {
        return Vec::new();
    };
    let mut path = vec![at.stage];
    while let Some(gate) = recorded_inputs(at.stage, spans)
        .into_iter()
        .max_by_key(|s| (s.end, s.stage.index()))
    {
        path.push(gate.stage);
        at = gate;
    }
    path.reverse();
    path
}

/// The spans of `stage`'s inputs, looking through inputs that have none.
fn recorded_inputs(stage: Stage, spans: &[Span]) -> Vec<&Span> {
    let mut out = Vec::new();
    for &dep in stage.deps() {
        match spans.iter().find(|s| s.stage == dep) {
            Some(span) => out.push(span),
            // The graph is acyclic (deps always come earlier in Stage::ALL), so this ends.
            None => out.extend(recorded_inputs(dep, spans)),
        }
    }
    out
}

/// The spans on the critical path, first to last.
pub fn critical_spans(spans: &[Span]) -> Vec<Span> {
    critical_path(spans)
        .into_iter()
        .filter_map(|stage| spans.iter().find(|s| s.stage == stage).copied())
        .collect()
}

/// The longest stage on the critical path, with its share of the task's wall time (first
/// start to last end). Ties go to the earlier stage.
pub fn bottleneck(spans: &[Span]) -> Option<Bottleneck> {
    let first = spans.iter().map(|s| s.start).min()?;
    let last = spans.iter().map(|s| s.end).max()?;
    let total = last.saturating_sub(first);
    let longest = critical_spans(spans)
        .into_iter()
        .max_by_key(|s| (s.len(), std::cmp::Reverse(s.stage.index())))?;
    (total > 0).then(|| Bottleneck {
        stage: longest.stage,
        ms: longest.len(),
        share: longest.len() as f64 / total as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(stage: Stage, start: u64, end: u64) -> Span {
        Span { stage, start, end }
    }

    /// The critical path as "script voice …", short to compare.
    fn path(spans: &[Span]) -> String {
        let names: Vec<&str> = critical_path(spans).iter().map(|s| s.name()).collect();
        names.join(" ")
    }

    /// script → (terms → footage ‖ voice → subtitles) → select → render, where the voice
    /// branch is the slow one.
    fn diamond() -> Vec<Span> {
        vec![
            span(Stage::Script, 0, 1_000),
            span(Stage::Terms, 1_000, 1_500),
            span(Stage::Voice, 1_000, 5_000),
            span(Stage::Subtitles, 5_000, 5_500),
            span(Stage::Footage, 1_500, 4_000),
            span(Stage::Select, 5_500, 6_000),
            span(Stage::Render, 6_000, 9_000),
        ]
    }

    #[test]
    fn critical_path_follows_the_slow_branch_of_the_diamond() {
        assert_eq!(path(&diamond()), "script voice subtitles select render");
        let total: u64 = critical_spans(&diamond()).iter().map(Span::len).sum();
        assert_eq!(total, 1_000 + 4_000 + 500 + 500 + 3_000);
    }

    #[test]
    fn the_fast_branch_becomes_critical_when_it_ends_last() {
        let mut spans = diamond();
        spans[4] = span(Stage::Footage, 1_500, 5_800);
        spans[5] = span(Stage::Select, 5_800, 6_000);
        assert_eq!(path(&spans), "script terms footage select render");
    }

    #[test]
    fn a_skipped_input_is_looked_through() {
        // No terms span (local footage): footage's chain goes on to script.
        let spans: Vec<Span> = diamond()
            .into_iter()
            .filter(|s| s.stage != Stage::Terms)
            .map(|s| match s.stage {
                Stage::Footage => span(Stage::Footage, 1_000, 5_800),
                Stage::Select => span(Stage::Select, 5_800, 6_000),
                _ => s,
            })
            .collect();
        assert_eq!(path(&spans), "script footage select render");
    }

    #[test]
    fn bottleneck_is_the_longest_critical_stage() {
        let b = bottleneck(&diamond()).expect("a bottleneck");
        assert_eq!((b.stage, b.ms), (Stage::Voice, 4_000));
        assert!((b.share - 4.0 / 9.0).abs() < 1e-12);
        assert_eq!(bottleneck(&[]), None);
        assert_eq!(bottleneck(&[span(Stage::Script, 5, 5)]), None);
    }

    #[test]
    fn overlaps_pair_the_parallel_stages() {
        assert_eq!(
            overlaps(&diamond()),
            vec![
                (Stage::Terms, Stage::Voice, 500),
                (Stage::Voice, Stage::Footage, 2_500),
            ]
        );
        assert!(critical_path(&[]).is_empty());
    }
}
