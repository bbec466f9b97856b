//! Tests of the whole loading path: file and environment layers, error messages, secrets and
//! file locations.

use super::Config;
use super::env::env_name;
use super::error::{ConfigError, SECRET_KEY, closest, edit_distance};
use super::load::{LoadOptions, data_dir, default_data_dir, find_config_file, load, validate};
use super::schema::{OPTIONAL_STRING_LEAVES, defaults_table, get_path, leaves, schema_table};
use std::path::PathBuf;
use toml::Table;

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

#[test]
fn ui_theme_from_file_and_environment() {
    assert_eq!(Config::default().ui.theme, "dark");
    let (_dir, opts) = setup(Some("[ui]\ntheme = \"light\"\n"), &[]);
    assert_eq!(load(&opts).unwrap().ui.theme, "light");
    let env = [("REELFORGE_UI_THEME", "/home/me/solarized.toml")];
    let (_dir, opts) = setup(Some("[ui]\ntheme = \"light\"\n"), &env);
    assert_eq!(load(&opts).unwrap().ui.theme, "/home/me/solarized.toml");
    let msg = load_err(Some("[ui]\ntheme = \"\"\n"), &[]);
    assert!(
        msg.contains("`ui.theme`") && msg.contains("high-contrast"),
        "{msg}"
    );
    let msg = load_err(Some("[ui]\ncolours = \"dark\"\n"), &[]);
    assert!(msg.contains("ui.colours") && msg.contains("theme"), "{msg}");
}
