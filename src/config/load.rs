//! Layering and validation: defaults < config file < `REELFORGE_*` environment, then checks.
//!
//! The layers are merged as TOML trees before anything is deserialized, so every unknown key,
//! wrong type and impossible value can be reported with its dotted key and where it came from.

use super::{Config, Secret};
use crate::pipeline::stage::Stage;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Its value must never be shown, not even in an error about it.
const SECRET_KEY: &str = "llm.api_key";
/// `Option` leaves: `None` is left out of the serialized defaults, so they are declared here.
/// All of them hold strings (paths).
const OPTIONAL_STRING_LEAVES: &[&str] = &["paths.data_dir"];
const ENV_PREFIX: &str = "REELFORGE_";
/// Read by other parts of reelforge (the CLI, model loading, logging), not settings.
const OTHER_ENV_VARS: &[&str] = &["REELFORGE_CONFIG", "REELFORGE_MODELS_DIR", "REELFORGE_LOG"];
/// Short names documented for the most common overrides.
const ENV_ALIASES: &[(&str, &str)] = &[("REELFORGE_DATA_DIR", "paths.data_dir")];
const X264_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {reason}\n  check the path given to --config", .path.display())]
    Unreadable { path: PathBuf, reason: String },

    #[error(
        "{}:{line}:{column}: TOML syntax error: {message}\n  fix line {line} of {}",
        .path.display(),
        .path.display()
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error(
        "unknown key `{key}`{}{}\n  keys allowed in {}: {}",
        from_origin(.origin),
        did_you_mean(.suggestion),
        table_label(.table),
        .allowed.join(", ")
    )]
    UnknownKey {
        key: String,
        /// Where the key was written, e.g. "file /home/me/.config/reelforge/config.toml".
        origin: String,
        suggestion: Option<String>,
        /// The dotted table holding the key; empty for the top level.
        table: String,
        allowed: Vec<String>,
    },

    #[error(
        "`{key}` = {value}{} has the wrong type: expected {expected}\n  write `{key}` as {expected}",
        from_origin(.origin)
    )]
    WrongType {
        key: String,
        /// Already redacted when the key is secret.
        value: String,
        expected: String,
        origin: String,
    },

    #[error("`{key}` = {value}{} is not allowed\n  allowed: {allowed}", from_origin(.origin))]
    InvalidValue {
        key: String,
        /// Already redacted when the key is secret.
        value: String,
        allowed: String,
        /// Empty when the value was set after loading (command-line flags).
        origin: String,
    },

    #[error(
        "unknown environment variable {name}{}\n  settings variables are REELFORGE_ + the dotted key in capitals, e.g. REELFORGE_VIDEO_FPS for video.fps; unset {name} or fix its name",
        did_you_mean(.suggestion)
    )]
    UnknownEnvVar {
        name: String,
        suggestion: Option<String>,
    },
}

fn from_origin(origin: &str) -> String {
    if origin.is_empty() {
        String::new()
    } else {
        format!(" (in {origin})")
    }
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(": did you mean `{s}`?"))
        .unwrap_or_default()
}

fn table_label(table: &str) -> String {
    if table.is_empty() {
        "the top level".into()
    } else {
        format!("[{table}]")
    }
}

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

fn defaults_table() -> Table {
    Value::try_from(Config::default())
        .ok()
        .and_then(|v| match v {
            Value::Table(t) => Some(t),
            _ => None,
        })
        .expect("the default Config serializes to a TOML table")
}

/// The defaults plus the leaves they cannot show: optional paths and every stage's limit.
fn schema_table(defaults: &Table) -> Table {
    let mut schema = defaults.clone();
    for key in OPTIONAL_STRING_LEAVES {
        set_path(&mut schema, key, Value::String(String::new()));
    }
    for stage in Stage::ALL {
        let key = format!("pipeline.limits.{}", stage.name());
        if get_path(&schema, &key).is_none() {
            set_path(&mut schema, &key, Value::Integer(1));
        }
    }
    schema
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

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
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

/// Every dotted path (tables and leaves) of a tree.
fn all_paths(table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(t: &Table, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in t {
            let path = join_key(prefix, k);
            if let Value::Table(sub) = v {
                walk(sub, &path, out);
            }
            out.push(path);
        }
    }
    walk(table, "", &mut out);
    out
}

/// Every (dotted path, value) leaf of a tree.
fn leaves(table: &Table) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    fn walk(t: &Table, prefix: &str, out: &mut Vec<(String, Value)>) {
        for (k, v) in t {
            let path = join_key(prefix, k);
            match v {
                Value::Table(sub) => walk(sub, &path, out),
                leaf => out.push((path, leaf.clone())),
            }
        }
    }
    walk(table, "", &mut out);
    out
}

