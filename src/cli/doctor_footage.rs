//! Doctor checks of footage sources: the local folders and the stock vendors' keys.

use super::{Check, sh_quote};
use crate::config::Config;

pub(super) fn footage_checks(cfg: &Config) -> Vec<Check> {
    let mut checks = local_checks(cfg);
    checks.extend(stock_checks(cfg));
    checks
}

/// Whether each stock vendor in `[footage] sources` has a key (only whether: never the key).
fn stock_checks(cfg: &Config) -> Vec<Check> {
    let footage = &cfg.footage;
    [("pexels", &footage.pexels), ("pixabay", &footage.pixabay)]
        .into_iter()
        .filter(|(name, _)| footage.sources.iter().any(|s| s == name))
        .map(|(name, stock)| {
            let label = format!("{name} API key");
            let count = stock.keys().len();
            let check = match count {
                0 => Check::fail(
                    &label,
                    "not set: this source is skipped",
                    format!(
                        "export {}=<your key>  (several: comma-separated)",
                        stock.api_key_env
                    ),
                ),
                1 => Check::pass(&label, "1 key set"),
                n => Check::pass(&label, format!("{n} keys set, used in turn")),
            };
            check.advisory()
        })
        .collect()
}

fn local_checks(cfg: &Config) -> Vec<Check> {
    let name = "local footage";
    if !cfg.footage.sources.iter().any(|s| s == "local") {
        return vec![
            Check::pass(name, "not used (\"local\" is not in [footage] sources)").advisory(),
        ];
    }
    if cfg.footage.local_dirs.is_empty() {
        return vec![Check::pass(name, "no folders set: generated footage is used").advisory()];
    }
    cfg.footage
        .local_dirs
        .iter()
        .map(|dir| {
            let shown = dir.display().to_string();
            let quoted = sh_quote(&shown);
            match std::fs::read_dir(dir) {
                Ok(entries) => Check::pass(
                    name,
                    format!("{shown}: {} entries", entries.count()),
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Check::fail(
                    name,
                    format!("{shown} does not exist"),
                    format!("mkdir -p {quoted}  (and put clips in it), or remove it from [footage] local_dirs"),
                ),
                Err(e) => Check::fail(
                    name,
                    format!("{shown} cannot be read: {e}"),
                    format!("chmod u+rx {quoted}"),
                ),
            }
        })
        .collect()
}
