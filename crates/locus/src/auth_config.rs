//! The `[auth]` and `[abuse]` settings of `locus serve`: flags over the
//! config file's tables over the defaults, validated.

use std::path::PathBuf;

use serde::Deserialize;
use sip_core::abuse::{AbuseConfig, BlockAction};
use sip_core::auth::Grant;
use sip_core::digest::Algorithm;

use crate::cli::ServeArgs;
use crate::config::ConfigError;

/// Default nonce lifetime, seconds.
pub const DEFAULT_NONCE_LIFETIME: u32 = 300;
/// Default failures from one address that block it.
pub const DEFAULT_FAILURE_LIMIT: u32 = 10;
/// Default failures for one user name that block each failing address.
pub const DEFAULT_USER_FAILURE_LIMIT: u32 = 20;
/// Default failure window, seconds.
pub const DEFAULT_FAILURE_WINDOW: u32 = 60;
/// Default block time, seconds.
pub const DEFAULT_BLOCK_TIME: u32 = 600;
/// Default requests per rate window per address.
pub const DEFAULT_RATE_LIMIT: u32 = 500;
/// Default rate window, seconds.
pub const DEFAULT_RATE_WINDOW: u32 = 2;

/// Algorithms offered when none are configured: MD5 only. RFC 8760
/// clients are served by enabling SHA-512-256 and SHA-256 (sent first),
/// but many deployed UAs (SIPp 3.6, sipsak, baresip 1.0, older phones) read
/// only the first challenge and fail on any algorithm but MD5, so the
/// stronger ones are opt-in, as in Kamailio, OpenSIPS and Asterisk.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[Algorithm::Md5];

/// The `[auth]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    mode: Option<String>,
    realm: Option<String>,
    algorithms: Option<Vec<String>>,
    nonce_lifetime: Option<u32>,
    users_file: Option<PathBuf>,
    third_party: Option<Vec<String>>,
    enumeration_protection: Option<bool>,
}

/// The `[abuse]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbuseFile {
    failure_limit: Option<u32>,
    user_failure_limit: Option<u32>,
    failure_window: Option<u32>,
    block_time: Option<u32>,
    block_action: Option<String>,
    rate_limit: Option<u32>,
    rate_window: Option<u32>,
}

/// Validated authentication settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// `Some(true)`: `--auth on`; `Some(false)`: `--auth off`; `None`: on
    /// when accounts exist (refused on a non-loopback listener without any).
    pub enabled: Option<bool>,
    /// The realm of every challenge; `None`: the request's domain.
    pub realm: Option<String>,
    /// Algorithms offered, strongest first.
    pub algorithms: Vec<Algorithm>,
    /// Nonce lifetime, seconds (≥ 1).
    pub nonce_lifetime: u32,
    /// htdigest file imported at start.
    pub users_file: Option<PathBuf>,
    /// Third-party registration grants.
    pub grants: Vec<Grant>,
    /// Answer a call to an unknown user like one to a known user without
    /// bindings (480), instead of 404.
    pub enumeration_protection: bool,
}

fn invalid(flag: &'static str, key: &'static str, message: String) -> ConfigError {
    ConfigError::Invalid { flag, key, message }
}

