//! Runs the real `locus` binary. `serve` starts a server when its settings are
//! valid, so only configurations rejected before listening are exercised here;
//! merging of valid settings is unit-tested in `src/settings/`.

mod common;

use common::{bin, run, WAIT};
use std::io::Write;
use std::process::{Command, Output};

fn locus(args: &[&str]) -> Output {
    run(Command::new(bin()).args(args), None, WAIT)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts exit status 2 and returns stderr.
fn rejected(args: &[&str]) -> String {
    let output = locus(args);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "args {args:?}, stderr: {err}"
    );
    err
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write config");
    file
}

#[test]
fn unknown_config_key_exits_2_naming_the_key_and_file() {
    let file = config_file("min_expires = 30\nmax_contact = 4\n");
    let path = file.path().to_str().expect("utf-8 temp path");
    let err = rejected(&["serve", "--config", path]);
    assert!(err.starts_with("locus: error: "), "{err}");
    assert!(err.contains("max_contact"), "{err}");
    assert!(err.contains(path), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn missing_config_file_exits_2() {
    let err = rejected(&["serve", "--config", "/nonexistent/locus.toml"]);
    assert!(err.contains("/nonexistent/locus.toml"), "{err}");
}

#[test]
fn bad_listen_exits_2_naming_the_flag_and_form() {
    for spec in [
        "udp:localhost:5060",
        "sctp:127.0.0.1:5060",
        "127.0.0.1:5060",
    ] {
        let err = rejected(&["serve", "--listen", spec]);
        assert!(err.contains("--listen"), "{err}");
        assert!(err.contains("udp:IP:PORT"), "{err}");
    }
}

#[test]
fn bad_listen_in_config_file_exits_2() {
    let file = config_file("listen = [\"udp:127.0.0.1\"]\n");
    let path = file.path().to_str().expect("utf-8 temp path");
    let err = rejected(&["serve", "--config", path]);
    assert!(err.contains("listen"), "{err}");
    assert!(err.contains("udp:IP:PORT"), "{err}");
}

#[test]
fn min_above_max_exits_2_naming_both_keys() {
    let err = rejected(&["serve", "--min-expires", "600", "--max-expires", "300"]);
    assert!(err.contains("min_expires"), "{err}");
    assert!(err.contains("max_expires"), "{err}");

    let file = config_file("min_expires = 600\nmax_expires = 300\n");
    let path = file.path().to_str().expect("utf-8 temp path");
    let err = rejected(&["serve", "--config", path]);
    assert!(err.contains("min_expires"), "{err}");
    assert!(err.contains("max_expires"), "{err}");
}

#[test]
fn non_numeric_or_out_of_range_values_exit_2() {
    let err = rejected(&["serve", "--max-contacts", "ten"]);
    assert!(err.contains("--max-contacts"), "{err}");
    let err = rejected(&["serve", "--max-expires", "4294967296"]);
    assert!(err.contains("--max-expires"), "{err}");
    let err = rejected(&["serve", "--max-contacts", "0"]);
    assert!(err.contains("max_contacts"), "{err}");
}

#[test]
fn bad_domain_and_log_level_exit_2() {
    let err = rejected(&["serve", "--domain", "bad_domain.example"]);
    assert!(err.contains("--domain"), "{err}");
    let err = rejected(&["serve", "--log-level", "loud"]);
    assert!(err.contains("--log-level"), "{err}");
}

#[test]
fn no_subcommand_or_unknown_flag_exits_2() {
    rejected(&[]);
    rejected(&["serve", "--no-such-flag"]);
}

#[test]
fn top_level_help_lists_subcommands() {
    let output = locus(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    for word in ["serve", "bindings", "--help", "--version"] {
        assert!(help.contains(word), "missing {word} in:\n{help}");
    }
}

#[test]
fn serve_help_lists_every_flag() {
    let output = locus(&["serve", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    for flag in [
        "--config <FILE>",
        "--listen <SPEC>",
        "--domain <DOMAIN>",
        "--data-dir <DIR>",
        "--default-expires <SECS>",
        "--min-expires <SECS>",
        "--max-expires <SECS>",
        "--max-contacts <N>",
        "--tcp-idle-timeout <SECS>",
        "--log-level <LEVEL>",
    ] {
        assert!(help.contains(flag), "missing {flag} in:\n{help}");
    }
}

#[test]
fn bindings_help_lists_its_arguments() {
    let output = locus(&["bindings", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    assert!(help.contains("--data-dir <DIR>"), "{help}");
    assert!(help.contains("[AOR]"), "{help}");
}
