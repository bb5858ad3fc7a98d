//! The declaration machinery: what `--help` shows, which settings a reload
//! may change, and that secrets are never printed, with test-only
//! declarations where no real setting has the property yet.

use clap::{Args, Command, FromArgMatches};

use super::flags::args;
use super::input::Form;
use super::setting::{joined, Choices, Declared, Fallback, Setting};
use super::sources::Sources;
use super::*;

fn serve_command() -> Command {
    ServeArgs::augment_args(Command::new("serve"))
}

fn resolve_flags(flags: &[String]) -> Result<Settings, ConfigError> {
    let argv = std::iter::once("serve").chain(flags.iter().map(String::as_str));
    let matches = serve_command()
        .try_get_matches_from(argv)
        .expect("flags parse");
    resolve(&ServeArgs::from_arg_matches(&matches).expect("serve args"))
}

fn help_of(command: &Command, id: &str) -> String {
    command
        .get_arguments()
        .find(|arg| arg.get_id() == id)
        .and_then(|arg| arg.get_help())
        .map(ToString::to_string)
        .unwrap_or_else(|| panic!("no help for {id}"))
}

/// The `[default: …]` of `serve --help` comes from each declaration; these
/// are the defaults operators rely on (and the README states).
#[test]
fn help_shows_the_declared_defaults() {
    let command = serve_command();
    for setting in declared() {
        let id = setting.flag().trim_start_matches('-');
        let help = help_of(&command, id);
        let shown = match (setting.form(), setting.default()) {
            (Form::Switch, _) | (_, Fallback::Nothing) => None,
            (_, Fallback::Value(values)) => Some(joined(values, "and")),
            (_, Fallback::Means(meaning)) => Some(meaning.to_owned()),
        };
        match shown {
            Some(default) => assert!(help.ends_with(&format!(" [default: {default}]")), "{help}"),
            None => assert!(!help.contains("[default:"), "{help}"),
        }
    }
    let expected = [
        ("listen", "udp:127.0.0.1:5060 and tcp:127.0.0.1:5060"),
        ("domain", "every domain"),
        ("data-dir", "./locus-data"),
        ("default-expires", "3600"),
        ("min-expires", "60"),
        ("max-expires", "86400"),
        ("max-contacts", "10"),
        ("tcp-idle-timeout", "300"),
        ("commit-window", "1000"),
        ("log-level", "info"),
        ("log-format", "text"),
        ("mode", "proxy"),
        ("branch-timeout", "180"),
        ("auth", "on when accounts exist"),
        ("auth-algorithms", "MD5"),
        ("nonce-lifetime", "300"),
        ("failure-limit", "10"),
        ("user-failure-limit", "20"),
        ("failure-window", "60"),
        ("block-time", "600"),
        ("rate-limit", "500"),
        ("rate-window", "2"),
        ("admin-listen", "127.0.0.1:8060"),
        ("admin-token-file", "DATA_DIR/admin-token"),
    ];
    for (id, default) in expected {
        let help = help_of(&command, id);
        assert!(
            help.ends_with(&format!("[default: {default}]")),
            "{id}: {help}"
        );
    }
}

#[test]
fn config_help_lists_the_keys_and_tables() {
    assert_eq!(
        help_of(&serve_command(), "config"),
        "TOML file with the same settings (keys: listen, domains, data_dir, default_expires, \
         min_expires, max_expires, max_contacts, tcp_idle_timeout, commit_window, log_level, \
         log_format, mode, domain_modes, forking, branch_timeout, record_route, relay, \
         relay_denied_status, multicast, multicast_register, multicast_reply, \
         multicast_interface, admin_listen, admin_token_file, admin_tls_cert, admin_tls_key, \
         admin_insecure, and tables [auth] and [abuse]); flags override it"
    );
}

