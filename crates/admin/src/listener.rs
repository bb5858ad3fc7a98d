//! Binding and serving: [`bind`] checks the address (plain HTTP only on
//! loopback unless `--admin-insecure`), loads the TLS files and opens the
//! audit log, so every setup error surfaces before serving;
//! [`AdminListener::serve`] runs the router until the shutdown.

use crate::audit::Audit;
use crate::config::AdminConfig;
use crate::context::AdminContext;
use crate::peer::Peer;
use crate::state::AppState;
use crate::tls::{Tls, TlsReloader};
use crate::token::Token;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long open connections get to finish after the shutdown fires.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The admin listener, bound and ready to serve.
#[derive(Debug)]
pub struct AdminListener {
    tcp: TcpListener,
    local: SocketAddr,
    tls: Option<Tls>,
    audit: Audit,
}

/// Binds the admin listener of `cfg`. Fails when its address is not
/// loopback and neither TLS nor `insecure` is set (the error names
/// `--admin-tls-cert`, `--admin-tls-key` and `--admin-insecure`), when the
/// TLS files cannot be loaded, the audit log cannot be opened or the
/// address cannot be bound.
pub async fn bind(cfg: &AdminConfig) -> io::Result<AdminListener> {
    if !cfg.listen.ip().is_loopback() && cfg.tls.is_none() && !cfg.insecure {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the admin listener {} is not a loopback address: serve it over HTTPS \
                 (--admin-tls-cert and --admin-tls-key) or allow plain HTTP with --admin-insecure",
                cfg.listen
            ),
        ));
    }
    let tls = cfg.tls.as_ref().map(Tls::load).transpose()?;
    let audit = Audit::open(&cfg.audit_log)?;
    let tcp = TcpListener::bind(cfg.listen).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on {} (admin API): {e}", cfg.listen),
        )
    })?;
    let local = tcp.local_addr()?;
    Ok(AdminListener {
        tcp,
        local,
        tls,
        audit,
    })
}

impl AdminListener {
    /// The address bound (port 0 resolved), for the banner.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `https` under TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The handle that re-reads the TLS certificate and key (`None` for
    /// plain HTTP). A reload should call it first and refuse on its error.
    pub fn tls_reloader(&self) -> Option<TlsReloader> {
        self.tls.as_ref().map(Tls::reloader)
    }

    /// Serves the API to holders of `token` until `shutdown` fires, then
    /// stops accepting and gives open requests a few seconds to finish
    /// (event streams and drain waits end at once).
    pub async fn serve(self, token: Token, ctx: AdminContext, shutdown: server::Shutdown) {
        let app = Arc::new(AppState::new(
            &token,
            ctx,
            self.audit,
            self.tls.is_some(),
            shutdown.clone(),
        ));
        crate::history::start(app.history.clone(), app.ctx.node.clone(), shutdown.clone());
        let router = crate::router::build(app);
        let stopping = shutdown.clone();
        let grace = async move {
            stopping.wait().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let done = match self.tls {
            None => {
                let service = router.into_make_service_with_connect_info::<Peer>();
                let serving =
                    axum::serve(self.tcp, service).with_graceful_shutdown(wait(shutdown.clone()));
                tokio::select! {
                    r = serving => r.map(|()| true),
                    () = grace => Ok(false),
                }
            }
            Some(tls) => {
                let listener = match tls.listen(self.tcp, shutdown.clone()) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "admin listener cannot serve");
                        return;
                    }
                };
                let service = router.into_make_service_with_connect_info::<Peer>();
                let serving =
                    axum::serve(listener, service).with_graceful_shutdown(wait(shutdown.clone()));
                tokio::select! {
                    r = serving => r.map(|()| true),
                    () = grace => Ok(false),
                }
            }
        };
        match done {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("admin listener: connections still open at shutdown were cut")
            }
            Err(e) => tracing::error!(error = %e, "admin listener failed"),
        }
    }
}

async fn wait(shutdown: server::Shutdown) {
    shutdown.wait().await;
}
