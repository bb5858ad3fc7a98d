//! The signals `serve` acts on: SIGTERM and SIGINT shut it down
//! gracefully, SIGHUP reloads the configuration. The handlers are
//! installed before the banner is printed, so a signal sent as soon as the
//! server says it serves is never taken with its default action.

use super::reload::Reloader;
use server::Shutdown;
use std::io;
use std::sync::Arc;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The installed handlers, waiting to be given their work.
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    /// Installs the handlers of SIGTERM, SIGINT and SIGHUP (inside the
    /// runtime).
    pub fn install() -> io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// SIGTERM and SIGINT trigger `shutdown`; returns what waits for
    /// SIGHUP.
    pub fn on_shutdown(self, shutdown: Shutdown) -> Hangup {
        let (mut term, mut int) = (self.term, self.int);
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            }
            shutdown.trigger();
        });
        Hangup(self.hup)
    }
}

/// The SIGHUP handler, before it is given the reload.
pub struct Hangup(Signal);

impl Hangup {
    /// Each SIGHUP reloads the configuration with `reloader` (its outcome
    /// is logged there), until `shutdown` fires.
    pub fn on_reload(self, reloader: Arc<Reloader>, shutdown: Shutdown) {
        let mut hup = self.0;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    got = hup.recv() => {
                        if got.is_none() {
                            return;
                        }
                    }
                    _ = shutdown.wait() => return,
                }
                tracing::info!("SIGHUP: reloading the configuration");
                let reloader = reloader.clone();
                // The reload reads files: off the async workers.
                if let Err(e) = tokio::task::spawn_blocking(move || reloader.reload()).await {
                    tracing::error!(error = %e, "the reload stopped unexpectedly");
                }
            }
        });
    }
}
