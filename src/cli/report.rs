//! `reelforge report`: the timing history as per-stage figures and a chart.

use super::{Cli, ReportArgs};
use std::process::ExitCode;

pub fn run(_cli: &Cli, args: ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("report of the last {} tasks: not available yet", args.last)
}
