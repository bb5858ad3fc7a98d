//! Digest authentication of `serve`: the account cache (opened once, at
//! start, and shared by every reload), the server secret, and whether to
//! authenticate at all.

use crate::listen::ListenSpec;
use crate::settings::Settings;
use location::{SqliteUsers, UserCache};
use server::{AuthMode, AuthSetup};
use sip_core::auth::AuthConfig;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// Exit status for a configuration that cannot be served (as for invalid flags).
pub const EXIT_INVALID: u8 = 2;

/// Why `serve` cannot start (or a reload cannot apply): the message, and
/// the exit status of a start.
#[derive(Debug)]
pub struct Refused {
    /// What is wrong, on one line.
    pub message: String,
    /// 2 for a configuration that cannot be served, 1 for a failure.
    pub code: u8,
}

impl Refused {
    fn invalid(message: String) -> Refused {
        Refused {
            message,
            code: EXIT_INVALID,
        }
    }

    fn failed(message: String) -> Refused {
        Refused { message, code: 1 }
    }
}

/// The accounts and the secret of a running server.
pub struct Accounts {
    /// The account cache: the one the server authenticates against.
    pub users: Arc<UserCache<SqliteUsers>>,
    data_dir: PathBuf,
    /// The server secret, read when authentication first needs it.
    secret: Mutex<Option<Vec<u8>>>,
}

impl Accounts {
    /// Opens the account database of `settings.data_dir`, importing
    /// `--users-file` first.
    pub fn open(settings: &Settings) -> Result<Accounts, Refused> {
        let store = SqliteUsers::open(&settings.data_dir)
            .map_err(|e| Refused::failed(format!("cannot open the account database: {e}")))?;
        if let Some(path) = &settings.auth.users_file {
            import_users_file(&store, path)?;
        }
        let users = UserCache::new(store)
            .map_err(|e| Refused::failed(format!("cannot read the accounts: {e}")))?;
        Ok(Accounts {
            users: Arc::new(users),
            data_dir: settings.data_dir.clone(),
            secret: Mutex::new(None),
        })
    }

    /// The authentication part of the server config for `settings`, with
    /// a one-line summary for the banner.
    pub fn setup(&self, settings: &Settings) -> Result<(Option<AuthSetup>, String), Refused> {
        let count = self.users.count();
        let mode = auth_mode(settings.auth.enabled, count > 0, &settings.listen)
            .map_err(Refused::invalid)?;
        let Some(mode) = mode else {
            return Ok((None, "authentication: off (--auth off)".to_owned()));
        };
        let secret = self.secret()?;
        let a = &settings.auth;
        let algs: Vec<&str> = a.algorithms.iter().map(|x| x.name()).collect();
        let summary = match mode {
            AuthMode::Required => format!(
                "authentication: digest ({}), {count} account(s)",
                algs.join(", ")
            ),
            AuthMode::WhenUsersExist => {
                "authentication: open until the first account is added (loopback only)".to_owned()
            }
        };
        let setup = AuthSetup {
            mode,
            config: AuthConfig {
                realm: a.realm.clone(),
                algorithms: a.algorithms.clone(),
                nonce_lifetime_ms: u64::from(a.nonce_lifetime) * 1000,
                grants: a.grants.clone(),
                ..AuthConfig::default()
            },
            secret,
            users: self.users.clone(),
        };
        Ok((Some(setup), summary))
    }

    /// The server secret, read (or created) the first time.
    fn secret(&self) -> Result<Vec<u8>, Refused> {
        let mut secret = self.secret.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = secret.as_ref() {
            return Ok(s.clone());
        }
        let loaded = crate::secret::load_or_create(&self.data_dir).map_err(|e| {
            Refused::failed(format!("cannot read or create the server secret: {e}"))
        })?;
        *secret = Some(loaded.clone());
        Ok(loaded)
    }
}

/// Imports an htdigest file into the accounts, printing what changed.
fn import_users_file(store: &SqliteUsers, path: &std::path::Path) -> Result<(), Refused> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Refused::invalid(format!(
            "--users-file / auth.users_file: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let users = crate::htdigest::parse(&text).map_err(|e| {
        Refused::invalid(format!(
            "--users-file / auth.users_file: {}: {e}",
            path.display()
        ))
    })?;
    let now = server::now_ms();
    let done = store
        .transaction(|tx| crate::htdigest::import(tx, &users, now))
        .map_err(|e| Refused::failed(format!("importing {}: {e}", path.display())))?;
    println!(
        "imported {}: {} added, {} updated, {} unchanged (MD5 only)",
        path.display(),
        done.added,
        done.updated,
        done.unchanged
    );
    Ok(())
}

/// When to authenticate, from `--auth` and whether accounts exist; an
/// error (exit 2) for a listener reachable from outside loopback with no
/// account and no explicit `--auth off`.
fn auth_mode(
    enabled: Option<bool>,
    has_users: bool,
    listen: &[ListenSpec],
) -> Result<Option<AuthMode>, String> {
    match enabled {
        Some(false) => Ok(None),
        Some(true) => Ok(Some(AuthMode::Required)),
        None if has_users => Ok(Some(AuthMode::Required)),
        None => match listen.iter().find(|l| !l.addr.ip().is_loopback()) {
            None => Ok(Some(AuthMode::WhenUsersExist)),
            Some(open) => Err(format!(
                "refusing to listen on {open} without authentication: there are no accounts, so \
                 anyone could register as anyone. Add one with `locus users add USER --domain D` \
                 (or import --users-file FILE), or pass --auth off to serve openly on purpose"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_mode_rules() {
        let lo: Vec<ListenSpec> = vec![
            "udp:127.0.0.1:5060".parse().unwrap(),
            "tcp:[::1]:5060".parse().unwrap(),
        ];
        let public: Vec<ListenSpec> = vec![
            "udp:127.0.0.1:5060".parse().unwrap(),
            "udp:0.0.0.0:5060".parse().unwrap(),
        ];
        assert_eq!(
            auth_mode(None, false, &lo),
            Ok(Some(AuthMode::WhenUsersExist))
        );
        assert_eq!(auth_mode(None, true, &lo), Ok(Some(AuthMode::Required)));
        assert_eq!(auth_mode(None, true, &public), Ok(Some(AuthMode::Required)));
        let err = auth_mode(None, false, &public).unwrap_err();
        assert!(
            err.contains("udp:0.0.0.0:5060") && err.contains("--auth off"),
            "{err}"
        );
        assert_eq!(auth_mode(Some(false), false, &public), Ok(None));
        assert_eq!(
            auth_mode(Some(true), false, &lo),
            Ok(Some(AuthMode::Required))
        );
    }
}
