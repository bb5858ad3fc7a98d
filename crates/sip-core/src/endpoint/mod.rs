//! The endpoint: the one entry point of the protocol core, in the manner of
//! quinn-proto's `Endpoint`. It owns every protocol decision; the shell
//! only moves bytes, sleeps until the next deadline and runs store
//! operations.
//!
//! Inputs, each with `now` (Unix milliseconds, the shell's clock):
//! - [`Endpoint::handle_message`] (or [`Endpoint::handle_inbound`] for a
//!   message already parsed to pick its instance): every received message,
//!   with its transport, source, local address and connection;
//! - [`Endpoint::handle_timeout`]: every timer expiry;
//! - [`Endpoint::handle_store_result`]: the result of every store
//!   operation;
//! - [`Endpoint::handle_send_failure`]: a client transaction's request
//!   that could not be sent;
//! - [`Endpoint::handle_connection_opened`] and
//!   [`Endpoint::handle_connection_closed`].
//!
//! Outputs: [`Endpoint::poll_transmit`] (messages to send),
//! [`Endpoint::poll_store_op`] (per-AOR compare-and-set, reads, lookups),
//! [`Endpoint::poll_timeout`] (when to call `handle_timeout`) and
//! [`Endpoint::poll_event`] (for counters and logs).
//!
//! Inside: transaction matching (retransmissions absorbed, the ACK rules),
//! the choice between a local answer and routing, the registrar
//! ([`register`]), the local answers ([`local`]), and the proxy and
//! redirect server ([`crate::proxy`]).
//!
//! An endpoint is one instance of several: the shell may run one per core
//! or socket, sharded by [`Inbound::shard`] (the Call-ID of a request, the
//! branch of a response), with no lock that every request passes. The
//! instances share only the [`Security`] state (abuse guard, nonce counts,
//! accounts), which locks by shard. Randomness is an input: each instance
//! is seeded ([`EndpointConfig::seed`]).

mod inbound;
mod local;
mod register;

pub use inbound::Inbound;

use crate::abuse::{Admission, BlockAction};
use crate::config::CoreConfig;
use crate::context::RequestContext;
use crate::io::{Event, OpId, Received, StoreOp, StoreResult, Transmit};
use crate::outbox::Outbox;
use crate::proxy::{CallerAuth, Proxy, ProxyAuth};
use crate::reply::Reply;
use crate::response::{fallback_error_response, write_reply, TagGenerator};
use crate::rng::Rng;
use crate::security::Security;
use crate::transaction::{KeyHasher, ServerTable};
use crate::transport::{ConnId, Connection, Destination};
use bytes::Bytes;
use sip_message::{Limits, Message, Method};
use std::collections::HashMap;
use std::sync::Arc;

/// How often instance 0 forgets old abuse and nonce-count state.
const HOUSEKEEPING_MS: u64 = 10_000;

/// What an endpoint instance is built from.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Registrar and router policy, with the listeners and local host
    /// names filled in once the shell has bound its sockets.
    pub core: Arc<CoreConfig>,
    /// Parser limits.
    pub limits: Limits,
    /// Authentication, abuse control and enumeration protection, shared by
    /// every instance.
    pub security: Arc<Security>,
    /// The check the proxy runs before it routes; `None`: digest
    /// authentication of callers ([`CallerAuth`]).
    pub proxy_auth: Option<Arc<dyn ProxyAuth>>,
    /// This instance's number, written into the branches it sends (so
    /// responses come back to it); below [`EndpointConfig::shards`].
    pub shard: u16,
    /// How many instances there are.
    pub shards: u16,
    /// The seed of every random value the instance makes (tags, branches,
    /// nonce salts, hash keys). Give each instance a different random seed;
    /// tests give a fixed one.
    pub seed: u64,
}

/// One instance of the endpoint. See the module docs.
#[derive(Debug)]
pub struct Endpoint {
    cfg: Arc<CoreConfig>,
    limits: Limits,
    security: Arc<Security>,
    shard: u16,
    rng: Rng,
    tags: TagGenerator,
    /// Keys the To-tags of answers to messages that did not parse.
    fallback_tags: ahash::RandomState,
    local: ServerTable<local::LocalTx>,
    /// REGISTERs waiting for the store, by the operation they wait for
    /// (boxed: a registration moves between operations as a pointer).
    registers: HashMap<OpId, Box<register::Registration>, KeyHasher>,
    proxy: Proxy,
    connections: HashMap<ConnId, Connection, KeyHasher>,
    housekeeping_at: Option<u64>,
    /// True while the node drains (see [`Endpoint::set_draining`]).
    draining: bool,
    out: Outbox,
}

