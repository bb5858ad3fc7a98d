//! From received bytes to a response: parse, match the transaction, ask
//! the core, apply registrations to the store, send the answer.
//!
//! Everything up to the store call runs synchronously in the receive loop,
//! so the changes of one AOR are applied in arrival order; the answer to a
//! registration leaves from the store's writer thread once it is durable.

use crate::config::ServerConfig;
use crate::connections::Connections;
use crate::router::Router;
use crate::security::{Metrics, Security};
use crate::shutdown::Shutdown;
use bytes::Bytes;
use location::LocationStore;
use sip_core::abuse::{Admission, BlockAction};
use sip_core::core::Reply;
use sip_core::response::{fallback_error_response, response_destination};
use sip_core::{
    Action, Core, CoreConfig, RequestContext, TransactionKey, TransactionTable, Transport,
    TxDisposition,
};
use sip_message::{Limits, Message, Method};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// Number of transaction-table shards (a power of two).
const TX_SHARDS: usize = 64;

/// How a response leaves the server.
#[derive(Debug, Clone)]
pub(crate) enum Responder {
    /// On the UDP socket the request arrived on.
    Udp(Arc<UdpSocket>),
    /// On the TCP connection the request arrived on (its writer task).
    Tcp(mpsc::UnboundedSender<Bytes>),
}

impl Responder {
    fn transport(&self) -> Transport {
        match self {
            Responder::Udp(_) => Transport::Udp,
            Responder::Tcp(_) => Transport::Tcp,
        }
    }

    /// Sends `bytes`; `dest` is used by UDP only. A UDP send waits at most
    /// the socket's write timeout (only while its send buffer is full); a
    /// TCP one is a push onto the connection's queue.
    fn send(&self, bytes: Bytes, dest: SocketAddr) {
        match self {
            Responder::Udp(sock) => {
                if let Err(e) = sock.send_to(&bytes, dest) {
                    tracing::warn!(dest = %dest, error = %e, "udp send failed");
                }
            }
            // An unbounded channel send never waits.
            Responder::Tcp(tx) => {
                if tx.send(bytes).is_err() {
                    tracing::debug!(dest = %dest, "tcp connection closed before the response");
                }
            }
        }
    }
}

/// State shared by every receive loop.
pub(crate) struct Shared<S> {
    core: Core,
    router: Router,
    connections: Connections,
    udp: Vec<Arc<UdpSocket>>,
    shutdown: Shutdown,
    timer_wake: Notify,
    multicast_reply_to_group: bool,
    store: Arc<S>,
    txs: Vec<Mutex<TransactionTable>>,
    /// Picks a key's shard (and keys the tags of fallback responses).
    hasher: sip_core::transaction::KeyHasher,
    pub(crate) limits: Limits,
    pub(crate) tcp_idle_timeout: std::time::Duration,
    local_hosts: Vec<String>,
    in_flight: AtomicUsize,
    idle: Notify,
    security: Arc<Security>,
}

/// Counts a request in flight until dropped.
struct InFlight<S>(Arc<Shared<S>>);

impl<S> Drop for InFlight<S> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl<S: LocationStore> Shared<S> {
    /// `core` has its listeners filled in; `udp` are the unicast sockets.
    pub(crate) fn new(
        cfg: &ServerConfig,
        core: CoreConfig,
        store: Arc<S>,
        local_hosts: Vec<String>,
        udp: Vec<Arc<UdpSocket>>,
        shutdown: Shutdown,
        security: Arc<Security>,
    ) -> Self {
        Shared {
            router: Router::new(
                Arc::new(core.clone()),
                security.clone(),
                cfg.enumeration_protection,
            ),
            core: Core::new(core),
            connections: Connections::default(),
            udp,
            shutdown,
            timer_wake: Notify::new(),
            multicast_reply_to_group: cfg.multicast.is_some_and(|m| m.reply_to_group),
            store,
            txs: (0..TX_SHARDS)
                .map(|_| Mutex::new(TransactionTable::new()))
                .collect(),
            hasher: Default::default(),
            limits: cfg.limits,
            tcp_idle_timeout: cfg.tcp_idle_timeout,
            local_hosts,
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            security,
        }
    }

