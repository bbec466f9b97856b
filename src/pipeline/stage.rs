//! The seven stages of a task and the graph that orders them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Script,
    Terms,
    Voice,
    Subtitles,
    Footage,
    Select,
    Render,
}

impl Stage {
    /// Every stage in a topological order of the graph.
    pub const ALL: [Stage; 7] = [
        Stage::Script,
        Stage::Terms,
        Stage::Voice,
        Stage::Subtitles,
        Stage::Footage,
        Stage::Select,
        Stage::Render,
    ];

    /// The stages whose outputs this stage reads.
    pub fn deps(self) -> &'static [Stage] {
        match self {
            Stage::Script => &[],
            Stage::Terms => &[Stage::Script],
            Stage::Voice => &[Stage::Script],
            Stage::Subtitles => &[Stage::Voice],
            Stage::Footage => &[Stage::Terms],
            Stage::Select => &[Stage::Footage, Stage::Subtitles],
            Stage::Render => &[Stage::Select],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Stage::Script => "script",
            Stage::Terms => "terms",
            Stage::Voice => "voice",
            Stage::Subtitles => "subtitles",
            Stage::Footage => "footage",
            Stage::Select => "select",
            Stage::Render => "render",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// `self` and every stage that (transitively) depends on it.
    pub fn with_downstream(self) -> Vec<Stage> {
        let mut out = vec![self];
        for stage in Stage::ALL {
            if !out.contains(&stage) && stage.deps().iter().any(|d| out.contains(d)) {
                out.push(stage);
            }
        }
        out
    }

    /// `self` and every stage it (transitively) needs.
    pub fn with_upstream(self) -> Vec<Stage> {
        let mut out = vec![self];
        let mut i = 0;
        while i < out.len() {
            for dep in out[i].deps() {
                if !out.contains(dep) {
                    out.push(*dep);
                }
            }
            i += 1;
        }
        out.sort();
        out
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<_> = Stage::ALL.iter().map(|s| s.name()).collect();
                format!("unknown stage '{s}': expected one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_topologically_ordered() {
        for (i, stage) in Stage::ALL.iter().enumerate() {
            for dep in stage.deps() {
                assert!(dep.index() < i, "{dep} must come before {stage}");
            }
        }
    }

    #[test]
    fn downstream_of_footage_is_select_and_render() {
        assert_eq!(
            Stage::Footage.with_downstream(),
            vec![Stage::Footage, Stage::Select, Stage::Render]
        );
        assert_eq!(Stage::Script.with_downstream().len(), 7);
    }

    #[test]
    fn upstream_of_subtitles() {
        assert_eq!(
            Stage::Subtitles.with_upstream(),
            vec![Stage::Script, Stage::Voice, Stage::Subtitles]
        );
    }

    #[test]
    fn parse_names_the_choices() {
        assert_eq!("Render".parse::<Stage>().unwrap(), Stage::Render);
        let err = "rendr".parse::<Stage>().unwrap_err();
        assert!(err.contains("rendr") && err.contains("render"));
    }
}