/// Each word a flag offers is one its check accepts.
#[test]
fn every_offered_value_resolves() {
    let command = serve_command();
    for arg in command.get_arguments() {
        for value in arg.get_possible_values() {
            let flags = [format!("--{}", arg.get_id()), value.get_name().to_owned()];
            if let Err(err) = resolve_flags(&flags) {
                panic!("--{} {}: {err}", arg.get_id(), value.get_name());
            }
        }
    }
}

/// What a reload (SIGHUP) may not change: what binds a socket, opens the
/// store or is read once at start.
#[test]
fn restart_only_settings() {
    let restart_only: Vec<&str> = declared()
        .filter(|setting| !setting.reloadable())
        .map(|setting| setting.key())
        .collect();
    assert_eq!(
        restart_only,
        [
            "listen",
            "data_dir",
            "tcp_idle_timeout",
            "commit_window",
            "log_format",
            "multicast",
            "multicast_interface",
            "auth.users_file",
            "admin_listen",
            "admin_token_file",
            "admin_tls_cert",
            "admin_tls_key",
            "admin_insecure"
        ]
    );
}

/// A reload reports each restart-only setting that changed, and only
/// those: every one of them is compared.
#[test]
fn restart_needed_names_each_restart_only_setting() {
    let token = ["--admin-token-file", "/t"];
    let tls = ["--admin-tls-cert", "/c", "--admin-tls-key", "/k"];
    let mcast = ["--multicast"];
    let cases: [(&[&str], &[&str], &str); 13] = [
        (&[], &["--listen", "udp:127.0.0.1:5070"], "listen"),
        (
            &token,
            &["--data-dir", "/elsewhere", "--admin-token-file", "/t"],
            "data_dir",
        ),
        (&[], &["--tcp-idle-timeout", "9"], "tcp_idle_timeout"),
        (&[], &["--commit-window", "7"], "commit_window"),
        (&[], &["--log-format", "json"], "log_format"),
        (&[], &mcast, "multicast"),
        (
            &mcast,
            &["--multicast", "--multicast-interface", "127.0.0.1"],
            "multicast_interface",
        ),
        (&[], &["--users-file", "/u"], "auth.users_file"),
        (&[], &["--admin-listen", "off"], "admin_listen"),
        (&[], &["--admin-token-file", "/t2"], "admin_token_file"),
        (
            &tls,
            &["--admin-tls-cert", "/c2", "--admin-tls-key", "/k"],
            "admin_tls_cert",
        ),
        (
            &tls,
            &["--admin-tls-cert", "/c", "--admin-tls-key", "/k2"],
            "admin_tls_key",
        ),
        (&[], &["--admin-insecure"], "admin_insecure"),
    ];
    let strings = |flags: &[&str]| flags.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    for (base, changed, key) in cases {
        let running = resolve_flags(&strings(base)).expect("base settings");
        let new = resolve_flags(&strings(changed)).expect("changed settings");
        assert_eq!(
            super::restart::restart_needed(&running, &new),
            [key],
            "{changed:?}"
        );
        assert!(super::restart::restart_needed(&running, &running).is_empty());
    }
    let mut covered: Vec<&str> = cases.iter().map(|(_, _, key)| *key).collect();
    let mut declared_keys: Vec<&str> = declared()
        .filter(|setting| !setting.reloadable())
        .map(|setting| setting.key())
        .collect();
    covered.sort_unstable();
    declared_keys.sort_unstable();
    assert_eq!(covered, declared_keys);

    let running = resolve_flags(&[]).expect("defaults");
    let reloadable = [
        "--max-expires",
        "100",
        "--default-expires",
        "90",
        "--log-level",
        "debug",
    ];
    let new = resolve_flags(&strings(&reloadable)).expect("changed");
    assert!(super::restart::restart_needed(&running, &new).is_empty());
}

/// A secret, declared for the tests only (no real setting is secret yet):
/// at least 8 characters, and its check quotes a bad value.
static PASSWORD: Setting<String, String> = Setting {
    flag: "--test-password",
    key: "test.password",
    value_name: "PASSWORD",
    help: "A secret",
    default: Fallback::Value(&["default-hunter2"]),
    choices: Choices::Any,
    check: |password| {
        if password.len() < 8 {
            return Err(format!("'{password}' is too short"));
        }
        Ok(password)
    },
    reloadable: false,
    secret: true,
};