    /// The location store.
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// The proxy shards.
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// The open TCP connections.
    pub(crate) fn connections(&self) -> &Connections {
        &self.connections
    }

    /// The shutdown signal (outgoing connections watch it too).
    pub(crate) fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Wakes the timer loop so it recomputes its deadline.
    pub(crate) fn wake_timers(&self) {
        self.timer_wake.notify_one();
    }

    /// Resolves when [`Shared::wake_timers`] was called.
    pub(crate) async fn timers_woken(&self) {
        self.timer_wake.notified().await;
    }

    /// The UDP socket to send to `dest` from: the one bound at `local` if
    /// given, else the first of the same address family.
    pub(crate) fn udp_socket_for(
        &self,
        local: Option<SocketAddr>,
        dest: SocketAddr,
    ) -> Option<Arc<UdpSocket>> {
        let addr_of = |s: &Arc<UdpSocket>| s.local_addr().ok();
        local
            .and_then(|l| self.udp.iter().find(|s| addr_of(s) == Some(l)))
            .or_else(|| {
                self.udp
                    .iter()
                    .find(|s| addr_of(s).is_some_and(|a| a.is_ipv4() == dest.is_ipv4()))
            })
            .cloned()
    }

    fn shard(&self, key: &TransactionKey) -> &Mutex<TransactionTable> {
        &self.txs[(self.hasher.hash_one(key) as usize) & (TX_SHARDS - 1)]
    }

