//! `locus serve`: open the store, bind the SIP listeners and the admin
//! listener, serve until SIGTERM; SIGHUP (and the admin API) reload the
//! configuration. `--check-config FILE` only checks the settings.
//!
//! Modules: `config` (the server's configuration from the settings),
//! `accounts` (the account cache, the secret, whether to authenticate),
//! `admin_api` (the admin listener), `reload` (the one reload of SIGHUP
//! and the API) and `signals`.

mod accounts;
mod admin_api;
mod config;
mod reload;
mod signals;

use crate::settings::{Mode, ServeArgs, Settings};
use accounts::Accounts;
use location::{LocationStore, SqliteStore};
use reload::Reloader;
use server::Shutdown;
use signals::Signals;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// `--check-config FILE`: the settings (the file and the flags) resolved
/// without error; prints `config OK: FILE`. Nothing is bound or opened.
pub fn config_ok(file: &Path) -> ExitCode {
    println!("config OK: {}", file.display());
    ExitCode::SUCCESS
}

/// Runs the server with validated settings, started with `args` (which a
/// reload reads again); returns the process exit code.
pub fn run(args: ServeArgs, settings: Settings) -> ExitCode {
    let logging = crate::logging::init(&settings.log_level, settings.log_format);
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
    runtime.block_on(serve(args, settings, logging))
}

/// Prints `locus: error: {message}` and gives the exit code `code`.
fn fail(message: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("locus: error: {message}");
    ExitCode::from(code)
}

async fn serve(args: ServeArgs, settings: Settings, logging: crate::logging::Logging) -> ExitCode {
    let store = match SqliteStore::open_with_commit_window(
        &settings.data_dir,
        server::now_ms(),
        settings.commit_window,
    ) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            let dir = settings.data_dir.display();
            return fail(format!("cannot open the location store in {dir}: {e}"), 1);
        }
    };
    // Decided before binding: a refusal must not open any socket.
    let accounts = match Accounts::open(&settings) {
        Ok(a) => Arc::new(a),
        Err(refused) => return fail(refused.message, refused.code),
    };
    let (auth, auth_summary) = match accounts.setup(&settings) {
        Ok(a) => a,
        Err(refused) => return fail(refused.message, refused.code),
    };
    let bound = match server::bind(config::server_config(&settings, auth)).await {
        Ok(b) => b,
        Err(e) => return fail(e, 1),
    };
    let admin = match admin_api::AdminApi::bind(&settings).await {
        Ok(a) => a,
        Err(message) => return fail(message, 1),
    };
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot install the signal handlers: {e}"), 1),
    };
    print_banner(&settings, &bound, admin.as_ref(), &auth_summary);
    let next = store
        .next_expiry()
        .map_or("none".to_string(), |t| format!("{t}"));
    tracing::info!(next_expiry_ms = %next, "store loaded");

    let shutdown = Shutdown::new();
    let hangup = signals.on_shutdown(shutdown.clone());
    let serving = shutdown.clone();
    let started = move |node: server::Node| {
        let tls = admin.as_ref().and_then(admin_api::AdminApi::tls_reload);
        let reloader = Arc::new(Reloader::new(
            args,
            settings.clone(),
            node.clone(),
            accounts,
            logging,
            tls,
        ));
        hangup.on_reload(reloader.clone(), serving.clone());
        if let Some(admin) = admin {
            admin.serve(&settings, node, reloader, serving);
        }
    };
    match bound.run_with(store, shutdown, started).await {
        Ok(()) => {
            println!("locus stopped; every acknowledged binding is on disk");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("flushing the location store failed: {e}"), 1),
    }
}

/// What `serve` prints on stdout once every socket is bound (the tests
/// read the addresses from it); the admin token itself is never printed.
fn print_banner(
    settings: &Settings,
    bound: &server::Bound,
    admin: Option<&admin_api::AdminApi>,
    auth_summary: &str,
) {
    println!("locus {} registrar", env!("CARGO_PKG_VERSION"));
    for addr in bound.local_addrs() {
        println!("listening on {addr}");
    }
    if bound.multicast_joined() {
        println!("joined multicast group 224.0.1.75:5060 (sip.mcast.net)");
    }
    match admin {
        Some(admin) => {
            println!("admin API on {}", admin.url());
            println!("admin token in {}", settings.admin.token_file.display());
        }
        None => println!("admin API: off"),
    }
    let mode = match settings.routing.mode {
        Mode::Proxy => "proxy",
        Mode::Redirect => "redirect",
    };
    println!("mode: {mode}");
    let domains = if settings.domains.is_empty() {
        "any domain".to_string()
    } else {
        settings.domains.join(", ")
    };
    println!("serving {domains}");
    println!("{auth_summary}");
    let db = settings.data_dir.join(location::DB_FILE);
    println!("location store: {} (SQLite, durable)", db.display());
}
