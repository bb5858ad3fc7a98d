//! What a reload cannot apply: the settings declared not reloadable
//! (sockets, the store, what is read once at start) whose value differs
//! between the running settings and the reloaded ones.

use super::admin::{ADMIN_INSECURE, ADMIN_LISTEN, ADMIN_TLS_CERT, ADMIN_TLS_KEY, ADMIN_TOKEN_FILE};
use super::auth::USERS_FILE;
use super::general::{COMMIT_WINDOW, DATA_DIR, LISTEN, LOG_FORMAT, TCP_IDLE_TIMEOUT};
use super::routing::{MULTICAST, MULTICAST_INTERFACE};
use super::Settings;

/// The keys of the settings that changed from `running` to `new` but
/// take a restart, in declaration order.
pub fn restart_needed(running: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut listen_running = running.listen.clone();
    let mut listen_new = new.listen.clone();
    listen_running.sort_by_key(ToString::to_string);
    listen_new.sort_by_key(ToString::to_string);
    let (a, b) = (&running.admin, &new.admin);
    let cert = |admin: &super::AdminSettings| admin.tls.as_ref().map(|t| t.cert.clone());
    let key = |admin: &super::AdminSettings| admin.tls.as_ref().map(|t| t.key.clone());
    let interface = |s: &Settings| s.routing.multicast.map(|m| m.interface);
    let changes = [
        (listen_running != listen_new, LISTEN.key),
        (running.data_dir != new.data_dir, DATA_DIR.key),
        (
            running.tcp_idle_timeout != new.tcp_idle_timeout,
            TCP_IDLE_TIMEOUT.key,
        ),
        (
            running.commit_window != new.commit_window,
            COMMIT_WINDOW.key,
        ),
        (running.log_format != new.log_format, LOG_FORMAT.key),
        (
            running.routing.multicast.is_some() != new.routing.multicast.is_some(),
            MULTICAST.key,
        ),
        (
            interface(running)
                .zip(interface(new))
                .is_some_and(|(x, y)| x != y),
            MULTICAST_INTERFACE.key,
        ),
        (
            running.auth.users_file != new.auth.users_file,
            USERS_FILE.key,
        ),
        (a.listen != b.listen, ADMIN_LISTEN.key),
        (a.token_file != b.token_file, ADMIN_TOKEN_FILE.key),
        (cert(a) != cert(b), ADMIN_TLS_CERT.key),
        (key(a) != key(b), ADMIN_TLS_KEY.key),
        (a.insecure != b.insecure, ADMIN_INSECURE.key),
    ];
    changes
        .into_iter()
        .filter_map(|(changed, key)| changed.then_some(key))
        .collect()
}
