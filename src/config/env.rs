//! The `REELFORGE_*` environment layer: variable names for every setting and parsing their
//! string values into the setting's type.

use super::error::{ConfigError, closest, kind, show_str};
use super::load::LoadOptions;
use super::schema::{check_type, get_path, leaves, set_path};
use std::collections::BTreeMap;
use toml::{Table, Value};

const ENV_PREFIX: &str = "REELFORGE_";
/// Read by other parts of reelforge (the CLI, model loading, logging), not settings.
const OTHER_ENV_VARS: &[&str] = &["REELFORGE_CONFIG", "REELFORGE_MODELS_DIR", "REELFORGE_LOG"];
/// Short names documented for the most common overrides.
const ENV_ALIASES: &[(&str, &str)] = &[("REELFORGE_DATA_DIR", "paths.data_dir")];

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

pub(super) fn apply_env(
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
