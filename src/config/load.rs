//! Layering: defaults < config file < `REELFORGE_*` environment, then checks (`validate`).
//!
//! The layers are merged as TOML trees before anything is deserialized, so every unknown key,
//! wrong type and impossible value can be reported with its dotted key and where it came from.

pub use super::env::env_name;
pub use super::error::ConfigError;
pub use super::validate::validate;

use super::env::apply_env;
use super::error::{closest, show};
use super::schema::{
    all_paths, check_type, defaults_table, join_key, leaves, schema_table, set_path,
};
use super::validate::validate_with;
use super::{Config, Secret};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Where settings come from; `from_process` reads the real environment, tests build their own.
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// `--config FILE`: must exist. None: the per-user file, when present.
    pub file: Option<PathBuf>,
    /// The whole environment (`REELFORGE_*`, the API key variable, `XDG_DATA_HOME`).
    pub env: Vec<(String, String)>,
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
}

// The environment holds API keys, so only variable names are ever shown.
impl fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("LoadOptions")
            .field("file", &self.file)
            .field("env", &names)
            .field("home", &self.home)
            .field("xdg_config_home", &self.xdg_config_home)
            .finish()
    }
}

impl LoadOptions {
    pub fn from_process(file: Option<PathBuf>) -> Self {
        // vars_os: a single non-UTF-8 variable must not abort the program (vars() panics).
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let dir = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        LoadOptions {
            file,
            home: dir("HOME"),
            xdg_config_home: dir("XDG_CONFIG_HOME"),
            env,
        }
    }

    /// The last value of `name`, as a process environment lookup would give.
    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The config file `load` reads: `--config`, else the per-user file when it exists.
pub fn find_config_file(opts: &LoadOptions) -> Option<PathBuf> {
    if let Some(file) = &opts.file {
        return Some(file.clone());
    }
    let xdg = opts.xdg_config_home.as_ref().filter(|p| p.is_absolute());
    let home = opts.home.as_ref().map(|h| h.join(".config"));
    [xdg.cloned(), home]
        .into_iter()
        .flatten()
        .map(|dir| dir.join("reelforge").join("config.toml"))
        .find(|p| p.is_file())
}

/// Defaults < file < environment, then the API key from its variable, then `validate`.
/// Command-line flags are applied by the caller, who then calls `validate` again.
pub fn load(opts: &LoadOptions) -> Result<Config, ConfigError> {
    let defaults = defaults_table();
    let schema = schema_table(&defaults);
    let mut merged = defaults.clone();
    let mut origins = BTreeMap::new();

    if let Some(path) = find_config_file(opts) {
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Unreadable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let file = parse_file(&path, &text)?;
        let origin = format!("file {}", path.display());
        merge_file(&file, &schema, &mut merged, "", &origin, &mut origins)?;
    }
    apply_env(opts, &schema, &mut merged, &mut origins)?;

    let mut cfg = deserialize(&defaults, &merged, &origins)?;
    finish(&mut cfg, opts);
    validate_with(&cfg, &origins)?;
    Ok(cfg)
}

/// `$XDG_DATA_HOME/reelforge`, else `~/.local/share/reelforge` (relative to the working
/// directory when neither is known).
pub fn default_data_dir(opts: &LoadOptions) -> PathBuf {
    let xdg = opts
        .var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    match (xdg, &opts.home) {
        (Some(xdg), _) => xdg.join("reelforge"),
        (None, Some(home)) => home.join(".local").join("share").join("reelforge"),
        (None, None) => PathBuf::from(".reelforge"),
    }
}

/// `paths.data_dir` when set, else the default for this process's environment.
pub fn data_dir(cfg: &Config) -> PathBuf {
    match &cfg.paths.data_dir {
        Some(dir) if !dir.as_os_str().is_empty() => dir.clone(),
        _ => default_data_dir(&LoadOptions::from_process(None)),
    }
}

fn parse_file(path: &Path, text: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
        let before = text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        // message() is the parser's description alone; Display would quote the source line,
        // which may hold the API key.
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().replace('\n', "; "),
        }
    })
}