/// A setting without a default, declared for the tests only.
static REQUIRED: Setting<u32, u32> = Setting {
    flag: "--test-required",
    key: "test_required",
    value_name: "N",
    help: "Must be given",
    default: Fallback::Nothing,
    choices: Choices::Any,
    check: Ok,
    reloadable: true,
    secret: false,
};

static TEST_SETTINGS: [&dyn Declared; 2] = [&PASSWORD, &REQUIRED];

fn test_command() -> Command {
    Command::new("test").args(args(&TEST_SETTINGS))
}

/// The value of `setting` from `flags` and a config file holding `text`.
fn value_of<R: super::input::Input, T>(
    setting: &Setting<R, T>,
    text: &str,
    flags: &[&str],
) -> Result<T, ConfigError> {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write config");
    let path = file.path().to_str().expect("utf-8 temp path");
    let argv = ["test", "--config", path]
        .into_iter()
        .chain(flags.iter().copied());
    let matches = test_command()
        .try_get_matches_from(argv)
        .expect("flags parse");
    let sources = Sources::load(&matches, &TEST_SETTINGS)?;
    setting.value(&sources)
}

#[test]
fn secrets_are_hidden_in_summaries() {
    assert_eq!(
        PASSWORD.show(&"hunter2").to_string(),
        "test.password=<secret>"
    );
    assert_eq!(PASSWORD.redact(&"hunter2").to_string(), "<secret>");
    assert_eq!(
        general::LISTEN.show(&"udp:127.0.0.1:5060").to_string(),
        "listen=udp:127.0.0.1:5060"
    );
    let summary = resolve_flags(&[]).expect("defaults").to_string();
    assert!(!summary.contains("<secret>"), "{summary}");
}

#[test]
fn secrets_are_hidden_in_help() {
    let help = help_of(&test_command(), "test-password");
    assert_eq!(help, "A secret");
    assert_eq!(
        help_of(&test_command(), "config"),
        "TOML file with the same settings (keys: test_required, and table [test]); flags \
         override it"
    );
}

#[test]
fn secrets_are_hidden_in_errors() {
    let given = ["--test-required", "1"];
    assert_eq!(
        value_of(&PASSWORD, "", &given).expect("the default"),
        "default-hunter2"
    );
    let flags = ["--test-required", "1", "--test-password", "short1"];
    let err = value_of(&PASSWORD, "", &flags)
        .expect_err("too short")
        .to_string();
    assert_eq!(
        err,
        "--test-password / test.password: invalid value (a secret, not shown)"
    );

    let err = value_of(&PASSWORD, "[test]\npassword = \"short2\"\n", &given)
        .expect_err("too short")
        .to_string();
    assert!(!err.contains("short2"), "{err}");
    assert!(err.starts_with("--test-password / test.password:"), "{err}");

    for text in [
        "[test]\npassword = 12345678\n",
        "test.password = 12345678\n",
        "[test]\n\"password\" = \"unterminated\n",
    ] {
        let err = value_of(&PASSWORD, text, &given)
            .expect_err("invalid")
            .to_string();
        assert!(
            !err.contains("1234") && !err.contains("unterminated"),
            "{err}"
        );
        assert!(err.contains("line "), "{err}");
    }
}

#[test]
fn a_setting_without_default_is_required() {
    let err = value_of(&REQUIRED, "", &[])
        .expect_err("required")
        .to_string();
    assert_eq!(err, "--test-required / test_required: is required");
    assert_eq!(
        value_of(&REQUIRED, "test_required = 7\n", &[]).expect("file"),
        7
    );
    assert_eq!(
        value_of(&REQUIRED, "test_required = 7\n", &["--test-required", "8"]).expect("flag"),
        8
    );
}
