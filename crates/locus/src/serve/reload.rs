//! The reload of a running server, the one mechanism behind SIGHUP and
//! `POST /api/v1/reload`: re-read the config file the server started with
//! (the same command-line flags keep precedence), check the whole of it,
//! and apply it all or none of it.
//!
//! Limits, authentication, abuse control, routing modes and the log level
//! apply to the next request; bindings, transactions, connections, blocks
//! and nonce counts stay. What only a restart can change (sockets, the
//! store, the admin listener, the log format) keeps running as it is and
//! is reported by name.

use super::accounts::Accounts;
use super::config::server_config;
use crate::logging::Logging;
use crate::settings::{self, ServeArgs, Settings};
use server::{Node, Reloaded};
use std::sync::{Arc, Mutex, PoisonError};

/// Re-reads the admin listener's TLS certificate and key; the error says
/// why they cannot be used (the reload is then refused).
pub type TlsReload = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Everything a reload needs of the running server.
pub struct Reloader {
    /// The command line `serve` was started with: its `--config` file and
    /// the flags that override it.
    args: ServeArgs,
    /// The settings serving now; the restart-only ones keep their values
    /// from the start.
    running: Mutex<Settings>,
    node: Node,
    /// The account cache and the secret, shared with every reload.
    accounts: Arc<Accounts>,
    logging: Logging,
    /// Re-reads the admin listener's certificate, when it serves HTTPS.
    tls: Option<TlsReload>,
}

impl Reloader {
    /// A reloader for the server `node`, started with `args` as `started`.
    pub fn new(
        args: ServeArgs,
        started: Settings,
        node: Node,
        accounts: Arc<Accounts>,
        logging: Logging,
        tls: Option<TlsReload>,
    ) -> Reloader {
        Reloader {
            args,
            running: Mutex::new(started),
            node,
            accounts,
            logging,
            tls,
        }
    }

    /// The digest realm of accounts of `domain` under the settings serving
    /// now: `--realm`, else the domain itself.
    pub fn realm_for(&self, domain: &str) -> String {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running
            .auth
            .realm
            .clone()
            .unwrap_or_else(|| domain.to_owned())
    }

    /// Re-reads and applies the configuration. `Err` is the reason it was
    /// refused (logged here, at error level); the running configuration
    /// then stays as it was.
    pub fn reload(&self) -> Result<Reloaded, String> {
        // One reload at a time: SIGHUP and the API may come together.
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        match self.apply(&mut running) {
            Ok(reloaded) => {
                if reloaded.restart_needed.is_empty() {
                    tracing::info!("configuration reloaded");
                } else {
                    tracing::warn!(
                        restart_needed = %reloaded.restart_needed.join(", "),
                        "configuration reloaded; these settings changed but apply only after a \
                         restart"
                    );
                }
                Ok(reloaded)
            }
            Err(reason) => {
                tracing::error!(
                    %reason,
                    "reload refused; the running configuration stays"
                );
                Err(reason)
            }
        }
    }

    fn apply(&self, running: &mut Settings) -> Result<Reloaded, String> {
        let mut new = settings::resolve(&self.args).map_err(|e| e.to_string())?;
        let mut restart_needed: Vec<String> = settings::restart_needed(running, &new)
            .into_iter()
            .map(str::to_owned)
            .collect();
        keep_restart_only(running, &mut new);
        let (auth, summary) = self
            .accounts
            .setup(&new)
            .map_err(|refused| refused.message)?;
        if let Some(tls) = &self.tls {
            tls().map_err(|e| format!("admin TLS certificate: {e}"))?;
        }
        // Nothing can fail from here on.
        let reloaded = self.node.reload(server_config(&new, auth));
        for name in reloaded.restart_needed {
            let name = match name.as_str() {
                "routing.multicast" => "multicast".to_owned(),
                _ => name,
            };
            if !restart_needed.contains(&name) {
                restart_needed.push(name);
            }
        }
        self.logging.set_level(&new.log_level);
        tracing::info!("{summary}");
        *running = new;
        Ok(Reloaded { restart_needed })
    }
}

/// `new` with the values of `running` for what only a restart changes,
/// so the next reload compares against what really serves.
fn keep_restart_only(running: &Settings, new: &mut Settings) {
    new.listen = running.listen.clone();
    new.data_dir = running.data_dir.clone();
    new.tcp_idle_timeout = running.tcp_idle_timeout;
    new.commit_window = running.commit_window;
    new.log_format = running.log_format;
    new.auth.users_file = running.auth.users_file.clone();
    new.admin = running.admin.clone();
    match (&mut new.routing.multicast, running.routing.multicast) {
        (Some(m), Some(r)) => m.interface = r.interface,
        (new_multicast, running_multicast) => *new_multicast = running_multicast,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, Command, FromArgMatches};

    fn settings_of(flags: &[&str]) -> Settings {
        let matches = ServeArgs::augment_args(Command::new("serve"))
            .try_get_matches_from(std::iter::once("serve").chain(flags.iter().copied()))
            .expect("flags parse");
        settings::resolve(&ServeArgs::from_arg_matches(&matches).expect("args")).expect("valid")
    }

    #[test]
    fn what_a_restart_changes_keeps_its_running_value() {
        let running = settings_of(&["--multicast", "--listen", "udp:127.0.0.1:5070"]);
        let mut new = settings_of(&[
            "--max-expires",
            "100",
            "--default-expires",
            "90",
            "--admin-listen",
            "off",
            "--log-format",
            "json",
            "--data-dir",
            "/elsewhere",
        ]);
        keep_restart_only(&running, &mut new);
        assert_eq!(new.max_expires, 100);
        assert!(settings::restart_needed(&running, &new).is_empty());
        assert!(new.routing.multicast.is_some());
    }
}
