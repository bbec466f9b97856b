//! `reelforge doctor`: what the settings need, what is missing, and the command that fixes it.

use crate::config::Config;

#[path = "doctor_engines.rs"]
mod engines;
#[path = "doctor_footage.rs"]
mod footage;
use crate::config::load::data_dir;
use engines::{api_key_check, clip_check, llm_check, model_checks};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SETUP: &str = "./scripts/setup.sh";

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// The command (or edit) that fixes a failed check.
    pub fix: Option<String>,
    /// Advisory checks (the LLM and its key) fail without failing the doctor: reelforge
    /// still makes videos without them.
    pub required: bool,
}

impl Check {
    pub(super) fn pass(name: &str, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
            required: true,
        }
    }

    pub(super) fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
            required: true,
        }
    }

    pub(super) fn advisory(mut self) -> Self {
        self.required = false;
        self
    }

    fn required_if(mut self, required: bool) -> Self {
        self.required = required;
        self
    }
}

/// Runs every check against this process's `PATH`.
pub fn run_checks(cfg: &Config) -> Vec<Check> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    run_checks_with_path(cfg, &path)
}

/// `run_checks` with the search path given, so tests can hide or fake tools.
pub fn run_checks_with_path(cfg: &Config, path_var: &OsStr) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.extend(ffmpeg_checks(cfg, path_var));
    checks.push(tool_check(
        "ffprobe",
        path_var,
        &["-version"],
        "apt-get install ffmpeg",
    ));
    checks.push(
        tool_check(
            "espeak-ng",
            path_var,
            &["--version"],
            "apt-get install espeak-ng",
        )
        // Piper turns text into phonemes with espeak-ng too.
        .required_if(true),
    );
    checks.push(font_check(cfg, path_var));
    checks.extend(model_checks(cfg));
    checks.extend(clip_check(cfg));
    checks.push(llm_check(cfg));
    checks.push(api_key_check(cfg));
    checks.extend(footage::footage_checks(cfg));
    checks.push(data_dir_check(&data_dir(cfg)));
    checks
}

/// True when every required check passed; advisory ones never count.
pub fn all_ok(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.ok || !c.required)
}

