//! The settings schema as a TOML tree: the defaults, dotted-path access and the type check
//! each leaf from a file or the environment must pass.

use super::Config;
use super::error::{ConfigError, kind, show};
use crate::pipeline::stage::Stage;
use toml::{Table, Value};

/// `Option` leaves: `None` is left out of the serialized defaults, so they are declared here.
/// All of them hold strings (paths).
pub(super) const OPTIONAL_STRING_LEAVES: &[&str] = &["paths.data_dir"];

pub(super) fn defaults_table() -> Table {
    Value::try_from(Config::default())
        .ok()
        .and_then(|v| match v {
            Value::Table(t) => Some(t),
            _ => None,
        })
        .expect("the default Config serializes to a TOML table")
}

/// The defaults plus the leaves they cannot show: optional paths and every stage's limit.
pub(super) fn schema_table(defaults: &Table) -> Table {
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

pub(super) fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Every dotted path (tables and leaves) of a tree.
pub(super) fn all_paths(table: &Table) -> Vec<String> {
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
pub(super) fn leaves(table: &Table) -> Vec<(String, Value)> {
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

pub(super) fn get_path<'a>(table: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

pub(super) fn set_path(table: &mut Table, path: &str, value: Value) {
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

/// Accepts `given` for a leaf whose default is `expected`, coercing integers to floats.
pub(super) fn check_type(
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
