//! The tokio shell of locus: binds the UDP and TCP listeners, feeds
//! datagrams and stream frames to the sans-IO core, applies registrations
//! to the location store and sends the responses; drives the core's timers
//! (transactions, binding expiry) and shuts down gracefully.
//!
//! Protocol decisions live in `sip-core`; this crate only moves bytes,
//! keeps time and awaits the store.

mod config;
mod connections;
mod dispatch;
mod multicast;
mod router;
mod security;
mod shutdown;
mod tcp;
mod timers;
mod udp;

pub use config::{ListenAddr, MulticastConfig, ServerConfig};
pub use security::{AuthMode, AuthSetup, Metrics};
pub use shutdown::Shutdown;

use location::LocationStore;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// Sockets bound and ready; [`Bound::run`] starts serving them.
pub struct Bound {
    cfg: ServerConfig,
    udp: Vec<Arc<std::net::UdpSocket>>,
    tcp: Vec<tokio::net::TcpListener>,
    multicast: Option<Arc<std::net::UdpSocket>>,
}

/// Binds every listener of `cfg`, so address errors surface before serving.
pub async fn bind(cfg: ServerConfig) -> io::Result<Bound> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for l in &cfg.listen {
        match l {
            ListenAddr::Udp(a) => udp.push(Arc::new(udp::bind(*a)?)),
            ListenAddr::Tcp(a) => {
                tcp.push(tokio::net::TcpListener::bind(a).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot listen on tcp:{a}: {e}"))
                })?)
            }
        }
    }
    let multicast = match &cfg.multicast {
        Some(m) => Some(Arc::new(multicast::bind(m.interface)?)),
        None => None,
    };
    Ok(Bound {
        cfg,
        udp,
        tcp,
        multicast,
    })
}

impl Bound {
    /// The addresses actually bound (a port 0 in the config is resolved).
    pub fn local_addrs(&self) -> Vec<ListenAddr> {
        let mut out = Vec::new();
        for s in &self.udp {
            if let Ok(a) = s.local_addr() {
                out.push(ListenAddr::Udp(a));
            }
        }
        for s in &self.tcp {
            if let Ok(a) = s.local_addr() {
                out.push(ListenAddr::Tcp(a));
            }
        }
        out
    }

    /// True when the SIP multicast group was joined.
    pub fn multicast_joined(&self) -> bool {
        self.multicast.is_some()
    }

    /// Serves until `shutdown` fires, then stops accepting, finishes the
    /// requests in flight, and closes the store (flushing it).
    pub async fn run<S: LocationStore>(
        self,
        store: Arc<S>,
        shutdown: Shutdown,
    ) -> Result<(), location::StoreError> {
        let addrs = self.local_addrs();
        // On a loopback listener, "localhost" names this server too.
        let loopback = addrs.iter().any(|a| a.addr().ip().is_loopback());
        let local_hosts: Vec<String> = addrs
            .iter()
            .map(|a| a.addr().ip().to_string())
            .chain(loopback.then(|| "localhost".to_string()))
            .chain(self.cfg.local_hosts.iter().cloned())
            .collect();
        let metrics = Arc::new(Metrics::default());
        let security = Arc::new(security::Security::new(
            self.cfg.auth.as_ref(),
            &self.cfg.abuse,
            metrics.clone(),
        ));
        let mut core = self.cfg.core.clone();
        core.proxy.listeners = self
            .local_addrs()
            .iter()
            .map(|a| match a {
                ListenAddr::Udp(addr) => sip_core::proxy::Listener {
                    transport: sip_core::Transport::Udp,
                    addr: *addr,
                },
                ListenAddr::Tcp(addr) => sip_core::proxy::Listener {
                    transport: sip_core::Transport::Tcp,
                    addr: *addr,
                },
            })
            .collect();
        let shared = Arc::new(dispatch::Shared::new(
            &self.cfg,
            core,
            store.clone(),
            local_hosts,
            self.udp.clone(),
            shutdown.clone(),
            security.clone(),
        ));
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(sock) = self.multicast {
            tasks.spawn(multicast::serve(shared.clone(), sock, shutdown.clone()));
        }
        for sock in self.udp {
            tasks.spawn(udp::serve(shared.clone(), sock, shutdown.clone()));
        }
        for listener in self.tcp {
            tasks.spawn(tcp::serve(shared.clone(), listener, shutdown.clone()));
        }
        tasks.spawn(timers::run(shared.clone(), shutdown.clone()));
        tasks.spawn(security::housekeeping(security, shutdown.clone()));
        while tasks.join_next().await.is_some() {}
        shared.wait_in_flight().await;
        let counters: Vec<String> = metrics
            .snapshot()
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !counters.is_empty() {
            tracing::info!(counters = %counters.join(" "), "security counters");
        }
        store.close().await
    }
}

/// Milliseconds since the Unix epoch: the one clock the shell reads and
/// hands to the core and the store.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A peer address, for logs.
pub(crate) fn peer(a: SocketAddr) -> String {
    a.to_string()
}