fn get_path<'a>(table: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

fn set_path(table: &mut Table, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            table.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = table
                .entry(head.to_string())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            if let Value::Table(sub) = entry {
                set_path(sub, rest, value);
            }
        }
    }
}

/// How a value is shown in an error: quoted strings, short, the secret never.
fn show(key: &str, value: &Value) -> String {
    if key == SECRET_KEY {
        return "<redacted>".into();
    }
    let text = match value {
        Value::String(s) => format!("{s:?}"),
        Value::Table(_) => "a table".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

fn show_str(key: &str, value: &str) -> String {
    show(key, &Value::String(value.to_string()))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        // Every list in the schema is a list of strings.
        Value::Array(_) => "a list of strings",
        Value::Table(_) => "a table",
        Value::Datetime(_) => "a date",
    }
}

/// Accepts `given` for a leaf whose default is `expected`, coercing integers to floats.
fn check_type(
    key: &str,
    expected: &Value,
    given: Value,
    origin: &str,
) -> Result<Value, ConfigError> {
    let wrong = |given: &Value| ConfigError::WrongType {
        key: key.to_string(),
        value: show(key, given),
        expected: kind(expected).to_string(),
        origin: origin.to_string(),
    };
    match (expected, given) {
        (Value::String(_), v @ Value::String(_)) => Ok(v),
        (Value::Boolean(_), v @ Value::Boolean(_)) => Ok(v),
        (Value::Float(_), v @ Value::Float(_)) => Ok(v),
        (Value::Float(_), Value::Integer(i)) => Ok(Value::Float(i as f64)),
        // Every integer setting is unsigned.
        (Value::Integer(_), Value::Integer(i)) if i < 0 => Err(ConfigError::InvalidValue {
            key: key.to_string(),
            value: show(key, &Value::Integer(i)),
            allowed: "a whole number, 0 or more".into(),
            origin: origin.to_string(),
        }),
        (Value::Integer(_), v @ Value::Integer(_)) => Ok(v),
        (Value::Array(_), Value::Array(items)) => {
            if items.iter().all(Value::is_str) {
                Ok(Value::Array(items))
            } else {
                Err(wrong(&Value::Array(items)))
            }
        }
        (_, other) => Err(wrong(&other)),
    }
}

/// Every env name a setting answers to, with its dotted key.
fn env_names(schema: &Table) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = leaves(schema)
        .into_iter()
        .map(|(path, _)| (env_name(&path), path))
        .collect();
    for (alias, path) in ENV_ALIASES {
        names.insert(alias.to_string(), path.to_string());
    }
    names
}

/// `video.aspect` → `REELFORGE_VIDEO_ASPECT`.
pub fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.to_uppercase().replace(['.', '-'], "_")
    )
}

fn apply_env(
    opts: &LoadOptions,
    schema: &Table,
    merged: &mut Table,
    origins: &mut BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let names = env_names(schema);
    for (name, raw) in &opts.env {
        if !name.starts_with(ENV_PREFIX) || OTHER_ENV_VARS.contains(&name.as_str()) {
            continue;
        }
        let Some(path) = names.get(name) else {
            let known: Vec<String> = names
                .keys()
                .cloned()
                .chain(OTHER_ENV_VARS.iter().map(|s| s.to_string()))
                .collect();
            return Err(ConfigError::UnknownEnvVar {
                name: name.clone(),
                suggestion: closest(name, &known),
            });
        };
        let Some(expected) = get_path(schema, path) else {
            continue;
        };
        let origin = format!("environment variable {name}");
        let parsed = parse_env(path, expected, raw, &origin)?;
        let value = check_type(path, expected, parsed, &origin)?;
        set_path(merged, path, value);
        origins.insert(path.clone(), origin);
    }
    Ok(())
}

