//! The tokio shell of locus: binds the UDP, TCP and multicast listeners,
//! hands every received message to the sans-IO endpoint (several
//! instances, sharded by Call-ID), sends what it outputs, runs its store
//! operations against the location store, drives its timers and the
//! store's expiry, and shuts down gracefully.
//!
//! Protocol decisions live in `sip-core`; this crate only moves bytes,
//! sleeps until the next deadline and runs store operations.
//!
//! - transports: [`udp`](self) (a blocking thread per socket), `tcp`
//!   (connections with an identity, framed), `multicast`; `sink` is what
//!   they deliver to, `connections` the registry of open streams;
//! - `shell`: the endpoint instances and the store driver; `sender`: where
//!   transmits go; `timers`: the timer loop; `housekeeping`: account
//!   reloads; `metrics`: counters and logs of the endpoint's events;
//!   `node`: the handle operations steer the running server with.

mod change;
mod config;
mod connections;
mod housekeeping;
mod metrics;
mod multicast;
mod node;
mod sender;
mod shell;
mod shutdown;
mod sink;
mod tcp;
mod timers;
mod udp;

pub use change::{Change, Subscription};
pub use config::{AuthSetup, ListenAddr, MulticastConfig, ServerConfig};
pub use metrics::{Gauges, Metrics, Totals, RESULTS};
pub use node::{Node, Reloaded};
pub use shutdown::Shutdown;
pub use sip_core::security::AuthMode;

use location_model::{LocationStore, StoreError};
use sip_core::auth::Authenticator;
use sip_core::security::Security;
use sip_core::transport::MULTICAST_GROUP;
use sip_core::{CoreConfig, Endpoint, EndpointConfig, Listener, Transport};
use std::io;
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
    pub async fn run(
        self,
        store: Arc<dyn LocationStore>,
        shutdown: Shutdown,
    ) -> Result<(), StoreError> {
        self.run_with(store, shutdown, |_| {}).await
    }

    /// [`Bound::run`], handing `started` the [`Node`] once every listener
    /// serves (for the admin API and the signal handlers).
    pub async fn run_with(
        self,
        store: Arc<dyn LocationStore>,
        shutdown: Shutdown,
        started: impl FnOnce(Node),
    ) -> Result<(), StoreError> {
        let addrs = self.local_addrs();
        let core = Arc::new(complete_core(&self.cfg, &addrs));
        let security = Arc::new(security_for(&self.cfg));
        let shards = self.cfg.shards.clamp(1, usize::from(u16::MAX));
        let endpoints = (0..shards)
            .map(|i| {
                Endpoint::new(EndpointConfig {
                    core: core.clone(),
                    limits: self.cfg.limits,
                    security: security.clone(),
                    proxy_auth: None,
                    shard: i as u16,
                    shards: shards as u16,
                    seed: rand::random(),
                })
            })
            .collect();
        let metrics = Arc::new(Metrics::default());
        store.set_observer(Arc::new(CommitTimes(metrics.clone())));
        let shell = shell::Shell::new(
            endpoints,
            self.cfg.limits,
            store.clone(),
            metrics.clone(),
            shutdown.clone(),
        );
        let streams = tcp::Streams {
            deliver: shell.sink(),
            connections: Arc::new(connections::Connections::default()),
            limits: self.cfg.limits,
            idle: self.cfg.tcp_idle_timeout,
            shutdown: shutdown.clone(),
        };
        shell.set_sender(Arc::new(sender::Sender::new(
            &self.udp,
            streams.clone(),
            tokio::runtime::Handle::current(),
        )));
        let sink: Arc<dyn sink::Deliver> = shell.clone();
        let max = self.cfg.limits.max_message_size;
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(sock) = self.multicast {
            tasks.spawn(udp::receive_on_thread(
                sink.clone(),
                sock,
                MULTICAST_GROUP,
                max,
                true,
                shutdown.clone(),
            ));
        }
        for sock in self.udp {
            let Ok(local) = sock.local_addr() else {
                tracing::error!("udp socket has no local address");
                continue;
            };
            tasks.spawn(udp::receive_on_thread(
                sink.clone(),
                sock,
                local,
                max,
                false,
                shutdown.clone(),
            ));
        }
        drop(sink);
        for listener in self.tcp {
            tasks.spawn(tcp::serve(listener, streams.clone()));
        }
        tasks.spawn(timers::run(shell.clone()));
        if let Some(a) = &self.cfg.auth {
            tasks.spawn(housekeeping::refresh_users(
                a.users.clone(),
                shutdown.clone(),
            ));
        }
        started(Node::new(
            shell.clone(),
            streams.connections.clone(),
            addrs,
            self.cfg.clone(),
            security,
        ));
        while tasks.join_next().await.is_some() {}
        // Connection tasks hand on what they had read; then the store
        // operations that started.
        streams.connections.all_closed().await;
        shell.wait_in_flight().await;
        let counters: Vec<String> = metrics
            .snapshot()
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !counters.is_empty() {
            tracing::info!(counters = %counters.join(" "), "security counters");
        }
        drop(shell);
        let (tx, rx) = tokio::sync::oneshot::channel();
        store.close(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// The core settings of `cfg` completed with what binding told: the
/// addresses serve as local host names (and "localhost" on loopback) and
/// as the proxy's listeners.
pub(crate) fn complete_core(cfg: &ServerConfig, addrs: &[ListenAddr]) -> CoreConfig {
    let mut core = cfg.core.clone();
    // On a loopback listener, "localhost" names this server too.
    let loopback = addrs.iter().any(|a| a.addr().ip().is_loopback());
    core.local_hosts = addrs
        .iter()
        .map(|a| a.addr().ip().to_string())
        .chain(loopback.then(|| "localhost".to_string()))
        .chain(cfg.local_hosts.iter().cloned())
        .collect();
    core.proxy.listeners = addrs
        .iter()
        .map(|a| match a {
            ListenAddr::Udp(addr) => Listener {
                transport: Transport::Udp,
                addr: *addr,
            },
            ListenAddr::Tcp(addr) => Listener {
                transport: Transport::Tcp,
                addr: *addr,
            },
        })
        .collect();
    core
}

/// A fresh security state for `cfg` (authentication and abuse limits).
pub(crate) fn security_for(cfg: &ServerConfig) -> Security {
    let auth = cfg.auth.as_ref().map(|a| {
        let users: Arc<dyn location_model::UserDirectory> = a.users.clone();
        (
            a.mode,
            Authenticator::new(a.config.clone(), &a.secret, users),
        )
    });
    Security::new(
        auth,
        cfg.abuse.clone(),
        cfg.enumeration_protection,
        rand::random(),
    )
}

/// Feeds the store's commit timings to the metrics.
struct CommitTimes(Arc<Metrics>);

impl location_model::StoreObserver for CommitTimes {
    fn committed(&self, took: std::time::Duration, _changes: usize) {
        self.0.committed(took);
    }
}

/// Milliseconds since the Unix epoch: the one clock the shell reads and
/// hands to the core and the store.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Microseconds on the process's monotonic clock (from its first reading):
/// the arrival stamp of a received message ([`sip_core::Received::stamp`]),
/// against which the time to its answer is measured.
pub(crate) fn stamp_us() -> u64 {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    ORIGIN
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_micros() as u64
}