/// Parses an algorithm list; the error names the bad entry.
fn algorithms(list: &[String]) -> Result<Vec<Algorithm>, String> {
    let mut out = Vec::new();
    for raw in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match Algorithm::parse(raw) {
            Some((a, false)) => {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
            _ => {
                return Err(format!(
                    "unknown algorithm '{raw}' (expected SHA-512-256, SHA-256 or MD5)"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err("at least one algorithm is required".to_owned());
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.strength()));
    Ok(out)
}

/// Merges the `[auth]` flags and table.
pub fn resolve_auth(args: &ServeArgs, file: AuthFile) -> Result<AuthSettings, ConfigError> {
    let mode = args.auth.clone().or(file.mode);
    let enabled = match mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(other) => {
            return Err(invalid(
                "--auth",
                "auth.mode",
                format!("must be on or off, got '{other}'"),
            ))
        }
    };
    let algorithms = match (&args.auth_algorithms, file.algorithms) {
        (Some(flag), _) => {
            let list: Vec<String> = flag.split(',').map(str::to_owned).collect();
            self::algorithms(&list)
                .map_err(|m| invalid("--auth-algorithms", "auth.algorithms", m))?
        }
        (None, Some(list)) => self::algorithms(&list)
            .map_err(|m| invalid("--auth-algorithms", "auth.algorithms", m))?,
        (None, None) => DEFAULT_ALGORITHMS.to_vec(),
    };
    let nonce_lifetime = args
        .nonce_lifetime
        .or(file.nonce_lifetime)
        .unwrap_or(DEFAULT_NONCE_LIFETIME);
    if nonce_lifetime == 0 {
        return Err(invalid(
            "--nonce-lifetime",
            "auth.nonce_lifetime",
            "must be at least 1, got 0".to_owned(),
        ));
    }
    let realm = args.realm.clone().or(file.realm);
    if realm
        .as_deref()
        .is_some_and(|r| r.trim().is_empty() || r.contains('"'))
    {
        return Err(invalid(
            "--realm",
            "auth.realm",
            "must be non-empty and contain no double quote".to_owned(),
        ));
    }
    let specs = if args.allow_third_party.is_empty() {
        file.third_party.unwrap_or_default()
    } else {
        args.allow_third_party.clone()
    };
    let grants = specs
        .iter()
        .map(|s| Grant::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid("--allow-third-party", "auth.third_party", m))?;
    Ok(AuthSettings {
        enabled,
        realm,
        algorithms,
        nonce_lifetime,
        users_file: args.users_file.clone().or(file.users_file),
        grants,
        enumeration_protection: args.enumeration_protection
            || file.enumeration_protection.unwrap_or(false),
    })
}

/// Merges the `[abuse]` flags and table.
pub fn resolve_abuse(args: &ServeArgs, file: AbuseFile) -> Result<AbuseConfig, ConfigError> {
    let secs = |flag: &'static str, key: &'static str, v: u32| -> Result<u64, ConfigError> {
        if v == 0 {
            return Err(invalid(flag, key, "must be at least 1, got 0".to_owned()));
        }
        Ok(u64::from(v) * 1000)
    };
    let action = args.block_action.clone().or(file.block_action);
    let block_action = match action.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("drop") => BlockAction::Drop,
        Some("403") => BlockAction::Forbidden,
        Some(other) => {
            return Err(invalid(
                "--block-action",
                "abuse.block_action",
                format!("must be drop or 403, got '{other}'"),
            ))
        }
    };
    Ok(AbuseConfig {
        source_failure_limit: args
            .failure_limit
            .or(file.failure_limit)
            .unwrap_or(DEFAULT_FAILURE_LIMIT),
        user_failure_limit: args
            .user_failure_limit
            .or(file.user_failure_limit)
            .unwrap_or(DEFAULT_USER_FAILURE_LIMIT),
        failure_window_ms: secs(
            "--failure-window",
            "abuse.failure_window",
            args.failure_window
                .or(file.failure_window)
                .unwrap_or(DEFAULT_FAILURE_WINDOW),
        )?,
        block_ms: secs(
            "--block-time",
            "abuse.block_time",
            args.block_time
                .or(file.block_time)
                .unwrap_or(DEFAULT_BLOCK_TIME),
        )?,
        block_action,
        rate_limit: args
            .rate_limit
            .or(file.rate_limit)
            .unwrap_or(DEFAULT_RATE_LIMIT),
        rate_window_ms: secs(
            "--rate-window",
            "abuse.rate_window",
            args.rate_window
                .or(file.rate_window)
                .unwrap_or(DEFAULT_RATE_WINDOW),
        )?,
        ..AbuseConfig::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(flags: &[&str]) -> ServeArgs {
        let mut all = vec!["locus", "serve"];
        all.extend_from_slice(flags);
        match Cli::try_parse_from(all).expect("flags parse").command {
            Command::Serve(a) => *a,
            _ => unreachable!("serve"),
        }
    }

    #[test]
    fn defaults() {
        let a = resolve_auth(&args(&[]), AuthFile::default()).unwrap();
        assert_eq!(a.enabled, None);
        assert_eq!(a.algorithms, DEFAULT_ALGORITHMS.to_vec());
        assert_eq!(a.nonce_lifetime, DEFAULT_NONCE_LIFETIME);
        let b = resolve_abuse(&args(&[]), AbuseFile::default()).unwrap();
        assert_eq!(b.source_failure_limit, DEFAULT_FAILURE_LIMIT);
        assert_eq!(b.block_ms, u64::from(DEFAULT_BLOCK_TIME) * 1000);
        assert_eq!(b.block_action, BlockAction::Drop);
        assert_eq!(b.rate_limit, DEFAULT_RATE_LIMIT);
    }

    #[test]
    fn flags_and_file() {
        let file: AuthFile = toml::from_str(
            "mode = \"off\"\nalgorithms = [\"md5\", \"SHA-256\"]\nthird_party = [\"pbx@example.com=*@example.com\"]",
        )
        .unwrap();
        let a = resolve_auth(&args(&["--realm", "corp"]), file).unwrap();
        assert_eq!(a.enabled, Some(false));
        assert_eq!(a.algorithms, vec![Algorithm::Sha256, Algorithm::Md5]);
        assert_eq!(a.realm.as_deref(), Some("corp"));
        assert_eq!(a.grants.len(), 1);
        let a = resolve_auth(
            &args(&["--auth", "ON", "--auth-algorithms", "MD5"]),
            AuthFile::default(),
        )
        .unwrap();
        assert_eq!(a.enabled, Some(true));
        assert_eq!(a.algorithms, vec![Algorithm::Md5]);
        let file: AbuseFile = toml::from_str("block_action = \"403\"\nrate_limit = 0").unwrap();
        let b = resolve_abuse(&args(&["--failure-limit", "3"]), file).unwrap();
        assert_eq!(b.block_action, BlockAction::Forbidden);
        assert_eq!(b.rate_limit, 0);
        assert_eq!(b.source_failure_limit, 3);
    }

    #[test]
    fn errors_name_flag_and_key() {
        let err = |r: Result<AuthSettings, ConfigError>| r.unwrap_err().to_string();
        let e = err(resolve_auth(
            &args(&["--auth-algorithms", "SHA-1"]),
            AuthFile::default(),
        ));
        assert!(
            e.contains("--auth-algorithms / auth.algorithms") && e.contains("SHA-1"),
            "{e}"
        );
        let e = err(resolve_auth(
            &args(&["--nonce-lifetime", "0"]),
            AuthFile::default(),
        ));
        assert!(e.contains("auth.nonce_lifetime"), "{e}");
        let e = err(resolve_auth(
            &args(&["--allow-third-party", "x"]),
            AuthFile::default(),
        ));
        assert!(e.contains("--allow-third-party"), "{e}");
        let file: AuthFile = toml::from_str("mode = \"maybe\"").unwrap();
        assert!(err(resolve_auth(&args(&[]), file)).contains("auth.mode"));
        let e = resolve_abuse(&args(&["--rate-window", "0"]), AbuseFile::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("abuse.rate_window"), "{e}");
        assert!(toml::from_str::<AbuseFile>("rate = 1").is_err());
    }
}
