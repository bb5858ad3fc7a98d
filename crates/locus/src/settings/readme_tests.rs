//! The README's `locus serve` table lists every declared setting, in the
//! declared order, with its flag, its config key and its default.

use super::input::Form;
use super::setting::{Declared, Fallback};
use super::*;

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));

/// The rows of the table under `## \`locus serve\``, as cells, with `\|`
/// unescaped.
fn serve_table() -> Vec<Vec<String>> {
    let section = README
        .split("\n## ")
        .find(|s| s.starts_with("`locus serve`"))
        .expect("a `locus serve` section");
    section
        .lines()
        .skip_while(|line| !line.starts_with("| flag |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(cells)
        .collect()
}

fn cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.trim().trim_start_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cell.push('|');
            }
            '|' => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    cells
}

/// The first `code span` of a cell.
fn code(cell: &str) -> &str {
    cell.split('`').nth(1).unwrap_or("")
}

fn check_row(setting: &dyn Declared, row: &[String]) {
    let [flag, key, default, ..] = row else {
        panic!("{}: short row {row:?}", setting.flag());
    };
    let written = code(flag);
    assert_eq!(
        written.split(' ').next(),
        Some(setting.flag()),
        "flag in {row:?}"
    );
    match setting.form() {
        Form::Switch => assert_eq!(written, setting.flag(), "a switch takes no value: {row:?}"),
        Form::Value => assert!(written.contains(' '), "a value placeholder: {row:?}"),
        Form::Repeated => {
            assert!(written.contains(' '), "a value placeholder: {row:?}");
            assert!(flag.contains("(repeatable)"), "repeatable: {row:?}");
        }
    }

    let written = code(key).split(" = ").next().unwrap_or("");
    let in_table = setting
        .key()
        .split_once('.')
        .map(|(table, leaf)| format!("[{table}] {leaf}"));
    let as_table = format!("[{}]", setting.key());
    assert!(
        written == setting.key() || Some(written) == in_table.as_deref() || written == as_table,
        "key {} in {row:?}",
        setting.key()
    );

    match setting.default() {
        Fallback::Value(values) => {
            let listed: Vec<&str> = default.split(", ").map(|v| v.trim_matches('`')).collect();
            assert_eq!(listed, values, "default in {row:?}");
        }
        Fallback::Means(meaning) => assert!(default.contains(meaning), "default in {row:?}"),
        Fallback::Nothing if setting.form() == Form::Switch => {
            assert_eq!(default, "off", "default in {row:?}")
        }
        Fallback::Nothing => assert_eq!(default, "none", "default in {row:?}"),
    }
}

#[test]
fn readme_table_lists_every_setting() {
    let mut rows = serve_table();
    assert!(!rows.is_empty(), "no table under `locus serve`");
    let config = rows.remove(0);
    assert_eq!(code(&config[0]), "--config FILE", "first row: {config:?}");
    let declared: Vec<_> = declared().collect();
    for (i, setting) in declared.iter().enumerate() {
        let row = rows
            .get(i)
            .unwrap_or_else(|| panic!("README: no row for {}", setting.flag()));
        check_row(*setting, row);
    }
    assert_eq!(
        rows.len(),
        declared.len(),
        "README rows without a setting: {:?}",
        &rows[declared.len()..]
    );
}

#[test]
fn cells_split_at_unescaped_bars() {
    assert_eq!(
        cells("| `--mode proxy\\|redirect` | `mode` | `proxy` | what |"),
        ["`--mode proxy|redirect`", "`mode`", "`proxy`", "what"]
    );
}

/// The example `locus.toml` of the README is a valid config file.
#[test]
fn readme_example_config_is_valid() {
    use clap::{Args, Command, FromArgMatches};
    use std::io::Write;

    let example = README
        .split("Example `locus.toml`:")
        .nth(1)
        .and_then(|rest| rest.split("```toml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("an example locus.toml in the README");
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(example.as_bytes()).expect("write config");
    let path = file.path().to_str().expect("utf-8 temp path");
    let matches = ServeArgs::augment_args(Command::new("serve"))
        .try_get_matches_from(["serve", "--config", path])
        .expect("flags parse");
    let args = ServeArgs::from_arg_matches(&matches).expect("serve args");
    let settings = resolve(&args).unwrap_or_else(|err| panic!("README example: {err}"));
    assert_eq!(settings.domains, ["example.com"]);
    assert_eq!(settings.routing.domain_modes.len(), 1);
}
