//! `locus serve`: open the store, bind the listeners, serve until SIGTERM.

use crate::listen::{ListenSpec, Transport};
use crate::settings::{Mode, Settings};
use location::{LocationStore, SqliteStore, SqliteUsers, UserCache};
use server::{AuthMode, AuthSetup, ListenAddr, ServerConfig, Shutdown};
use sip_core::auth::AuthConfig;
use sip_core::{CoreConfig, MulticastRegister, ProxyConfig, RegistrarConfig};
use std::process::ExitCode;
use std::sync::Arc;

/// Exit status for a configuration that cannot be served (as for invalid flags).
const EXIT_INVALID: u8 = 2;

/// Endpoint instances (sharded by Call-ID): well above the core count, so
/// the receiving threads and the store's writer rarely meet on one.
const ENDPOINT_SHARDS: usize = 16;

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

/// Opens the accounts, importing `--users-file` first; errors are printed.
fn open_users(settings: &Settings) -> Result<Arc<UserCache<SqliteUsers>>, ExitCode> {
    let store = SqliteUsers::open(&settings.data_dir).map_err(|e| {
        eprintln!("locus: error: cannot open the account database: {e}");
        ExitCode::FAILURE
    })?;
    if let Some(path) = &settings.auth.users_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            eprintln!(
                "locus: error: --users-file / auth.users_file: cannot read {}: {e}",
                path.display()
            );
            ExitCode::from(EXIT_INVALID)
        })?;
        let users = crate::htdigest::parse(&text).map_err(|e| {
            eprintln!(
                "locus: error: --users-file / auth.users_file: {}: {e}",
                path.display()
            );
            ExitCode::from(EXIT_INVALID)
        })?;
        let now = server::now_ms();
        let imported = store.transaction(|tx| crate::htdigest::import(tx, &users, now));
        let done = imported.map_err(|e| {
            eprintln!("locus: error: importing {}: {e}", path.display());
            ExitCode::FAILURE
        })?;
        println!(
            "imported {}: {} added, {} updated, {} unchanged (MD5 only)",
            path.display(),
            done.added,
            done.updated,
            done.unchanged
        );
    }
    UserCache::new(store).map(Arc::new).map_err(|e| {
        eprintln!("locus: error: cannot read the accounts: {e}");
        ExitCode::FAILURE
    })
}

/// The authentication part of the server config (exit code on failure).
fn auth_setup(settings: &Settings) -> Result<(Option<AuthSetup>, String), ExitCode> {
    let users = open_users(settings)?;
    let count = users.count();
    let mode = auth_mode(settings.auth.enabled, count > 0, &settings.listen).map_err(|msg| {
        eprintln!("locus: error: {msg}");
        ExitCode::from(EXIT_INVALID)
    })?;
    let Some(mode) = mode else {
        return Ok((None, "authentication: off (--auth off)".to_owned()));
    };
    let secret = crate::secret::load_or_create(&settings.data_dir).map_err(|e| {
        eprintln!("locus: error: cannot read or create the server secret: {e}");
        ExitCode::FAILURE
    })?;
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
        users,
    };
    Ok((Some(setup), summary))
}

/// Runs the server with validated settings; returns the process exit code.
pub fn run(settings: Settings) -> ExitCode {
    crate::logging::init(&settings.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("locus: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(settings))
}

fn server_config(settings: &Settings, auth: Option<AuthSetup>) -> ServerConfig {
    ServerConfig {
        listen: settings
            .listen
            .iter()
            .map(|l| match l.transport {
                Transport::Udp => ListenAddr::Udp(l.addr),
                Transport::Tcp => ListenAddr::Tcp(l.addr),
            })
            .collect(),
        tcp_idle_timeout: settings.tcp_idle_timeout,
        core: CoreConfig {
            registrar: RegistrarConfig {
                // The registrar compares hosts without IPv6 brackets.
                domains: settings
                    .domains
                    .iter()
                    .map(|d| d.trim_start_matches('[').trim_end_matches(']').to_string())
                    .collect(),
                default_expires: settings.default_expires,
                min_expires: settings.min_expires,
                max_expires: settings.max_expires,
                max_contacts: settings.max_contacts,
            },
            proxy: proxy_config(settings),
            multicast_register: match settings.routing.multicast {
                Some(m) if m.process_register => MulticastRegister::Process,
                _ => MulticastRegister::Redirect,
            },
            multicast_reply_to_group: settings.routing.multicast.is_some_and(|m| m.reply_to_group),
            // Filled in by the server once its sockets are bound.
            local_hosts: Vec::new(),
        },
        limits: sip_message::Limits::default(),
        local_hosts: Vec::new(),
        multicast: settings.routing.multicast.map(|m| server::MulticastConfig {
            interface: m.interface,
        }),
        auth,
        abuse: settings.abuse.clone(),
        enumeration_protection: settings.auth.enumeration_protection,
        shards: ENDPOINT_SHARDS,
    }
}

fn proxy_config(settings: &Settings) -> ProxyConfig {
    let r = &settings.routing;
    ProxyConfig {
        mode: r.mode,
        domain_modes: r
            .domain_modes
            .iter()
            .map(|(d, m)| {
                let d = d.trim_start_matches('[').trim_end_matches(']').to_string();
                (d, *m)
            })
            .collect(),
        forking: r.forking,
        branch_timeout_ms: r.branch_timeout.as_millis() as u64,
        record_route: r.record_route,
        relay: r.relay,
        relay_denied_status: r.relay_denied_status,
        listeners: Vec::new(),
    }
}

async fn serve(settings: Settings) -> ExitCode {
    let store = match SqliteStore::open_with_commit_window(
        &settings.data_dir,
        server::now_ms(),
        settings.commit_window,
    ) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!(
                "locus: error: cannot open the location store in {}: {e}",
                settings.data_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    // Decided before binding: a refusal must not open any socket.
    let (auth, auth_summary) = match auth_setup(&settings) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let bound = match server::bind(server_config(&settings, auth)).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("locus: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let db = settings.data_dir.join(location::DB_FILE);
    let domains = if settings.domains.is_empty() {
        "any domain".to_string()
    } else {
        settings.domains.join(", ")
    };
    println!("locus {} registrar", env!("CARGO_PKG_VERSION"));
    for addr in bound.local_addrs() {
        println!("listening on {addr}");
    }
    if bound.multicast_joined() {
        println!("joined multicast group 224.0.1.75:5060 (sip.mcast.net)");
    }
    let mode = match settings.routing.mode {
        Mode::Proxy => "proxy",
        Mode::Redirect => "redirect",
    };
    println!("mode: {mode}");
    println!("serving {domains}");
    println!("{auth_summary}");
    println!("location store: {} (SQLite, durable)", db.display());
    let next = store
        .next_expiry()
        .map_or("none".to_string(), |t| format!("{t}"));
    tracing::info!(next_expiry_ms = %next, "store loaded");

    let shutdown = Shutdown::new();
    spawn_signal_handler(shutdown.clone());
    match bound.run(store, shutdown).await {
        Ok(()) => {
            println!("locus stopped; every acknowledged binding is on disk");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("locus: error: flushing the location store failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM and SIGINT trigger a graceful shutdown.
fn spawn_signal_handler(shutdown: Shutdown) {
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
        shutdown.trigger();
    });
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
