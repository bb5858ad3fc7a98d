//! The `[auth]` settings: digest authentication of REGISTERs and calls.

use std::path::PathBuf;

use sip_core::auth::Grant;
use sip_core::digest::Algorithm;

use super::checks::{at_least_one, pick};
use super::error::ConfigError;
use super::input::{CommaList, Switch};
use super::setting::{declare, Choices, Fallback, Setting};
use super::sources::Sources;

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

declare! {
    /// The `[auth]` settings, in the order of `--help` and the README.
    AUTH;

    /// On, off, or (unset) on when accounts exist.
    MODE: Setting<Option<String>, Option<bool>> = Setting {
        flag: "--auth",
        key: "auth.mode",
        value_name: "on|off",
        help: "Digest authentication: on or off; a listener not on loopback requires accounts \
               or --auth off",
        default: Fallback::Means("on when accounts exist"),
        choices: Choices::OneOfAnyCase(&["on", "off"]),
        check: |mode| match mode {
            None => Ok(None),
            Some(text) => {
                let text = text.to_ascii_lowercase();
                pick(&text, &[("on", true), ("off", false)], false).map(Some)
            }
        },
        reloadable: true,
        secret: false,
    };

    /// The realm of every challenge; unset: the request's domain.
    REALM: Setting<Option<String>, Option<String>> = Setting {
        flag: "--realm",
        key: "auth.realm",
        value_name: "REALM",
        help: "Realm of every challenge",
        default: Fallback::Means("the request's domain"),
        choices: Choices::Any,
        check: |realm| match realm {
            Some(r) if r.trim().is_empty() || r.contains('"') => {
                Err("must be non-empty and contain no double quote".to_owned())
            }
            realm => Ok(realm),
        },
        reloadable: true,
        secret: false,
    };

    /// The algorithms offered and accepted. MD5 alone by default: RFC 8760
    /// clients are served by enabling SHA-512-256 and SHA-256 (sent first),
    /// but many deployed UAs (SIPp 3.6, sipsak, baresip 1.0, older phones)
    /// read only the first challenge and fail on any algorithm but MD5, so
    /// the stronger ones are opt-in, as in Kamailio, OpenSIPS and Asterisk.
    ALGORITHMS: Setting<CommaList, Vec<Algorithm>> = Setting {
        flag: "--auth-algorithms",
        key: "auth.algorithms",
        value_name: "LIST",
        help: "Digest algorithms offered, comma-separated, from SHA-512-256, SHA-256, MD5 (sent \
               strongest first); MD5 alone by default, since many deployed UAs fail when the \
               first challenge is not MD5",
        default: Fallback::Value(&["MD5"]),
        choices: Choices::Any,
        check: |CommaList(list)| algorithms(&list),
        reloadable: true,
        secret: false,
    };

    /// How long a nonce stays valid, seconds.
    NONCE_LIFETIME: Setting<u32, u32> = Setting {
        flag: "--nonce-lifetime",
        key: "auth.nonce_lifetime",
        value_name: "SECS",
        help: "How long a nonce stays valid, in seconds; older ones get stale=true",
        default: Fallback::Value(&["300"]),
        choices: Choices::Any,
        check: at_least_one,
        reloadable: true,
        secret: false,
    };

    /// An htdigest file imported into the accounts at start.
    USERS_FILE: Setting<Option<PathBuf>, Option<PathBuf>> = Setting {
        flag: "--users-file",
        key: "auth.users_file",
        value_name: "FILE",
        help: "htdigest-style file (user:realm:MD5-HA1 lines) imported into the accounts at start",
        default: Fallback::Nothing,
        choices: Choices::Any,
        check: Ok,
        reloadable: false,
        secret: false,
    };

    /// Accounts that may register AORs other than their own.
    THIRD_PARTY: Setting<Vec<String>, Vec<Grant>> = Setting {
        flag: "--allow-third-party",
        key: "auth.third_party",
        value_name: "IDENTITY=PATTERN",
        help: "Let the account IDENTITY (user@domain) register AORs matching PATTERN \
               (user@domain, *@domain or *); repeatable, replaces the configured list",
        default: Fallback::Nothing,
        choices: Choices::Any,
        check: |specs| specs.iter().map(|s| Grant::parse(s)).collect(),
        reloadable: true,
        secret: false,
    };

    /// Hide which users exist from callers.
    ENUMERATION_PROTECTION: Setting<Switch, bool> = Setting {
        flag: "--enumeration-protection",
        key: "auth.enumeration_protection",
        value_name: "",
        help: "Answer a call to an unknown user with 480, like a known user without bindings, \
               instead of 404 (hides which users exist)",
        default: Fallback::Nothing,
        choices: Choices::Any,
        check: |Switch(on)| Ok(on),
        reloadable: true,
        secret: false,
    };
}

/// The authentication settings.
pub fn resolve(sources: &Sources) -> Result<AuthSettings, ConfigError> {
    Ok(AuthSettings {
        enabled: MODE.value(sources)?,
        realm: REALM.value(sources)?,
        algorithms: ALGORITHMS.value(sources)?,
        nonce_lifetime: NONCE_LIFETIME.value(sources)?,
        users_file: USERS_FILE.value(sources)?,
        grants: THIRD_PARTY.value(sources)?,
        enumeration_protection: ENUMERATION_PROTECTION.value(sources)?,
    })
}

/// Parses an algorithm list into the algorithms, strongest first; the error
/// names the bad entry.
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