/// Reads an environment string as the type of the setting's default.
fn parse_env(key: &str, expected: &Value, raw: &str, origin: &str) -> Result<Value, ConfigError> {
    let text = raw.trim();
    let parsed = match expected {
        Value::Integer(_) => text.parse::<i64>().ok().map(Value::Integer),
        Value::Float(_) => text.parse::<f64>().ok().map(Value::Float),
        Value::Boolean(_) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Some(Value::Boolean(false)),
            _ => None,
        },
        Value::Array(_) => Some(Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        )),
        _ => Some(Value::String(raw.to_string())),
    };
    parsed.ok_or_else(|| ConfigError::WrongType {
        key: key.to_string(),
        value: show_str(key, raw),
        expected: kind(expected).to_string(),
        origin: origin.to_string(),
    })
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

/// The nearest candidate by edit distance, when near enough to be a typo.
fn closest(word: &str, candidates: &[String]) -> Option<String> {
    let word_l = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word_l, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(word.len().min(c.len()) / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Ranges and sets from the schema's doc comments. Call again after applying flags.
pub fn validate(cfg: &Config) -> Result<(), ConfigError> {
    validate_with(cfg, &BTreeMap::new())
}

struct Rules<'a> {
    origins: &'a BTreeMap<String, String>,
}

impl Rules<'_> {
    fn invalid(&self, key: &str, value: String, allowed: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            origin: self.origins.get(key).cloned().unwrap_or_default(),
            key: key.to_string(),
            value,
            allowed: allowed.into(),
        }
    }

    fn one_of(&self, key: &str, value: &str, set: &[&str]) -> Result<(), ConfigError> {
        if set.contains(&value) {
            return Ok(());
        }
        let quoted: Vec<String> = set.iter().map(|s| format!("{s:?}")).collect();
        Err(self.invalid(
            key,
            show_str(key, value),
            format!("one of {}", quoted.join(", ")),
        ))
    }

    fn int(&self, key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            return Ok(());
        }
        Err(self.invalid(
            key,
            value.to_string(),
            format!("a whole number from {min} to {max}"),
        ))
    }

    fn float(&self, key: &str, value: f64, min: f64, max: f64) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            return Ok(());
        }
        Err(self.invalid(
            key,
            format!("{value:?}"),
            format!("a number from {min:?} to {max:?}"),
        ))
    }

    fn colour(&self, key: &str, value: &str) -> Result<(), ConfigError> {
        let ok = value.len() == 7
            && value.starts_with('#')
            && value[1..].chars().all(|c| c.is_ascii_hexdigit());
        if ok {
            return Ok(());
        }
        Err(self.invalid(
            key,
            show_str(key, value),
            "a colour written \"#RRGGBB\", e.g. \"#FFFFFF\"",
        ))
    }
}