    fn with_tx<R>(&self, key: &TransactionKey, f: impl FnOnce(&mut TransactionTable) -> R) -> R {
        let mut table = self
            .shard(key)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut table)
    }

    /// Runs every transaction timer due at `now_ms`; returns the next deadline.
    pub(crate) fn transaction_timers(&self, now_ms: u64) -> Option<u64> {
        let mut next: Option<u64> = None;
        for shard in &self.txs {
            let mut t = shard.lock().unwrap_or_else(|p| p.into_inner());
            t.handle_timeout(now_ms);
            if let Some(d) = t.poll_timeout() {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        }
        next
    }

    /// Waits until no request is in flight.
    pub(crate) async fn wait_in_flight(&self) {
        loop {
            let notified = self.idle.notified();
            if self.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Handles one received message (a datagram, or a frame from a stream).
    pub(crate) fn handle(
        self: &Arc<Self>,
        raw: Bytes,
        source: SocketAddr,
        local: SocketAddr,
        responder: Responder,
        multicast: bool,
    ) {
        let transport = responder.transport();
        let parsed = match transport {
            Transport::Udp => Message::parse(raw.clone(), &self.limits),
            Transport::Tcp => Message::parse_framed(raw.clone(), &self.limits),
        };
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                tracing::info!(peer = %crate::peer(source), defect = e.defect(), "malformed message");
                let tag = format!("{:016x}", self.hasher.hash_one(&raw[..raw.len().min(512)]));
                if let Some(resp) = fallback_error_response(&raw, e, &tag) {
                    responder.send(Bytes::from(resp), source);
                }
                return;
            }
        };
        if !msg.is_request() {
            self.route_response(msg);
            return;
        }
        let now = crate::now_ms();
        let metrics = &self.security.metrics;
        match self.security.guard.admit(source.ip(), now) {
            Admission::Admit => {}
            Admission::Throttled { first } => {
                Metrics::inc(&metrics.abuse_throttled_requests);
                if first {
                    tracing::warn!(peer = %source.ip(), "request rate limit exceeded: dropping requests from this address");
                }
                return;
            }
            Admission::Blocked(action) => {
                Metrics::inc(&metrics.abuse_blocked_requests);
                if action == BlockAction::Forbidden {
                    let bytes =
                        self.core
                            .write_response(&msg, source, &Reply::new(403, "Forbidden"));
                    responder.send(Bytes::from(bytes), response_destination(&msg, source));
                }
                return;
            }
        }
        let ctx = RequestContext {
            source,
            local,
            transport,
            local_hosts: &self.local_hosts,
            multicast,
            auth: self.security.authenticator(),
        };
        if msg.method() == Some(Method::Ack) || self.core.is_routed(&msg, &ctx) {
            self.route_request(msg, &ctx);
            return;
        }
        // RFC 2543 §1.4.3: answers to multicast requests may go to the group.
        let to_group = multicast && self.multicast_reply_to_group;
        let Some(key) = TransactionKey::of(&msg) else {
            // No usable Via: the request cannot be answered (RFC 3261 §18.2.2).
            tracing::info!(peer = %crate::peer(source), "request without a valid Via dropped");
            return;
        };
        match self.with_tx(&key, |t| t.on_request(&key, now)) {
            TxDisposition::New => {}
            TxDisposition::Absorb => return,
            TxDisposition::Retransmit(resp) => {
                let dest = destination(&msg, source, to_group);
                responder.send(resp, dest);
                return;
            }
        }
        match self.core.handle_request(&msg, &ctx, now) {
            Action::Ignore => {
                self.with_tx(&key, |t| t.on_final_response(&key, Bytes::new(), true, now))
            }
            Action::Respond(reply) => self.respond(msg, key, source, to_group, responder, reply),
            Action::Refuse(refusal) => {
                self.security.on_refusal(&refusal.outcome, source, now);
                self.respond(msg, key, source, to_group, responder, refusal.reply);
            }
            Action::Register(pending) => {
                // The change is applied now (arrival order); the response is
                // built and sent by the store's callback once the change is
                // durable, on the store's writer thread: no task per REGISTER.
                let pending = Arc::new(*pending);
                let change = pending.clone();
                let aor = pending.clone();
                let guard = self.enter();
                let this = self.clone();
                self.store.update_then(
                    &aor.aor,
                    now,
                    move |bindings| change.apply(bindings, now).map(|()| bindings.clone()),
                    move |outcome| {
                        let outcome = outcome.unwrap_or_else(|e| {
                            tracing::error!(aor = %pending.aor, error = %e, "location store write failed");
                            Err(Reply::new(500, "Location Store Write Failed")
                                .with_header("Retry-After", "5"))
                        });
                        let reply = this
                            .core
                            .register_outcome(&pending, outcome, crate::now_ms());
                        tracing::debug!(aor = %pending.aor, code = reply.code, "register");
                        this.respond(msg, key, source, to_group, responder, reply);
                        drop(guard);
                    },
                );
            }
        }
    }

    fn enter(self: &Arc<Self>) -> InFlight<S> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Writes the response, records it in the transaction and sends it.
    fn respond(
        self: &Arc<Self>,
        msg: Message,
        key: TransactionKey,
        source: SocketAddr,
        to_group: bool,
        responder: Responder,
        reply: Reply,
    ) {
        let (bytes, dest) = self.core.write_response_to(&msg, source, &reply);
        let bytes = Bytes::from(bytes);
        let reliable = responder.transport().is_reliable();
        self.with_tx(&key, |t| {
            t.on_final_response(&key, bytes.clone(), reliable, crate::now_ms())
        });
        let dest = if to_group {
            crate::multicast::GROUP
        } else {
            dest
        };
        responder.send(bytes, dest);
    }
}

/// Where a response goes: per RFC 3261 §18.2.2, or to the multicast group.
fn destination(msg: &Message, source: SocketAddr, to_group: bool) -> SocketAddr {
    if to_group {
        crate::multicast::GROUP
    } else {
        response_destination(msg, source)
    }
}