/// A plain-text table; ✓/✗ come with the words ok/missing so colour or glyphs are not needed.
pub fn render_report(checks: &[Check]) -> String {
    let label = |c: &Check| {
        if c.required {
            c.name.clone()
        } else {
            format!("{} (optional)", c.name)
        }
    };
    let width = checks
        .iter()
        .map(|c| label(c).chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for check in checks {
        let mark = if check.ok {
            "✓ ok     "
        } else {
            "✗ missing"
        };
        out.push_str(&format!(
            "{mark}  {:<width$}  {}\n",
            label(check),
            check.detail
        ));
        if let (false, Some(fix)) = (check.ok, &check.fix) {
            out.push_str(&format!("{:<pad$}fix: {fix}\n", "", pad = 11 + width + 2));
        }
    }
    let failed = checks.iter().filter(|c| !c.ok && c.required).count();
    let optional = checks.iter().filter(|c| !c.ok && !c.required).count();
    out.push('\n');
    if failed == 0 {
        out.push_str("All required checks passed");
    } else {
        out.push_str(&format!(
            "{failed} required check{} failed: run the fix lines above (apt-get as root), \
             or {SETUP} to install everything",
            if failed == 1 { "" } else { "s" }
        ));
    }
    if optional > 0 {
        out.push_str(&format!(
            "; {optional} optional item{} not set up",
            if optional == 1 { " is" } else { "s are" }
        ));
    }
    out.push_str(".\n");
    out
}

/// The first executable `name` in the directories of `path_var`.
pub fn find_on_path(name: &str, path_var: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        // An empty entry means the working directory; a doctor should not trust that.
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// stdout (or stderr, where some tools print their version) of a finished command.
fn run_tool(program: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").trim().to_string();
        return Err(format!("{} {}", output.status, last));
    }
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if stdout.trim().is_empty() {
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    } else {
        Ok(stdout)
    }
}

/// The version line, without the copyright that follows it on ffmpeg's.
fn version_line(output: &str) -> String {
    let line = output.lines().map(str::trim).find(|l| !l.is_empty());
    let line = line.unwrap_or("(no version output)");
    // ffmpeg appends a copyright, espeak-ng "  Data at: <path>".
    let line = line.split(" Copyright").next().unwrap_or(line);
    line.split("  ").next().unwrap_or(line).trim().to_string()
}

fn tool_check(name: &str, path_var: &OsStr, version_args: &[&str], fix: &str) -> Check {
    let Some(program) = find_on_path(name, path_var) else {
        return Check::fail(name, "not found on PATH", format!("{fix}  (or {SETUP})"));
    };
    match run_tool(&program, version_args) {
        Ok(out) => Check::pass(name, version_line(&out)),
        Err(e) => Check::fail(
            name,
            format!("{} does not run: {e}", program.display()),
            fix.replacen("install", "install --reinstall", 1),
        ),
    }
}

fn ffmpeg_checks(cfg: &Config, path_var: &OsStr) -> Vec<Check> {
    let fix = "apt-get install ffmpeg";
    let version = tool_check("ffmpeg", path_var, &["-version"], fix);
    let program = match find_on_path("ffmpeg", path_var) {
        Some(p) if version.ok => p,
        // Without a working ffmpeg the filter question is moot; one failure says it all.
        _ => return vec![version],
    };
    let name = "ffmpeg subtitles filter";
    let filter = match run_tool(&program, &["-hide_banner", "-filters"]) {
        Ok(list) if has_filter(&list, "subtitles") => {
            Check::pass(name, "present (libass): subtitles can be burned in")
        }
        Ok(_) => Check::fail(
            name,
            "this ffmpeg was built without libass: subtitles cannot be burned in",
            "apt-get install ffmpeg  (Debian's build has libass), or set [subtitles] enabled = false",
        ),
        Err(e) => Check::fail(name, format!("`ffmpeg -filters` failed: {e}"), fix),
    };
    vec![version, filter.required_if(cfg.subtitles.enabled)]
}

/// `ffmpeg -filters` rows look like ` ... subtitles  V->V  Render text subtitles ...`.
fn has_filter(list: &str, filter: &str) -> bool {
    list.lines()
        .any(|line| line.split_whitespace().nth(1) == Some(filter))
}

fn font_check(cfg: &Config, path_var: &OsStr) -> Check {
    let name = "subtitle font";
    let font = cfg.subtitles.font.trim();
    let install = if font.to_lowercase().starts_with("noto") {
        "apt-get install fonts-noto-core".to_string()
    } else {
        format!(
            "install the font \"{font}\", or set [subtitles] font to a family listed by `fc-list : family`"
        )
    };
    let check = match find_on_path("fc-match", path_var) {
        None => Check::fail(
            name,
            "fc-match not found: fontconfig is not installed",
            "apt-get install fontconfig fonts-noto-core",
        ),
        Some(fc_match) => match run_tool(&fc_match, &["-f", "%{family}", font]) {
            Err(e) => Check::fail(name, format!("fc-match failed: {e}"), install),
            Ok(families) => {
                // fc-match always answers with something; only an exact family name means
                // the font itself is installed.
                let found = families
                    .split(',')
                    .any(|f| f.trim().eq_ignore_ascii_case(font));
                if found {
                    Check::pass(name, format!("\"{font}\" is installed"))
                } else {
                    let instead = families.split(',').next().unwrap_or("").trim();
                    Check::fail(
                        name,
                        format!("\"{font}\" is not installed (fontconfig would use \"{instead}\")"),
                        install,
                    )
                }
            }
        },
    };
    if cfg.subtitles.enabled {
        check
    } else {
        check.advisory()
    }
}

fn data_dir_check(dir: &Path) -> Check {
    let name = "data folder";
    let shown = dir.display().to_string();
    let probe = dir.join(".doctor-probe");
    let result = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    match result {
        Ok(()) => Check::pass(name, format!("{shown} is writable")),
        Err(e) => Check::fail(
            name,
            format!("{shown} is not writable: {e}"),
            format!(
                "mkdir -p {q} && chmod u+rwx {q}, or set REELFORGE_DATA_DIR to a writable folder",
                q = sh_quote(&shown)
            ),
        ),
    }
}

/// Quotes a path for a copy-pasted shell command.
pub(super) fn sh_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%~=,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
#[path = "doctor_tests.rs"]
mod tests;