fn validate_with(cfg: &Config, origins: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let r = Rules { origins };

    let llm = &cfg.llm;
    r.one_of("llm.provider", &llm.provider, &["openai", "none"])?;
    let url = llm.base_url.trim();
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        return Err(r.invalid(
            "llm.base_url",
            show_str("llm.base_url", url),
            "a URL starting with http:// or https://, or \"\" for no LLM",
        ));
    }
    if !url.is_empty() && llm.provider == "openai" && llm.model.trim().is_empty() {
        return Err(r.invalid(
            "llm.model",
            "\"\"".into(),
            "a model name, e.g. \"gpt-4o-mini\"",
        ));
    }
    r.float("llm.temperature", llm.temperature, 0.0, 2.0)?;
    r.int("llm.timeout_secs", llm.timeout_secs, 1, 3600)?;

    r.int("script.paragraphs", cfg.script.paragraphs.into(), 1, 10)?;
    r.int("terms.per_sentence", cfg.terms.per_sentence.into(), 1, 8)?;

    let voice = &cfg.voice;
    r.one_of("voice.provider", &voice.provider, &["espeak"])?;
    r.float("voice.rate", voice.rate, 0.5, 2.0)?;
    r.float("voice.volume", voice.volume, 0.0, 2.0)?;
    r.int(
        "voice.sentence_gap_ms",
        voice.sentence_gap_ms.into(),
        0,
        2000,
    )?;

    let sources = &cfg.footage.sources;
    let source_set = ["local", "generated"];
    if sources.is_empty() {
        return Err(r.invalid(
            "footage.sources",
            "[]".into(),
            "a non-empty list drawn from \"local\", \"generated\"",
        ));
    }
    for (i, source) in sources.iter().enumerate() {
        r.one_of("footage.sources", source, &source_set)?;
        if sources[..i].contains(source) {
            return Err(r.invalid(
                "footage.sources",
                format!("{sources:?}"),
                "each source at most once",
            ));
        }
    }

    let video = &cfg.video;
    r.one_of("video.aspect", &video.aspect, &["9:16", "16:9", "1:1"])?;
    r.int("video.fps", video.fps.into(), 24, 60)?;
    r.float("video.max_clip_secs", video.max_clip_secs, 2.0, 10.0)?;
    r.one_of("video.encoder", &video.encoder, &["libx264"])?;
    r.one_of("video.preset", &video.preset, X264_PRESETS)?;
    r.int("video.crf", video.crf.into(), 0, 51)?;

    let subs = &cfg.subtitles;
    r.colour("subtitles.color", &subs.color)?;
    r.colour("subtitles.outline_color", &subs.outline_color)?;
    r.one_of(
        "subtitles.position",
        &subs.position,
        &["bottom", "top", "center"],
    )?;
    r.int("subtitles.outline", subs.outline.into(), 0, 10)?;
    r.int(
        "subtitles.max_line_chars",
        subs.max_line_chars.into(),
        10,
        80,
    )?;
    if subs.size != 0 && !(8..=300).contains(&subs.size) {
        return Err(r.invalid(
            "subtitles.size",
            subs.size.to_string(),
            "0 (automatic) or a size from 8 to 300",
        ));
    }

    let pipe = &cfg.pipeline;
    r.int("pipeline.max_attempts", pipe.max_attempts.into(), 1, 10)?;
    if pipe.backoff_base_ms < 1 || pipe.backoff_base_ms > pipe.backoff_max_ms {
        return Err(r.invalid(
            "pipeline.backoff_base_ms",
            pipe.backoff_base_ms.to_string(),
            format!(
                "at least 1 and at most pipeline.backoff_max_ms ({})",
                pipe.backoff_max_ms
            ),
        ));
    }
    let stages: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
    for (stage, &limit) in &pipe.limits {
        if !stages.contains(&stage.as_str()) {
            return Err(r.invalid(
                "pipeline.limits",
                format!("{stage:?}"),
                format!("stage names: {}", stages.join(", ")),
            ));
        }
        r.int(&format!("pipeline.limits.{stage}"), limit as u64, 1, 64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk-test-do-not-print-4242";

    /// Options with `text` as the config file (when given) and nothing from the real process.
    fn setup(text: Option<&str>, env: &[(&str, &str)]) -> (tempfile::TempDir, LoadOptions) {
        let dir = tempfile::tempdir().unwrap();
        let file = text.map(|t| {
            let path = dir.path().join("config.toml");
            std::fs::write(&path, t).unwrap();
            path
        });
        let opts = LoadOptions {
            file,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: None,
            xdg_config_home: None,
        };
        (dir, opts)
    }

    fn load_err(text: Option<&str>, env: &[(&str, &str)]) -> String {
        let (_dir, opts) = setup(text, env);
        load(&opts).unwrap_err().to_string()
    }

    fn json(cfg: &Config) -> serde_json::Value {
        serde_json::to_value(cfg).unwrap()
    }

    #[test]
    fn defaults_validate_and_load_without_a_file() {
        validate(&Config::default()).unwrap();
        let (_dir, opts) = setup(None, &[]);
        assert_eq!(json(&load(&opts).unwrap()), json(&Config::default()));
    }

    #[test]
    fn example_file_equals_the_defaults() {
        let (_dir, opts) = setup(Some(include_str!("../../config.toml.example")), &[]);
        let cfg = load(&opts).unwrap();
        assert_eq!(json(&cfg), json(&Config::default()));
    }

    #[test]
    fn example_file_names_every_key() {
        let text = include_str!("../../config.toml.example");
        let file: Table = text.parse().unwrap();
        let schema = schema_table(&defaults_table());
        for (path, _) in leaves(&schema) {
            let commented = OPTIONAL_STRING_LEAVES.contains(&path.as_str()) || path == SECRET_KEY;
            if !commented {
                assert!(get_path(&file, &path).is_some(), "example lacks {path}");
            }
        }
    }

    #[test]
    fn file_overrides_defaults() {
        let text = "[video]\nfps = 25\naspect = \"16:9\"\n[llm]\ntemperature = 1\n\
                    [pipeline.limits]\nrender = 3\n[footage]\nlocal_dirs = [\"/srv/clips\"]\n";
        let (_dir, opts) = setup(Some(text), &[]);
        let cfg = load(&opts).unwrap();
        assert_eq!(cfg.video.fps, 25);
        assert_eq!(cfg.video.aspect, "16:9");
        assert_eq!(cfg.video.crf, 23, "untouched keys keep their defaults");
        assert_eq!(
            cfg.llm.temperature, 1.0,
            "an integer is accepted for a float"
        );
        assert_eq!(cfg.pipeline.limits["render"], 3);
        assert_eq!(cfg.pipeline.limits["voice"], 2);
        assert_eq!(cfg.footage.local_dirs, vec![PathBuf::from("/srv/clips")]);
    }

    #[test]
    fn env_overrides_file() {
        let env = [
            ("REELFORGE_VIDEO_FPS", "50"),
            ("REELFORGE_FOOTAGE_SOURCES", "generated"),
            ("REELFORGE_LLM_STREAM", "off"),
            ("REELFORGE_DATA_DIR", "/tmp/rf-data"),
            ("REELFORGE_LOG", "debug"),
            ("PATH", "/usr/bin"),
        ];
        let (_dir, opts) = setup(Some("[video]\nfps = 25\ncrf = 30\n"), &env);
        let cfg = load(&opts).unwrap();
        assert_eq!(cfg.video.fps, 50);
        assert_eq!(cfg.video.crf, 30);
        assert_eq!(cfg.footage.sources, vec!["generated".to_string()]);
        assert!(!cfg.llm.stream);
        assert_eq!(cfg.paths.data_dir, Some(PathBuf::from("/tmp/rf-data")));
        assert_eq!(data_dir(&cfg), PathBuf::from("/tmp/rf-data"));
    }

    #[test]
    fn env_limit_for_one_stage() {
        let (_dir, opts) = setup(None, &[("REELFORGE_PIPELINE_LIMITS_RENDER", "2")]);
        assert_eq!(load(&opts).unwrap().pipeline.limits["render"], 2);
        let (_dir, opts) = setup(None, &[("REELFORGE_LLM_BASE_URL", "http://127.0.0.1:1/v1")]);
        assert_eq!(load(&opts).unwrap().llm.base_url, "http://127.0.0.1:1/v1");
    }

    #[test]
    fn typo_names_key_suggestion_and_file() {
        let (dir, opts) = setup(Some("[video]\naspekt = \"9:16\"\n"), &[]);
        let msg = load(&opts).unwrap_err().to_string();
        assert!(msg.contains("`video.aspekt`"), "{msg}");
        assert!(msg.contains("did you mean `video.aspect`?"), "{msg}");
        assert!(
            msg.contains(&dir.path().join("config.toml").display().to_string()),
            "{msg}"
        );
        assert!(msg.contains("[video]: aspect, "), "{msg}");
    }

    #[test]
    fn key_in_the_wrong_table_points_to_its_table() {
        let msg = load_err(Some("[subtitles]\nfps = 30\n"), &[]);
        assert!(
            msg.contains("`subtitles.fps`") && msg.contains("`video.fps`"),
            "{msg}"
        );
        let msg = load_err(Some("[vidoe]\nfps = 30\n"), &[]);
        assert!(msg.contains("did you mean `video`?"), "{msg}");
        let msg = load_err(Some("[pipeline.limits]\nrendr = 1\n"), &[]);
        assert!(
            msg.contains("pipeline.limits.render") && msg.contains("select"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_type_names_key_value_and_type() {
        let msg = load_err(Some("[video]\nfps = \"thirty\"\n"), &[]);
        assert!(
            msg.contains("`video.fps`") && msg.contains("\"thirty\""),
            "{msg}"
        );
        assert!(
            msg.contains("integer") && msg.contains("config.toml"),
            "{msg}"
        );
        let msg = load_err(Some("[footage]\nsources = \"local\"\n"), &[]);
        assert!(
            msg.contains("footage.sources") && msg.contains("list of strings"),
            "{msg}"
        );
        let msg = load_err(None, &[("REELFORGE_VIDEO_FPS", "fast")]);
        assert!(
            msg.contains("REELFORGE_VIDEO_FPS") && msg.contains("\"fast\""),
            "{msg}"
        );
        let msg = load_err(Some("video = 3\n"), &[]);
        assert!(msg.contains("`video`") && msg.contains("a table"), "{msg}");
    }

    #[test]
    fn numbers_out_of_the_type_range_are_named() {
        let msg = load_err(Some("[video]\ncrf = -1\n"), &[]);
        assert!(
            msg.contains("`video.crf` = -1") && msg.contains("0 or more"),
            "{msg}"
        );
        let msg = load_err(Some("[video]\nfps = 99999999999\n"), &[]);
        assert!(
            msg.contains("`video.fps` = 99999999999") && msg.contains("4294967295"),
            "{msg}"
        );
    }

    #[test]
    fn invalid_value_names_key_value_and_allowed_set() {
        let msg = load_err(Some("[video]\naspect = \"4:3\"\n"), &[]);
        assert!(
            msg.contains("`video.aspect`") && msg.contains("\"4:3\""),
            "{msg}"
        );
        assert!(msg.contains("\"9:16\", \"16:9\", \"1:1\""), "{msg}");
        assert!(msg.contains("config.toml"), "{msg}");
        let msg = load_err(None, &[("REELFORGE_PIPELINE_LIMITS_RENDER", "0")]);
        assert!(
            msg.contains("pipeline.limits.render") && msg.contains("1 to 64"),
            "{msg}"
        );
    }

    #[test]
    fn validate_checks_each_rule() {
        type Breaker = fn(&mut Config);
        let cases: Vec<(&str, Breaker)> = vec![
            ("llm.provider", |c| c.llm.provider = "claude".into()),
            ("llm.base_url", |c| c.llm.base_url = "localhost:8080".into()),
            ("llm.temperature", |c| c.llm.temperature = f64::NAN),
            ("llm.timeout_secs", |c| c.llm.timeout_secs = 0),
            ("script.paragraphs", |c| c.script.paragraphs = 11),
            ("terms.per_sentence", |c| c.terms.per_sentence = 0),
            ("voice.provider", |c| c.voice.provider = "piper".into()),
            ("voice.rate", |c| c.voice.rate = 2.5),
            ("voice.volume", |c| c.voice.volume = -0.1),
            ("voice.sentence_gap_ms", |c| c.voice.sentence_gap_ms = 2001),
            ("footage.sources", |c| c.footage.sources.clear()),
            ("footage.sources", |c| {
                c.footage.sources.push("pexels".into())
            }),
            ("footage.sources", |c| {
                c.footage.sources.push("local".into())
            }),
            ("video.fps", |c| c.video.fps = 61),
            ("video.max_clip_secs", |c| c.video.max_clip_secs = 1.0),
            ("video.encoder", |c| c.video.encoder = "h264_nvenc".into()),
            ("video.preset", |c| c.video.preset = "turbo".into()),
            ("video.crf", |c| c.video.crf = 52),
            ("subtitles.color", |c| c.subtitles.color = "white".into()),
            ("subtitles.outline_color", |c| {
                c.subtitles.outline_color = "#12345".into()
            }),
            ("subtitles.position", |c| {
                c.subtitles.position = "middle".into()
            }),
            ("subtitles.outline", |c| c.subtitles.outline = 11),
            ("subtitles.max_line_chars", |c| {
                c.subtitles.max_line_chars = 9
            }),
            ("subtitles.size", |c| c.subtitles.size = 7),
            ("pipeline.max_attempts", |c| c.pipeline.max_attempts = 0),
            ("pipeline.backoff_base_ms", |c| {
                c.pipeline.backoff_base_ms = 0
            }),
            ("pipeline.backoff_base_ms", |c| {
                c.pipeline.backoff_max_ms = 10
            }),
            ("pipeline.limits", |c| {
                c.pipeline.limits.insert("upload".into(), 1);
            }),
        ];
        for (key, break_it) in cases {
            let mut cfg = Config::default();
            break_it(&mut cfg);
            let msg = validate(&cfg).unwrap_err().to_string();
            assert!(msg.contains(&format!("`{key}`")), "{key}: {msg}");
        }
        let mut cfg = Config::default();
        cfg.subtitles.size = 48;
        cfg.llm.base_url = "https://api.openai.com/v1".into();
        validate(&cfg).unwrap();
    }

    #[test]
    fn unknown_env_var_is_named_with_a_suggestion() {
        let msg = load_err(None, &[("REELFORGE_VIDEO_FPSS", "30")]);
        assert!(msg.contains("REELFORGE_VIDEO_FPSS"), "{msg}");
        assert!(msg.contains("did you mean `REELFORGE_VIDEO_FPS`?"), "{msg}");
    }

    #[test]
    fn api_key_comes_from_its_variable_and_never_prints() {
        let env = [("OPENAI_API_KEY", SECRET)];
        let (_dir, opts) = setup(None, &env);
        let cfg = load(&opts).unwrap();
        assert_eq!(cfg.llm.api_key.expose(), SECRET);
        assert!(!format!("{cfg:?} {opts:?}").contains(SECRET));
        assert!(!serde_json::to_string(&cfg).unwrap().contains(SECRET));

        // Errors about the key itself, or raised while it is loaded, never carry it.
        let bad = [
            format!("[llm]\napi_key = [\"{SECRET}\"]\n"),
            format!("[llm]\napi_key = \"{SECRET}\nmodel = 1\n"),
            format!("[llm]\napi_key = \"{SECRET}\"\nprovider = \"x\"\n"),
        ];
        for text in &bad {
            let msg = load_err(Some(text), &env);
            assert!(!msg.contains(SECRET) && !msg.contains("4242"), "{msg}");
        }
        let msg = load_err(
            None,
            &[("REELFORGE_LLM_API_KEY", SECRET), ("REELFORGE_X", "1")],
        );
        assert!(!msg.contains(SECRET), "{msg}");

        // A custom variable name, and a key in the file wins over the variable.
        let (_dir, opts) = setup(
            Some("[llm]\napi_key_env = \"MY_KEY\"\n"),
            &[("MY_KEY", "k2")],
        );
        assert_eq!(load(&opts).unwrap().llm.api_key.expose(), "k2");
        let (_dir, opts) = setup(Some("[llm]\napi_key = \"k1\"\n"), &env);
        assert_eq!(load(&opts).unwrap().llm.api_key.expose(), "k1");
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let (dir, opts) = setup(Some("[video]\nfps = 30\naspect = \n"), &[]);
        let err = load(&opts).unwrap_err();
        assert!(
            matches!(err, ConfigError::Syntax { line: 3, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        let file = dir.path().join("config.toml").display().to_string();
        assert!(msg.starts_with(&format!("{file}:3:")), "{msg}");
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let (dir, mut opts) = setup(None, &[]);
        opts.file = Some(dir.path().join("nope.toml"));
        let msg = load(&opts).unwrap_err().to_string();
        assert!(
            msg.contains("nope.toml") && msg.contains("cannot read"),
            "{msg}"
        );
    }

    #[test]
    fn per_user_file_and_data_dir_locations() {
        let (dir, mut opts) = setup(None, &[]);
        let home = dir.path().join("home");
        let user_file = home.join(".config/reelforge/config.toml");
        std::fs::create_dir_all(user_file.parent().unwrap()).unwrap();
        std::fs::write(
            &user_file,
            "[video]\nfps = 48\n[paths]\ndata_dir = \"~/rf\"\n",
        )
        .unwrap();
        opts.home = Some(home.clone());
        assert_eq!(find_config_file(&opts), Some(user_file));
        let cfg = load(&opts).unwrap();
        assert_eq!(cfg.video.fps, 48);
        assert_eq!(cfg.paths.data_dir, Some(home.join("rf")));

        let xdg = dir.path().join("xdg");
        std::fs::create_dir_all(xdg.join("reelforge")).unwrap();
        std::fs::write(xdg.join("reelforge/config.toml"), "[video]\nfps = 24\n").unwrap();
        opts.xdg_config_home = Some(xdg);
        assert_eq!(load(&opts).unwrap().video.fps, 24);

        assert_eq!(default_data_dir(&opts), home.join(".local/share/reelforge"));
        opts.env.push(("XDG_DATA_HOME".into(), "/xdg/data".into()));
        assert_eq!(
            default_data_dir(&opts),
            PathBuf::from("/xdg/data/reelforge")
        );
    }

    #[test]
    fn closest_and_env_names() {
        assert_eq!(
            env_name("pipeline.limits.render"),
            "REELFORGE_PIPELINE_LIMITS_RENDER"
        );
        let c = vec!["aspect".to_string(), "fps".to_string()];
        assert_eq!(closest("aspekt", &c), Some("aspect".into()));
        assert_eq!(closest("zzzzzzzz", &c), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
