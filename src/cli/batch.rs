//! `reelforge batch FILE`: many tasks from one file, several at once, with a summary.

use super::{BatchArgs, Cli};
use std::process::ExitCode;

pub async fn run(_cli: &Cli, args: BatchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("batch {}: not available yet", args.file.display())
}
