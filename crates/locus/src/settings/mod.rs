//! The settings of `locus serve`. Each setting is declared once (see
//! [`setting::Setting`] and the tables in [`general`], [`routing`],
//! [`auth`] and [`abuse`]); the flags, the config file's keys, `--help`
//! and the checks all come from the declarations. A value comes from its
//! flag, else from the config file (`--config FILE`), else from its
//! default; [`resolve`] merges and checks them into [`Settings`].
//!
//! A new setting is one entry in the `declare!` table of its group (or of a
//! new group file, listed in [`declared`]): flag, key (`table.key` for a
//! key in a `[table]`), value placeholder, help, default, accepted words,
//! check, whether a reload may change it, whether it is a secret. Its value
//! is `NAME.value(&sources)?` wherever [`Settings`] is built, and the
//! README's `locus serve` table needs its row (a test compares them). A
//! value of a type no setting has used yet needs an `input::Single` impl.

mod abuse;
mod admin;
mod auth;
mod checks;
mod error;
mod file;
mod flags;
mod general;
mod input;
mod restart;
mod routing;
mod setting;
mod sources;

#[cfg(test)]
mod contrib_tests;
#[cfg(test)]
mod declaration_tests;
#[cfg(test)]
mod readme_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use sip_core::abuse::AbuseConfig;

use crate::listen::ListenSpec;
use crate::logging::LogFormat;
use general::{
    COMMIT_WINDOW, DATA_DIR, DEFAULT_EXPIRES, DOMAINS, LISTEN, LOG_FORMAT, LOG_LEVEL, MAX_CONTACTS,
    MAX_EXPIRES, MIN_EXPIRES, TCP_IDLE_TIMEOUT,
};
use setting::Declared;
use sources::Sources;

pub use admin::{AdminSettings, AUDIT_LOG_NAME, DEFAULT_ADMIN_LISTEN, TOKEN_FILE_NAME};
pub use auth::AuthSettings;
pub use error::ConfigError;
pub use flags::ServeArgs;
pub use general::DEFAULT_DATA_DIR;
pub use restart::restart_needed;
pub use routing::{Mode, RoutingSettings};

/// Every declared setting, in the order of `--help` and the README.
fn declared() -> impl Iterator<Item = &'static dyn Declared> {
    [
        general::GENERAL,
        routing::ROUTING,
        auth::AUTH,
        abuse::ABUSE,
        admin::ADMIN,
    ]
    .into_iter()
    .flatten()
    .copied()
}

/// Validated settings of `locus serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Sockets to listen on; non-empty, without duplicates.
    pub listen: Vec<ListenSpec>,
    /// Domains served, lowercased and deduplicated; IPv6 literals in bracketed
    /// canonical form (`[::1]`). Empty means every domain is served.
    pub domains: Vec<String>,
    /// Directory of the location database (relative paths are relative to the
    /// working directory).
    pub data_dir: PathBuf,
    /// Registration lifetime granted when the client asks for none, in seconds.
    pub default_expires: u32,
    /// Shortest registration lifetime accepted, in seconds (≥ 1).
    pub min_expires: u32,
    /// Longest registration lifetime granted, in seconds.
    pub max_expires: u32,
    /// Most contacts one address-of-record may have bound at once (≥ 1).
    pub max_contacts: usize,
    /// How long an idle TCP connection is kept open (≥ 1 s).
    pub tcp_idle_timeout: Duration,
    /// Group-commit window of the location store.
    pub commit_window: Duration,
    /// Log verbosity, one of [`crate::logging::LOG_LEVELS`], lowercase.
    pub log_level: String,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// Proxy, redirect, relay and multicast behaviour.
    pub routing: RoutingSettings,
    /// Digest authentication.
    pub auth: AuthSettings,
    /// Brute-force and flood limits.
    pub abuse: AbuseConfig,
    /// The admin listener.
    pub admin: AdminSettings,
}

impl fmt::Display for Settings {
    /// One-line summary of the effective settings, for the startup log;
    /// secrets show as `<secret>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listen: Vec<String> = self.listen.iter().map(ToString::to_string).collect();
        let listen = listen.join(",");
        let domains = if self.domains.is_empty() {
            "*".to_owned()
        } else {
            self.domains.join(",")
        };
        let tcp_idle_timeout = format!("{}s", self.tcp_idle_timeout.as_secs());
        write!(
            f,
            "{} {} {} expires(min/default/max)={}/{}/{} {} {} {}",
            LISTEN.show(&listen),
            DOMAINS.show(&domains),
            DATA_DIR.show(&self.data_dir.display()),
            MIN_EXPIRES.redact(&self.min_expires),
            DEFAULT_EXPIRES.redact(&self.default_expires),
            MAX_EXPIRES.redact(&self.max_expires),
            MAX_CONTACTS.show(&self.max_contacts),
            TCP_IDLE_TIMEOUT.show(&tcp_idle_timeout),
            LOG_LEVEL.show(&self.log_level),
        )
    }
}

/// Merges the flags in `args` over the config file they name (if any) over
/// the declared defaults, and checks the result.
pub fn resolve(args: &ServeArgs) -> Result<Settings, ConfigError> {
    let declared: Vec<_> = declared().collect();
    let sources = Sources::load(args.matches(), &declared)?;
    let listen = LISTEN.value(&sources)?;
    let domains = DOMAINS.value(&sources)?;
    let data_dir = DATA_DIR.value(&sources)?;
    let default_expires = DEFAULT_EXPIRES.value(&sources)?;
    let min_expires = MIN_EXPIRES.value(&sources)?;
    let max_expires = MAX_EXPIRES.value(&sources)?;
    general::check_expires(min_expires, default_expires, max_expires)?;
    Ok(Settings {
        listen,
        domains,
        default_expires,
        min_expires,
        max_expires,
        max_contacts: MAX_CONTACTS.value(&sources)?,
        tcp_idle_timeout: TCP_IDLE_TIMEOUT.value(&sources)?,
        commit_window: COMMIT_WINDOW.value(&sources)?,
        log_level: LOG_LEVEL.value(&sources)?,
        log_format: LOG_FORMAT.value(&sources)?,
        routing: routing::resolve(&sources)?,
        auth: auth::resolve(&sources)?,
        abuse: abuse::resolve(&sources)?,
        admin: admin::resolve(&sources, &data_dir)?,
        data_dir,
    })
}

/// The settings of a server started with `--config path` and no other
/// flag (the management commands read a server's file this way).
pub fn from_file(path: &std::path::Path) -> Result<Settings, ConfigError> {
    use clap::{Args, Command, FromArgMatches};
    let command = ServeArgs::augment_args(Command::new("serve"));
    let argv = [
        std::ffi::OsStr::new("serve"),
        "--config".as_ref(),
        path.as_os_str(),
    ];
    let matches = command
        .try_get_matches_from(argv)
        .map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    let args = ServeArgs::from_arg_matches(&matches).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    resolve(&args)
}