impl Endpoint {
    /// An instance as `cfg` says.
    pub fn new(cfg: EndpointConfig) -> Endpoint {
        let mut rng = Rng::new(cfg.seed ^ (u64::from(cfg.shard) << 48));
        let realm = cfg
            .security
            .authenticator()
            .and_then(|a| a.config().realm.clone());
        let proxy_auth = cfg
            .proxy_auth
            .clone()
            .unwrap_or_else(|| Arc::new(CallerAuth::new(cfg.core.clone())));
        let proxy = Proxy::new(cfg.core.clone(), proxy_auth, realm, cfg.shard, &mut rng);
        Endpoint {
            tags: TagGenerator::new(&mut rng),
            fallback_tags: rng.hasher(),
            local: ServerTable::new(rng.hasher()),
            registers: HashMap::with_hasher(rng.hasher()),
            proxy,
            connections: HashMap::with_hasher(rng.hasher()),
            housekeeping_at: None,
            draining: false,
            out: Outbox::default(),
            cfg: cfg.core,
            limits: cfg.limits,
            security: cfg.security,
            shard: cfg.shard,
            rng,
        }
    }

    /// The core configuration.
    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    /// The shared security state.
    pub fn security(&self) -> &Arc<Security> {
        &self.security
    }

    /// Live transactions: local ones, then the proxy's server and client
    /// transactions (for tests and metrics).
    pub fn transactions(&self) -> (usize, usize, usize) {
        let (servers, clients) = self.proxy.transactions();
        (self.local.len(), servers, clients)
    }

    /// Starts or ends draining, for a rolling restart: while draining, new
    /// requests (but ACK and CANCEL) get 503 with Retry-After, and those in
    /// flight go on to their answers.
    pub fn set_draining(&mut self, draining: bool) {
        self.draining = draining;
        self.proxy.set_draining(draining);
    }

    /// Requests still in flight: REGISTERs waiting for the store and routed
    /// requests not answered finally (completed transactions that only
    /// wait to absorb retransmissions do not count).
    pub fn busy(&self) -> usize {
        self.registers.len() + self.proxy.pending()
    }

    /// Replaces the configuration and the security state (a reload): the
    /// transactions, bindings and connections stay. The caller keeps the
    /// listeners and local host names of the running server in `core`, and
    /// builds `security` from the old one so nonce counts and abuse state
    /// carry over ([`Security::reconfigured`]).
    pub fn reconfigure(&mut self, core: Arc<CoreConfig>, security: Arc<Security>) {
        let realm = security
            .authenticator()
            .and_then(|a| a.config().realm.clone());
        self.proxy.reconfigure(core.clone(), realm);
        self.cfg = core;
        self.security = security;
    }

