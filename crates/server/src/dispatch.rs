//! From received bytes to a response: parse, match the transaction, ask
//! the core, apply registrations to the store, send the answer.
//!
//! Everything up to the store call runs synchronously in the receive loop,
//! so the changes of one AOR are applied in arrival order; only the wait
//! for durability and the send run in a spawned task.

use crate::config::ServerConfig;
use bytes::Bytes;
use location::LocationStore;
use sip_core::core::Reply;
use sip_core::response::{fallback_error_response, response_destination};
use sip_core::{
    Action, Core, RequestContext, TransactionKey, TransactionTable, Transport, TxDisposition,
};
use sip_message::{Limits, Message, Method};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
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

    /// Sends `bytes`; `dest` is used by UDP only.
    async fn send(&self, bytes: Bytes, dest: SocketAddr) {
        match self {
            Responder::Udp(sock) => {
                if let Err(e) = sock.send_to(&bytes, dest).await {
                    tracing::warn!(dest = %dest, error = %e, "udp send failed");
                }
            }
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
    store: Arc<S>,
    txs: Vec<Mutex<TransactionTable>>,
    hasher: std::collections::hash_map::RandomState,
    pub(crate) limits: Limits,
    pub(crate) tcp_idle_timeout: std::time::Duration,
    local_hosts: Vec<String>,
    in_flight: AtomicUsize,
    idle: Notify,
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
    pub(crate) fn new(cfg: &ServerConfig, store: Arc<S>, local_hosts: Vec<String>) -> Self {
        Shared {
            core: Core::new(cfg.core.clone()),
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
        }
    }

    /// The location store.
    pub(crate) fn store(&self) -> &S {
        &self.store
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
                    self.spawn_send(responder, Bytes::from(resp), source);
                }
                return;
            }
        };
        if !msg.is_request() {
            tracing::debug!(peer = %crate::peer(source), "stray response ignored");
            return;
        }
        let now = crate::now_ms();
        let ctx = RequestContext {
            source,
            local,
            transport,
            local_hosts: &self.local_hosts,
        };
        if msg.method() == Some(Method::Ack) {
            return;
        }
        let Some(key) = TransactionKey::of(&msg) else {
            // No usable Via: the request cannot be answered (RFC 3261 §18.2.2).
            tracing::info!(peer = %crate::peer(source), "request without a valid Via dropped");
            return;
        };
        match self.with_tx(&key, |t| t.on_request(&key, now)) {
            TxDisposition::New => {}
            TxDisposition::Absorb => return,
            TxDisposition::Retransmit(resp) => {
                let dest = response_destination(&msg, source);
                self.spawn_send(responder, resp, dest);
                return;
            }
        }
        match self.core.handle_request(&msg, &ctx, now) {
            Action::Ignore => {
                self.with_tx(&key, |t| t.on_final_response(&key, Bytes::new(), true, now))
            }
            Action::Respond(reply) => self.respond(msg, key, source, responder, reply),
            Action::Register(pending) => {
                let pending = Arc::new(*pending);
                let p = pending.clone();
                let durable = self.store.update(&pending.aor, now, move |bindings| {
                    p.apply(bindings, now).map(|()| bindings.clone())
                });
                let guard = self.enter();
                let this = self.clone();
                tokio::spawn(async move {
                    let outcome = match durable.await {
                        Ok(result) => result,
                        Err(e) => {
                            tracing::error!(aor = %pending.aor, error = %e, "location store write failed");
                            Err(Reply::new(500, "Location Store Write Failed")
                                .with_header("Retry-After", "5"))
                        }
                    };
                    let reply = this
                        .core
                        .register_outcome(&pending, outcome, crate::now_ms());
                    tracing::debug!(aor = %pending.aor, code = reply.code, "register");
                    this.respond(msg, key, source, responder, reply);
                    drop(guard);
                });
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
        responder: Responder,
        reply: Reply,
    ) {
        let bytes = Bytes::from(self.core.write_response(&msg, source, &reply));
        let reliable = responder.transport().is_reliable();
        self.with_tx(&key, |t| {
            t.on_final_response(&key, bytes.clone(), reliable, crate::now_ms())
        });
        let dest = response_destination(&msg, source);
        self.spawn_send(responder, bytes, dest);
    }

    fn spawn_send(self: &Arc<Self>, responder: Responder, bytes: Bytes, dest: SocketAddr) {
        match &responder {
            // An unbounded channel send never waits: no task needed.
            Responder::Tcp(tx) => {
                let _ = tx.send(bytes);
            }
            Responder::Udp(sock) => {
                // Try the send at once; only a full socket buffer needs a task.
                match sock.try_send_to(&bytes, dest) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        let guard = self.enter();
                        tokio::spawn(async move {
                            responder.send(bytes, dest).await;
                            drop(guard);
                        });
                    }
                    Err(e) => tracing::warn!(dest = %dest, error = %e, "udp send failed"),
                }
            }
        }
    }
}
