//! The settings of the admin listener: where the HTTP admin API (metrics,
//! health, the REST API, the dashboard) listens, the file of its token,
//! and its TLS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::input::Switch;
use super::setting::{declare, Choices, Fallback, Setting};
use super::sources::Sources;

/// File name of the admin token inside the data directory (the default
/// of `--admin-token-file`).
pub const TOKEN_FILE_NAME: &str = "admin-token";

/// File name of the admin listener's audit log inside the data directory.
pub const AUDIT_LOG_NAME: &str = "audit.log";

/// The default of `--admin-listen`, also where the CLI looks for a
/// running server.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8060";

/// Validated settings of the admin listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    /// Where it listens; `None`: `--admin-listen off`, no admin listener.
    pub listen: Option<SocketAddr>,
    /// The file holding the bearer token (created when missing).
    pub token_file: PathBuf,
    /// Its certificate and key, when it serves HTTPS.
    pub tls: Option<TlsPaths>,
    /// Plain HTTP allowed on an address that is not loopback.
    pub insecure: bool,
}

/// The PEM files of the admin listener's TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

declare! {
    /// The admin listener's settings, in the order of `--help` and the README.
    ADMIN;

    /// Where the admin API listens; `off`: nowhere.
    ADMIN_LISTEN: Setting<String, Option<SocketAddr>> = Setting {
        flag: "--admin-listen",
        key: "admin_listen",
        value_name: "IP:PORT",
        help: "Address of the HTTP admin API (metrics, health, REST API, dashboard), or off; \
               an address that is not loopback needs --admin-tls-cert and --admin-tls-key, or \
               --admin-insecure",
        default: Fallback::Value(&[DEFAULT_ADMIN_LISTEN]),
        choices: Choices::Any,
        check: parse_admin_listen,
        reloadable: false,
        secret: false,
    };

    /// The file of the admin API's bearer token.
    ADMIN_TOKEN_FILE: Setting<Option<PathBuf>, Option<PathBuf>> = Setting {
        flag: "--admin-token-file",
        key: "admin_token_file",
        value_name: "FILE",
        help: "File holding the admin API's bearer token (created with 32 random bytes, mode \
               0600, when missing)",
        default: Fallback::Means("DATA_DIR/admin-token"),
        choices: Choices::Any,
        check: Ok,
        reloadable: false,
        secret: false,
    };

    /// The admin listener's certificate (PEM); with the key, HTTPS.
    ADMIN_TLS_CERT: Setting<Option<PathBuf>, Option<PathBuf>> = Setting {
        flag: "--admin-tls-cert",
        key: "admin_tls_cert",
        value_name: "FILE",
        help: "PEM certificate chain of the admin API (HTTPS); needs --admin-tls-key; re-read \
               on reload",
        default: Fallback::Nothing,
        choices: Choices::Any,
        check: Ok,
        reloadable: false,
        secret: false,
    };

    /// The admin listener's private key (PEM).
    ADMIN_TLS_KEY: Setting<Option<PathBuf>, Option<PathBuf>> = Setting {
        flag: "--admin-tls-key",
        key: "admin_tls_key",
        value_name: "FILE",
        help: "PEM private key of the admin API (HTTPS); needs --admin-tls-cert; re-read on \
               reload",
        default: Fallback::Nothing,
        choices: Choices::Any,
        check: Ok,
        reloadable: false,
        secret: false,
    };

    /// Plain HTTP on an address that is not loopback.
    ADMIN_INSECURE: Setting<Switch, bool> = Setting {
        flag: "--admin-insecure",
        key: "admin_insecure",
        value_name: "",
        help: "Allow the admin API over plain HTTP on an address that is not loopback (the \
               token then crosses the network in clear text)",
        default: Fallback::Nothing,
        choices: Choices::Any,
        check: |Switch(on)| Ok(on),
        reloadable: false,
        secret: false,
    };
}

/// The admin listener's settings; `data_dir` gives the token file's
/// default.
pub fn resolve(sources: &Sources, data_dir: &Path) -> Result<AdminSettings, ConfigError> {
    let listen = ADMIN_LISTEN.value(sources)?;
    let token_file = ADMIN_TOKEN_FILE
        .value(sources)?
        .unwrap_or_else(|| data_dir.join(TOKEN_FILE_NAME));
    let tls = match (
        ADMIN_TLS_CERT.value(sources)?,
        ADMIN_TLS_KEY.value(sources)?,
    ) {
        (Some(cert), Some(key)) => Some(TlsPaths { cert, key }),
        (None, None) => None,
        (Some(_), None) => {
            let message = format!("is required with {}", ADMIN_TLS_CERT.flag);
            return Err(ADMIN_TLS_KEY.invalid(message));
        }
        (None, Some(_)) => {
            let message = format!("is required with {}", ADMIN_TLS_KEY.flag);
            return Err(ADMIN_TLS_CERT.invalid(message));
        }
    };
    let insecure = ADMIN_INSECURE.value(sources)?;
    if let Some(addr) = listen {
        if !addr.ip().is_loopback() && tls.is_none() && !insecure {
            return Err(ADMIN_LISTEN.invalid(format!(
                "{addr} is not a loopback address: serve the admin API there with \
                 {} and {} (HTTPS), or pass {} for plain HTTP",
                ADMIN_TLS_CERT.flag, ADMIN_TLS_KEY.flag, ADMIN_INSECURE.flag
            )));
        }
    }
    Ok(AdminSettings {
        listen,
        token_file,
        tls,
        insecure,
    })
}

/// `IP:PORT` (IPv6 as `[::1]:8060`) or `off`.
fn parse_admin_listen(text: String) -> Result<Option<SocketAddr>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.parse::<SocketAddr>()
        .map(Some)
        .map_err(|_| format!("must be IP:PORT (IPv6 as [::1]:8060) or off, got '{text}'"))
}