/// Deep-merges `file` into `merged`, checking each key and leaf type against `schema`.
fn merge_file(
    file: &Table,
    schema: &Table,
    merged: &mut Table,
    prefix: &str,
    origin: &str,
    origins: &mut BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for (key, given) in file {
        let path = join_key(prefix, key);
        let Some(expected) = schema.get(key) else {
            return Err(unknown_key(&path, prefix, key, schema, origin));
        };
        match (expected, given) {
            (Value::Table(sub_schema), Value::Table(sub_file)) => {
                let sub_merged = match merged
                    .entry(key.clone())
                    .or_insert_with(|| Value::Table(Table::new()))
                {
                    Value::Table(t) => t,
                    other => {
                        *other = Value::Table(Table::new());
                        match other {
                            Value::Table(t) => t,
                            _ => unreachable!("just replaced by a table"),
                        }
                    }
                };
                merge_file(sub_file, sub_schema, sub_merged, &path, origin, origins)?;
            }
            _ => {
                let value = check_type(&path, expected, given.clone(), origin)?;
                merged.insert(key.clone(), value);
                origins.insert(path, origin.to_string());
            }
        }
    }
    Ok(())
}

fn unknown_key(path: &str, table: &str, key: &str, schema: &Table, origin: &str) -> ConfigError {
    let allowed: Vec<String> = schema.keys().cloned().collect();
    // A key written under the wrong table (`fps` in [subtitles]) is best answered with the
    // table where it lives; otherwise the nearest spelling in this table.
    let elsewhere = all_paths(&schema_table(&defaults_table()))
        .into_iter()
        .find(|p| p.rsplit('.').next() == Some(key) && p != path);
    let suggestion = elsewhere.or_else(|| closest(key, &allowed).map(|k| join_key(table, &k)));
    ConfigError::UnknownKey {
        key: path.to_string(),
        origin: origin.to_string(),
        suggestion,
        table: table.to_string(),
        allowed,
    }
}

fn deserialize(
    defaults: &Table,
    merged: &Table,
    origins: &BTreeMap<String, String>,
) -> Result<Config, ConfigError> {
    let err = match Value::Table(merged.clone()).try_into::<Config>() {
        Ok(cfg) => return Ok(cfg),
        Err(err) => err,
    };
    // serde does not say which field failed (e.g. a number too big for u32): find the leaf
    // that alone breaks the defaults.
    for (path, value) in leaves(merged) {
        let mut probe = defaults.clone();
        set_path(&mut probe, &path, value.clone());
        if let Err(e) = Value::Table(probe).try_into::<Config>() {
            let value = show(&path, &value);
            let expected = expected_from_serde(e.message());
            let origin = origins.get(&path).cloned().unwrap_or_default();
            // The type was checked while merging, so this is a value the type cannot hold.
            return Err(if e.message().starts_with("invalid value") {
                ConfigError::InvalidValue {
                    key: path,
                    value,
                    allowed: expected,
                    origin,
                }
            } else {
                ConfigError::WrongType {
                    key: path,
                    value,
                    expected,
                    origin,
                }
            });
        }
    }
    Err(ConfigError::WrongType {
        key: "(config)".into(),
        value: String::new(),
        expected: expected_from_serde(err.message()),
        origin: String::new(),
    })
}

fn expected_from_serde(message: &str) -> String {
    let tail = message
        .rsplit_once("expected ")
        .map(|(_, t)| t.trim())
        .unwrap_or(message);
    match tail {
        "u8" => format!("a whole number from 0 to {}", u8::MAX),
        "u16" => format!("a whole number from 0 to {}", u16::MAX),
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "u64" | "usize" => format!("a whole number from 0 to {}", u64::MAX),
        other => other.to_string(),
    }
}

/// What `load` does after deserializing: the API key from its variable, `~` in paths.
fn finish(cfg: &mut Config, opts: &LoadOptions) {
    let var = cfg.llm.api_key_env.trim();
    if cfg.llm.api_key.is_empty()
        && !var.is_empty()
        && let Some(key) = opts.var(var)
    {
        cfg.llm.api_key = Secret::new(key.trim());
    }
    for stock in [&mut cfg.footage.pexels, &mut cfg.footage.pixabay] {
        let var = stock.api_key_env.trim();
        if let Some(keys) = (!var.is_empty()).then(|| opts.var(var)).flatten() {
            for key in keys.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                let key = Secret::new(key);
                if !stock.api_keys.contains(&key) {
                    stock.api_keys.push(key);
                }
            }
        }
    }
    let expand = |p: &Path| match (p.strip_prefix("~"), &opts.home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => p.to_path_buf(),
    };
    cfg.paths.data_dir = cfg
        .paths
        .data_dir
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
        .map(expand);
    for dir in &mut cfg.footage.local_dirs {
        *dir = expand(dir);
    }
}
