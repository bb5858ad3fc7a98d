//! The running server as operations see it: what the admin API, the
//! reload and the signal handlers read and steer, without reaching into
//! the shell. A [`Node`] is handed out once every listener serves.

use crate::change::{Change, Subscription};
use crate::config::{ListenAddr, ServerConfig};
use crate::connections::Connections;
use crate::metrics::{Gauges, Metrics};
use crate::shell::Shell;
use location_model::{LocationStore, StoreError};
use sip_core::security::Security;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What a reload did ([`Node::reload`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Settings that changed in the file but apply only after a restart
    /// (the listeners, the multicast group, ...), named as in the config.
    pub restart_needed: Vec<String>,
}

/// A handle on the running server; cheap to clone.
#[derive(Clone)]
pub struct Node(Arc<Inner>);

struct Inner {
    shell: Arc<Shell>,
    connections: Arc<Connections>,
    listeners: Vec<ListenAddr>,
    draining: AtomicBool,
    started: Instant,
    /// The settings running now and the security state built from them.
    running: Mutex<Running>,
}

struct Running {
    cfg: ServerConfig,
    security: Arc<Security>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("listeners", &self.0.listeners)
            .finish_non_exhaustive()
    }
}

impl Node {
    pub(crate) fn new(
        shell: Arc<Shell>,
        connections: Arc<Connections>,
        listeners: Vec<ListenAddr>,
        cfg: ServerConfig,
        security: Arc<Security>,
    ) -> Node {
        Node(Arc::new(Inner {
            shell,
            connections,
            listeners,
            draining: AtomicBool::new(false),
            started: Instant::now(),
            running: Mutex::new(Running { cfg, security }),
        }))
    }

    /// The location store the node serves from.
    pub fn store(&self) -> &Arc<dyn LocationStore> {
        self.0.shell.store()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        self.0.shell.metrics()
    }

    /// The addresses the SIP listeners are bound to.
    pub fn listeners(&self) -> &[ListenAddr] {
        &self.0.listeners
    }

    /// How long the node has served.
    pub fn uptime(&self) -> Duration {
        self.0.started.elapsed()
    }

    /// The gauges as they are now (from counters kept as changes happen).
    pub fn gauges(&self) -> Gauges {
        let security = self.security();
        Gauges {
            counts: self.store().counts(),
            blocked_sources: security.blocked_sources(),
            tcp_connections: self.0.connections.open_count(),
            draining: self.draining(),
            in_flight: self.in_flight(),
        }
    }

    /// The sources the abuse guard blocks now, each with the end of its
    /// block (Unix ms), soonest first.
    pub fn blocked_sources(&self) -> Vec<(std::net::IpAddr, u64)> {
        self.security().blocked_list(crate::now_ms())
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode_metrics(&self) -> String {
        self.metrics().encode(&self.gauges())
    }

    /// Starts (or ends) draining: new requests get 503 with Retry-After
    /// and those in flight finish ([`Node::in_flight`] falls to zero).
    pub fn set_draining(&self, draining: bool) {
        if self.0.draining.swap(draining, Ordering::AcqRel) != draining {
            self.0.shell.each_endpoint(|ep| ep.set_draining(draining));
            if draining {
                tracing::warn!(
                    in_flight = self.in_flight(),
                    "draining: new requests get 503"
                );
            } else {
                tracing::info!("draining ended: serving new requests");
            }
        }
    }

    /// True while draining.
    pub fn draining(&self) -> bool {
        self.0.draining.load(Ordering::Acquire)
    }

    /// Requests in flight: waiting for the store or for a downstream
    /// final answer.
    pub fn in_flight(&self) -> usize {
        self.0.shell.busy()
    }

    /// Waits until no request is in flight or `limit` has passed; true
    /// when none is left.
    pub async fn drained(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.in_flight() == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the node should get traffic: not draining, and its store
    /// can take changes.
    pub async fn ready(&self) -> Result<(), String> {
        if self.draining() {
            return Err("draining".into());
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.store().probe(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        match tokio::time::timeout(Duration::from_secs(2), rx).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(format!("location store: {e}")),
            Ok(Err(_)) => Err(format!("location store: {}", StoreError::WriterGone)),
            Err(_) => Err("location store: no answer within 2 s".into()),
        }
    }

    /// Announcements of the changes stored through this node from now on.
    pub fn subscribe(&self) -> Subscription {
        self.0.shell.changes().subscribe()
    }

    /// Announces a change made beside the SIP path (the admin API's
    /// deletes), to the same listeners.
    pub fn announce(&self, change: Change) {
        self.0.shell.changes().send(change);
    }

    /// The security state serving now.
    fn security(&self) -> Arc<Security> {
        self.lock().security.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `cfg` to the running server: the registrar, routing, auth
    /// and abuse settings take effect for the next request; transactions,
    /// bindings, connections, blocks and nonce counts stay. What only a
    /// restart can change (listeners, multicast, ...) is reported and
    /// left as it is. The caller has validated `cfg` whole.
    pub fn reload(&self, mut cfg: ServerConfig) -> Reloaded {
        let mut running = self.lock();
        let old = &running.cfg;
        let mut restart_needed = Vec::new();
        let mut listen_new = cfg.listen.clone();
        let mut listen_old = old.listen.clone();
        listen_new.sort_by_key(ToString::to_string);
        listen_old.sort_by_key(ToString::to_string);
        if listen_new != listen_old {
            restart_needed.push("listen".to_string());
        }
        if cfg.multicast != old.multicast {
            restart_needed.push("routing.multicast".to_string());
        }
        if cfg.tcp_idle_timeout != old.tcp_idle_timeout {
            restart_needed.push("tcp_idle_timeout".to_string());
        }
        if cfg.shards != old.shards {
            restart_needed.push("shards".to_string());
        }
        // What a restart alone changes keeps its running value.
        cfg.listen = old.listen.clone();
        cfg.multicast = old.multicast;
        cfg.tcp_idle_timeout = old.tcp_idle_timeout;
        cfg.shards = old.shards;
        cfg.limits = old.limits;
        // Accounts enabled only now need their reloads started.
        if let (None, Some(a), Ok(rt)) =
            (&old.auth, &cfg.auth, tokio::runtime::Handle::try_current())
        {
            rt.spawn(crate::housekeeping::refresh_users(
                a.users.clone(),
                self.0.shell.shutdown().clone(),
            ));
        }
        let core = Arc::new(crate::complete_core(&cfg, &self.0.listeners));
        let security = Arc::new(crate::security_for(&cfg).carrying_over(&running.security));
        self.0
            .shell
            .each_endpoint(|ep| ep.reconfigure(core.clone(), security.clone()));
        running.cfg = cfg;
        running.security = security;
        Reloaded { restart_needed }
    }
}
