//! The example configuration `contrib/locus.toml` lists every declared
//! key, in its table, and is valid as shipped and with every commented
//! default turned on.

use super::*;
use clap::{Args, Command, FromArgMatches};
use std::io::Write;

const EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contrib/locus.toml"
));

/// The settings of a config file holding `text`.
fn resolve_text(text: &str) -> Result<Settings, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write config");
    let path = file.path().to_str().expect("utf-8 temp path");
    let matches = ServeArgs::augment_args(Command::new("serve"))
        .try_get_matches_from(["serve", "--config", path])
        .expect("flags parse");
    resolve(&ServeArgs::from_arg_matches(&matches).expect("serve args"))
}

/// `key` of a line `key = …` or `# key = …`, and whether it is commented.
fn key_of(line: &str) -> Option<(&str, bool)> {
    let (text, commented) = match line.strip_prefix("# ") {
        Some(rest) => (rest, true),
        None => (line, false),
    };
    let (key, _) = text.split_once(" = ")?;
    let bare = key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    bare.then_some((key, commented))
}

/// The dotted keys the file sets or shows commented, and its tables.
fn keys_and_tables() -> (Vec<String>, Vec<String>) {
    let mut table = String::new();
    let (mut keys, mut tables) = (Vec::new(), Vec::new());
    for line in EXAMPLE.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = name.to_owned();
            tables.push(table.clone());
        } else if let Some((key, _)) = key_of(line) {
            keys.push(if table.is_empty() {
                key.to_owned()
            } else {
                format!("{table}.{key}")
            });
        }
    }
    (keys, tables)
}

#[test]
fn the_example_lists_every_key() {
    let (keys, tables) = keys_and_tables();
    for setting in declared() {
        let key = setting.key().to_owned();
        assert!(
            keys.contains(&key) || tables.contains(&key),
            "contrib/locus.toml does not show {key}"
        );
    }
}

#[test]
fn the_example_is_valid_as_shipped_and_with_every_default_on() {
    let shipped = resolve_text(EXAMPLE).unwrap_or_else(|e| panic!("contrib/locus.toml: {e}"));
    assert_eq!(shipped.domains, ["example.com"]);
    // Uncomment the first commented line of each key.
    let mut seen: Vec<String> = Vec::new();
    let mut table = String::new();
    let all_on: Vec<String> = EXAMPLE
        .lines()
        .map(|line| {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                table = name.to_owned();
            }
            match key_of(line) {
                Some((key, true)) if !seen.contains(&format!("{table}.{key}")) => {
                    seen.push(format!("{table}.{key}"));
                    line.trim_start_matches("# ").to_owned()
                }
                _ => line.to_owned(),
            }
        })
        .collect();
    let settings = resolve_text(&all_on.join("\n"))
        .unwrap_or_else(|e| panic!("contrib/locus.toml with every key on: {e}"));
    assert_eq!(settings.auth.enabled, Some(true));
    assert_eq!(settings.max_expires, 86400);
    assert!(settings.admin.tls.is_some());
}
