//! `locus serve`: open the store, bind the listeners, serve until SIGTERM.

use crate::config::{Forking, Mode, Settings, Transport};
use location::{LocationStore, SqliteStore};
use server::{ListenAddr, ServerConfig, Shutdown};
use sip_core::proxy::{self, ProxyConfig};
use sip_core::{CoreConfig, MulticastRegister, RegistrarConfig};
use std::process::ExitCode;
use std::sync::Arc;

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

fn server_config(settings: &Settings) -> ServerConfig {
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
        },
        limits: sip_message::Limits::default(),
        local_hosts: Vec::new(),
        multicast: settings.routing.multicast.map(|m| server::MulticastConfig {
            interface: m.interface,
            reply_to_group: m.reply_to_group,
        }),
    }
}

fn core_mode(mode: Mode) -> proxy::Mode {
    match mode {
        Mode::Proxy => proxy::Mode::Proxy,
        Mode::Redirect => proxy::Mode::Redirect,
    }
}

fn proxy_config(settings: &Settings) -> ProxyConfig {
    let r = &settings.routing;
    ProxyConfig {
        mode: core_mode(r.mode),
        domain_modes: r
            .domain_modes
            .iter()
            .map(|(d, m)| {
                let d = d.trim_start_matches('[').trim_end_matches(']').to_string();
                (d, core_mode(*m))
            })
            .collect(),
        forking: match r.forking {
            Forking::ByQ => proxy::Forking::ByQ,
            Forking::Parallel => proxy::Forking::Parallel,
            Forking::Sequential => proxy::Forking::Sequential,
        },
        branch_timeout_ms: r.branch_timeout.as_millis() as u64,
        record_route: r.record_route,
        relay: r.relay,
        relay_denied_status: r.relay_denied_status,
        listeners: Vec::new(),
    }
}

async fn serve(settings: Settings) -> ExitCode {
    let store = match SqliteStore::open(&settings.data_dir, server::now_ms()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!(
                "locus: error: cannot open the location store in {}: {e}",
                settings.data_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let bound = match server::bind(server_config(&settings)).await {
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
