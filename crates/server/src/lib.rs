//! The tokio shell of locus: binds the UDP and TCP listeners, feeds
//! datagrams and stream frames to the sans-IO core, applies registrations
//! to the location store and sends the responses; drives the core's timers
//! (transactions, binding expiry) and shuts down gracefully.
//!
//! Protocol decisions live in `sip-core`; this crate only moves bytes,
//! keeps time and awaits the store.

mod config;
mod dispatch;
mod shutdown;
mod tcp;
mod timers;
mod udp;

pub use config::{ListenAddr, ServerConfig};
pub use shutdown::Shutdown;

use location::LocationStore;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// Sockets bound and ready; [`Bound::run`] starts serving them.
pub struct Bound {
    cfg: ServerConfig,
    udp: Vec<Arc<tokio::net::UdpSocket>>,
    tcp: Vec<tokio::net::TcpListener>,
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
    Ok(Bound { cfg, udp, tcp })
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
        let shared = Arc::new(dispatch::Shared::new(&self.cfg, store.clone(), local_hosts));
        let mut tasks = tokio::task::JoinSet::new();
        for sock in self.udp {
            tasks.spawn(udp::serve(shared.clone(), sock, shutdown.clone()));
        }
        for listener in self.tcp {
            tasks.spawn(tcp::serve(shared.clone(), listener, shutdown.clone()));
        }
        tasks.spawn(timers::run(shared.clone(), shutdown.clone()));
        while tasks.join_next().await.is_some() {}
        shared.wait_in_flight().await;
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