    /// Connections this instance was told of that are open.
    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        self.connections.values()
    }

    // ------------------------------------------------------------ inputs

    /// A message received (parsed here).
    pub fn handle_message(&mut self, now_ms: u64, received: Received) {
        let inbound = Inbound::parse(received, &self.limits);
        self.handle_inbound(now_ms, inbound);
    }

    /// A message received and already parsed (to choose the instance).
    pub fn handle_inbound(&mut self, now_ms: u64, inbound: Inbound) {
        self.arm_housekeeping(now_ms);
        let Inbound { received, parsed } = inbound;
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => return self.malformed(&received, e),
        };
        if !msg.is_request() {
            self.proxy.handle_response(msg, now_ms, &mut self.out);
            return;
        }
        match self.security.admit(received.source.ip(), now_ms) {
            Admission::Admit => {}
            Admission::Throttled { first } => {
                self.out.event(Event::Throttled {
                    source: received.source.ip(),
                    first,
                });
                return;
            }
            Admission::Blocked(action) => {
                self.out.event(Event::FromBlocked {
                    source: received.source.ip(),
                });
                if action == BlockAction::Forbidden {
                    self.answer_statelessly(&msg, &received, &Reply::new(403, "Forbidden"));
                }
                return;
            }
        }
        // Shared handles (a reference count each), so the context can
        // borrow from them while the components change.
        let (cfg, security) = (self.cfg.clone(), self.security.clone());
        let ctx = RequestContext {
            source: received.source,
            local: received.local,
            transport: received.transport,
            conn: received.conn,
            local_hosts: &cfg.local_hosts,
            multicast: received.multicast,
            auth: security.authenticator(),
            nonce_salt: self.rng.next_u64(),
            stamp: received.stamp,
        };
        if msg.method() == Some(Method::Ack) {
            return self.handle_ack(msg, &ctx, now_ms);
        }
        if crate::proxy::is_routed(&cfg, &msg, &ctx) {
            self.proxy.handle_request(msg, &ctx, now_ms, &mut self.out);
            return;
        }
        self.handle_local(msg, &ctx, now_ms);
    }

    /// The ACK rules: one of a non-2xx final response sent here is
    /// absorbed by its INVITE transaction (local or proxied); any other is
    /// forwarded statelessly when it is for a next hop or an AOR of ours.
    fn handle_ack(&mut self, msg: Message, ctx: &RequestContext<'_>, now_ms: u64) {
        if self.absorb_local_ack(&msg, now_ms) || self.proxy.absorb_ack(&msg, now_ms) {
            return;
        }
        self.proxy.handle_ack(msg, ctx, &mut self.out);
    }

    /// A message that did not parse: answered with 400 naming the defect
    /// (505 for another SIP version, 513 for one over the size limits) when
    /// an answer can be routed (never for a response or an ACK).
    fn malformed(&mut self, received: &Received, e: sip_message::ParseError) {
        self.out.event(Event::Malformed {
            source: received.source,
            defect: e.defect(),
        });
        let raw = &received.bytes;
        let tag = crate::text::hex16(self.fallback_tags.hash_one(&raw[..raw.len().min(512)]));
        if let Some(resp) = fallback_error_response(raw, e, &tag) {
            self.out.transmit(Transmit {
                dest: reply_to(received, received.source),
                bytes: Bytes::from(resp),
                branch: None,
            });
        }
    }

    /// The head of a stream message too large to take in whole (the rest
    /// is being discarded): answered 513 Message Too Large (RFC 3261
    /// §21.5.14) from the headers that can be read, when they name a Via.
    pub fn handle_too_large(&mut self, _now_ms: u64, head: Received) {
        self.malformed(&head, sip_message::ParseError::MessageTooLarge);
    }

    /// Answers `msg` outside any transaction (a blocked source's 403).
    fn answer_statelessly(&mut self, msg: &Message, received: &Received, reply: &Reply) {
        let tag = self.tags.tag_for(msg);
        let (bytes, dest) = write_reply(msg, received.source, reply, &tag);
        self.out.transmit(Transmit {
            dest: reply_to(received, dest),
            bytes: Bytes::from(bytes),
            branch: None,
        });
    }

    /// Runs every timer due at `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.local_timers(now_ms);
        self.proxy.handle_timeout(now_ms, &mut self.out);
        if self.housekeeping_at.is_some_and(|t| t <= now_ms) {
            self.housekeeping_at = Some(now_ms + HOUSEKEEPING_MS);
            self.security.purge(now_ms);
        }
    }

    /// Instance 0 forgets old shared security state every ten seconds.
    fn arm_housekeeping(&mut self, now_ms: u64) {
        if self.shard == 0 && self.housekeeping_at.is_none() && self.security.needs_housekeeping() {
            self.housekeeping_at = Some(now_ms + HOUSEKEEPING_MS);
        }
    }

    /// The result of store operation `id`.
    pub fn handle_store_result(&mut self, now_ms: u64, id: OpId, result: StoreResult) {
        if let Some(reg) = self.registers.remove(&id) {
            return self.register_result(reg, result, now_ms);
        }
        if self.proxy.owns_lookup(id.0) {
            let bindings = match result {
                StoreResult::Bindings(b) => b,
                StoreResult::Failed(e) => {
                    self.out.event(Event::StoreFailed {
                        aor: self.proxy.lookup_aor(id.0).unwrap_or_default(),
                        error: e.to_string(),
                    });
                    Vec::new()
                }
                StoreResult::Fetched(_) | StoreResult::Written(_) => Vec::new(),
            };
            let subscriber = if bindings.is_empty() {
                self.proxy
                    .lookup_aor(id.0)
                    .map_or(crate::security::Subscriber::Unchecked, |aor| {
                        self.security.subscriber(&aor)
                    })
            } else {
                crate::security::Subscriber::Known
            };
            self.proxy
                .handle_lookup(id.0, bindings, subscriber, now_ms, &mut self.out);
        }
    }

    /// The shell could not send a request of `branch` (see
    /// [`Transmit::branch`]).
    pub fn handle_send_failure(&mut self, now_ms: u64, branch: &str) {
        self.proxy
            .handle_send_failure(branch, now_ms, &mut self.out);
    }

    /// A connection was opened or accepted.
    pub fn handle_connection_opened(&mut self, connection: Connection) {
        self.connections.insert(connection.id, connection);
    }

    /// A connection closed.
    pub fn handle_connection_closed(&mut self, id: ConnId) {
        self.connections.remove(&id);
    }

    // ------------------------------------------------------------ outputs

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next store operation to run.
    pub fn poll_store_op(&mut self) -> Option<StoreOp> {
        self.out.ops.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// The earliest instant at which [`Endpoint::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<u64> {
        [
            self.local.poll_timeout(),
            self.proxy.poll_timeout(),
            self.housekeeping_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Where an answer to `received` goes: back on its connection (or, if it
/// has closed, to `by_via`), or over UDP to `by_via`, the address §18.2.2
/// and RFC 3581 give.
fn reply_to(received: &Received, by_via: std::net::SocketAddr) -> Destination {
    answer_to(
        received.transport,
        received.source,
        received.local,
        received.conn,
        by_via,
    )
}

/// [`reply_to`] for a request from `source` to `local` over `transport`
/// (on connection `conn`).
pub(super) fn answer_to(
    transport: crate::transport::Transport,
    source: std::net::SocketAddr,
    local: std::net::SocketAddr,
    conn: Option<ConnId>,
    by_via: std::net::SocketAddr,
) -> Destination {
    use crate::transport::HopAddr;
    if transport.is_reliable() {
        Destination {
            transport,
            addr: HopAddr::Socket(source),
            conn,
            local: Some(local),
            fallback: Some(HopAddr::Socket(by_via)),
        }
    } else {
        Destination::socket(transport, by_via, Some(local))
    }
}
