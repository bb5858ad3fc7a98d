//! The settings of the server as a whole: its sockets, domains, store,
//! registration lifetimes and logging.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use super::checks::{at_least_one, pick, seconds};
use super::error::ConfigError;
use super::setting::{declare, Choices, Fallback, Setting};
use crate::domain::normalize_domain;
use crate::listen::ListenSpec;
use crate::logging::{LogFormat, LOG_LEVELS};

/// Default directory of the location database, for `serve` and for the
/// subcommands that read it.
pub const DEFAULT_DATA_DIR: &str = "./locus-data";

declare! {
    /// The general settings, in the order of `--help` and the README.
    GENERAL;

    /// The sockets to serve: non-empty, without duplicates.
    LISTEN: Setting<Vec<ListenSpec>, Vec<ListenSpec>> = Setting {
        flag: "--listen",
        key: "listen",
        value_name: "SPEC",
        help: "Address to listen on, as udp:IP:PORT or tcp:IP:PORT (IPv6 as udp:[::1]:5060); \
               repeatable, replaces the configured list",
        default: Fallback::Value(&["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]),
        choices: Choices::Any,
        check: check_listen,
        reloadable: false,
        secret: false,
    };

    /// The domains served, lowercased and deduplicated; none: every domain.
    DOMAINS: Setting<Vec<String>, Vec<String>> = Setting {
        flag: "--domain",
        key: "domains",
        value_name: "DOMAIN",
        help: "Domain (hostname or IP literal) this registrar is responsible for; repeatable, \
               replaces the configured list",
        default: Fallback::Means("every domain"),
        choices: Choices::Any,
        check: normalize_domains,
        reloadable: true,
        secret: false,
    };

    /// Directory of the location and account databases.
    DATA_DIR: Setting<PathBuf, PathBuf> = Setting {
        flag: "--data-dir",
        key: "data_dir",
        value_name: "DIR",
        help: "Directory holding the location and account database, the server secret, the \
               admin token and the audit log",
        default: Fallback::Value(&[DEFAULT_DATA_DIR]),
        choices: Choices::Any,
        check: Ok,
        reloadable: false,
        secret: false,
    };

    /// Lifetime granted to a REGISTER that asks for none.
    DEFAULT_EXPIRES: Setting<u32, u32> = Setting {
        flag: "--default-expires",
        key: "default_expires",
        value_name: "SECS",
        help: "Registration lifetime granted when the client asks for none, in seconds",
        default: Fallback::Value(&["3600"]),
        choices: Choices::Any,
        check: Ok,
        reloadable: true,
        secret: false,
    };

    /// Shortest lifetime accepted (423 below it).
    MIN_EXPIRES: Setting<u32, u32> = Setting {
        flag: "--min-expires",
        key: "min_expires",
        value_name: "SECS",
        help: "Shortest registration lifetime accepted, in seconds; shorter requests get 423 \
               Interval Too Brief",
        default: Fallback::Value(&["60"]),
        choices: Choices::Any,
        check: at_least_one,
        reloadable: true,
        secret: false,
    };

    /// Longest lifetime granted (longer ones are shortened).
    MAX_EXPIRES: Setting<u32, u32> = Setting {
        flag: "--max-expires",
        key: "max_expires",
        value_name: "SECS",
        help: "Longest registration lifetime granted, in seconds; longer requests are shortened",
        default: Fallback::Value(&["86400"]),
        choices: Choices::Any,
        check: Ok,
        reloadable: true,
        secret: false,
    };

    /// Most bindings of one AOR.
    MAX_CONTACTS: Setting<u32, usize> = Setting {
        flag: "--max-contacts",
        key: "max_contacts",
        value_name: "N",
        help: "Most contacts one address-of-record may have bound at once",
        default: Fallback::Value(&["10"]),
        choices: Choices::Any,
        check: |n| at_least_one(n).map(|n| n as usize),
        reloadable: true,
        secret: false,
    };

    /// How long an idle TCP connection stays open.
    TCP_IDLE_TIMEOUT: Setting<u32, Duration> = Setting {
        flag: "--tcp-idle-timeout",
        key: "tcp_idle_timeout",
        value_name: "SECS",
        help: "How long an idle TCP connection is kept open, in seconds",
        default: Fallback::Value(&["300"]),
        choices: Choices::Any,
        check: seconds,
        reloadable: false,
        secret: false,
    };

    /// Group-commit window of the location store, microseconds (the
    /// default is `location::DEFAULT_COMMIT_WINDOW`).
    COMMIT_WINDOW: Setting<u32, Duration> = Setting {
        flag: "--commit-window",
        key: "commit_window",
        value_name: "MICROS",
        help: "Group-commit window of the location store, in microseconds: after a change the \
               store waits this long for more before one fsync makes them all durable (less CPU \
               per registration, up to this much more latency; 0 commits at once, as does a \
               change arriving after five windows without any)",
        default: Fallback::Value(&["1000"]),
        choices: Choices::Any,
        check: |us| Ok(Duration::from_micros(us.into())),
        reloadable: false,
        secret: false,
    };

    /// Log verbosity, lowercased (`RUST_LOG` overrides it).
    LOG_LEVEL: Setting<String, String> = Setting {
        flag: "--log-level",
        key: "log_level",
        value_name: "LEVEL",
        help: "Log verbosity",
        default: Fallback::Value(&["info"]),
        choices: Choices::OneOfAnyCase(&LOG_LEVELS),
        check: normalize_log_level,
        reloadable: true,
        secret: false,
    };

    /// How log lines are written: for people, or as JSON for collectors.
    LOG_FORMAT: Setting<String, LogFormat> = Setting {
        flag: "--log-format",
        key: "log_format",
        value_name: "FORMAT",
        help: "Format of the log lines on stderr: text (for people) or json (one JSON object \
               per line, for log collectors)",
        default: Fallback::Value(&["text"]),
        choices: Choices::OneOf(&["text", "json"]),
        check: |text| pick(&text, &[("text", LogFormat::Text), ("json", LogFormat::Json)], false),
        reloadable: false,
        secret: false,
    };
}

/// `min_expires ≤ default_expires ≤ max_expires`.
pub fn check_expires(min: u32, default: u32, max: u32) -> Result<(), ConfigError> {
    let max_key = MAX_EXPIRES.key;
    let min_key = MIN_EXPIRES.key;
    if min > max {
        let message = format!("must be ≤ {max_key} ({max}), got {min}");
        return Err(MIN_EXPIRES.invalid(message));
    }
    if default < min {
        let message = format!("must be ≥ {min_key} ({min}), got {default}");
        return Err(DEFAULT_EXPIRES.invalid(message));
    }
    if default > max {
        let message = format!("must be ≤ {max_key} ({max}), got {default}");
        return Err(DEFAULT_EXPIRES.invalid(message));
    }
    Ok(())
}

fn check_listen(listen: Vec<ListenSpec>) -> Result<Vec<ListenSpec>, String> {
    if listen.is_empty() {
        return Err("at least one listen address is required".to_owned());
    }
    let mut seen = HashSet::new();
    match listen.iter().find(|spec| !seen.insert(**spec)) {
        Some(spec) => Err(format!("{spec} is listed twice")),
        None => Ok(listen),
    }
}

fn normalize_log_level(level: String) -> Result<String, String> {
    let level = level.to_ascii_lowercase();
    if LOG_LEVELS.contains(&level.as_str()) {
        return Ok(level);
    }
    Err(format!(
        "must be one of {}, got '{level}'",
        LOG_LEVELS.join(", ")
    ))
}

fn normalize_domains(domains: Vec<String>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::with_capacity(domains.len());
    for raw in &domains {
        let domain = normalize_domain(raw)
            .ok_or_else(|| format!("'{raw}' is not a valid hostname or IP address"))?;
        if !out.contains(&domain) {
            out.push(domain);
        }
    }
    Ok(out)
}
