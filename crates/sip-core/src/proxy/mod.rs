//! The transaction-stateful proxy of RFC 3261 §16, sans-IO.
//!
//! One [`Proxy`] owns the server transactions of the requests it routes
//! (INVITE and non-INVITE, §17.2), the client transactions of every branch
//! it forks (§17.1), and the response context that ties them (§16.7). It is
//! driven like quinn-proto's connection:
//!
//! * inputs: [`Proxy::handle_request`], [`Proxy::handle_response`],
//!   [`Proxy::handle_lookup`] (the location service's answer to a
//!   [`Output::Lookup`]), [`Proxy::handle_transport_error`] and
//!   [`Proxy::handle_timeout`], each with `now` in Unix milliseconds;
//! * outputs: [`Proxy::poll_output`] (messages to send, lookups to make)
//!   and [`Proxy::poll_timeout`] (when to call `handle_timeout` next).
//!
//! The location service is asked at the moment of routing, and again
//! before each lower-q group is tried, so a binding that changed during a
//! call attempt is used as it is now (RFC 2543 §4.2.6, "directed pick-up").
//! The shell shards proxies by Call-ID; every branch carries its shard
//! ([`shard_of_branch`]) so responses find their way back.

mod auth;
mod config;
mod message;
mod route;
mod target;
mod timers;

pub use auth::{AllowAll, AuthDecision, CallerAuth, ProxyAuth};
pub use config::{Forking, Listener, Mode, ProxyConfig};
pub use message::{shard_of_branch, top_branch};
pub use route::is_routed;
pub use target::{Destination, HopAddr};

use crate::core::{CoreConfig, Reply, RequestContext, Transport};
use crate::response::{response_destination, start_response, TagGenerator};
use crate::TransactionKey;
use bytes::Bytes;
use location::{Binding, ContactAction};
use message::{
    ack_for, cancel_for, forward_request, loop_hash, make_branch, strip_top_via, Forward,
};
use route::{decide, validate, Routing};
use sip_message::headers::CSeq;
use sip_message::{HeaderName, Limits, Message, Method, NameAddr};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use target::{binding_target, next_group, BranchTarget};
use timers::{T1, T2, T4};

/// Most branches one request may fork to over all its groups.
const MAX_BRANCHES: usize = 32;

/// Something the shell must do.
#[derive(Debug)]
pub enum Output {
    /// Send bytes.
    Transmit(Transmit),
    /// Look AORs up in the location service and answer with
    /// [`Proxy::handle_lookup`].
    Lookup(Lookup),
    /// A caller failed authentication (already answered with 407): for
    /// counters and brute-force blocking.
    Refused {
        /// The caller's address.
        source: SocketAddr,
        /// What happened.
        outcome: crate::auth::AuthOutcome,
    },
}

/// One message to send.
#[derive(Debug)]
pub struct Transmit {
    /// Where.
    pub dest: Destination,
    /// The message.
    pub bytes: Bytes,
    /// The client transaction sending it: a failure to send is reported
    /// with [`Proxy::handle_transport_error`]. `None` for responses.
    pub branch: Option<String>,
}

/// A location-service query.
#[derive(Debug)]
pub struct Lookup {
    /// Echoed in [`Proxy::handle_lookup`].
    pub id: u64,
    /// AORs to look up, in order: answer with the bindings of the first
    /// that has any.
    pub aors: Vec<String>,
}

/// What the shell knows of the user behind a looked-up AOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscriber {
    /// No user database: an AOR without bindings is 480.
    Unchecked,
    /// A known user: without bindings, 480 Temporarily Unavailable.
    Known,
    /// Not a user of this domain: 404 Not Found.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    branch: String,
    cancel: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    Proceeding,
    Completed,
    Accepted,
    Confirmed,
}

/// How a branch ended, for best-response selection (§16.7 step 6).
#[derive(Debug, Clone)]
struct Outcome {
    code: u16,
    /// The response to forward, or `None` to answer locally with `code`.
    bytes: Option<Bytes>,
}

#[derive(Debug)]
struct RouteState {
    aors: Vec<String>,
    mode: Mode,
    max_forwards: u32,
    pop_routes: usize,
    record_route: bool,
    hash: u32,
    branches: Vec<ClientKey>,
    tried: Vec<String>,
    outcomes: Vec<Outcome>,
    cancelled: bool,
    six_xx: bool,
    lookup_pending: bool,
}

#[derive(Debug)]
struct ServerTx {
    req: Message,
    source: SocketAddr,
    local: SocketAddr,
    transport: Transport,
    invite: bool,
    state: ServerState,
    last: Option<Bytes>,
    timer_g: Option<u64>,
    g_interval: u64,
    end_at: Option<u64>,
    armed: Option<u64>,
    route: Option<RouteState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
}

#[derive(Debug)]
struct ClientTx {
    server: TransactionKey,
    invite: bool,
    fwd: Message,
    bytes: Bytes,
    dest: Destination,
    state: ClientState,
    settled: bool,
    retransmit_at: Option<u64>,
    interval: u64,
    timeout_at: Option<u64>,
    timer_c: Option<u64>,
    end_at: Option<u64>,
    cancel_wanted: bool,
    cancel_sent: bool,
    armed: Option<u64>,
}

impl ClientTx {
    fn deadline(&self) -> Option<u64> {
        [
            self.retransmit_at,
            self.timeout_at,
            self.timer_c,
            self.end_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl ServerTx {
    fn deadline(&self) -> Option<u64> {
        [self.timer_g, self.end_at].into_iter().flatten().min()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TimerRef {
    Server(TransactionKey),
    Client(ClientKey),
}

#[derive(Debug)]
enum LookupFor {
    Request(TransactionKey),
    Ack {
        req: Message,
        source: SocketAddr,
        max_forwards: u32,
        pop_routes: usize,
    },
}

/// One shard of the stateful proxy. See the module documentation.
#[derive(Debug)]
pub struct Proxy {
    cfg: Arc<CoreConfig>,
    auth: Arc<dyn ProxyAuth>,
    shard: u16,
    salt: u64,
    seq: u64,
    tags: TagGenerator,
    servers: HashMap<TransactionKey, ServerTx>,
    clients: HashMap<ClientKey, ClientTx>,
    timers: BTreeMap<(u64, u64), TimerRef>,
    lookups: HashMap<u64, LookupFor>,
    out: VecDeque<Output>,
}

impl Proxy {
    /// A proxy shard numbered `shard` (written into its branches), asking
    /// `auth` before routing.
    pub fn new(cfg: Arc<CoreConfig>, auth: Arc<dyn ProxyAuth>, shard: u16) -> Proxy {
        Proxy {
            cfg,
            auth,
            shard,
            salt: rand::random::<u32>().into(),
            seq: 0,
            tags: TagGenerator::default(),
            servers: HashMap::new(),
            clients: HashMap::new(),
            timers: BTreeMap::new(),
            lookups: HashMap::new(),
            out: VecDeque::new(),
        }
    }

    /// Number of live server and client transactions (for tests and metrics).
    pub fn transactions(&self) -> (usize, usize) {
        (self.servers.len(), self.clients.len())
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest instant at which [`Proxy::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.keys().next().map(|(t, _)| *t)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn arm_server(&mut self, key: &TransactionKey) {
        let seq = self.next_seq();
        let Some(tx) = self.servers.get_mut(key) else {
            return;
        };
        if let Some(d) = tx.deadline() {
            if tx.armed.is_none_or(|a| d < a) {
                tx.armed = Some(d);
                self.timers.insert((d, seq), TimerRef::Server(key.clone()));
            }
        }
    }

    fn arm_client(&mut self, key: &ClientKey) {
        let seq = self.next_seq();
        let Some(tx) = self.clients.get_mut(key) else {
            return;
        };
        if let Some(d) = tx.deadline() {
            if tx.armed.is_none_or(|a| d < a) {
                tx.armed = Some(d);
                self.timers.insert((d, seq), TimerRef::Client(key.clone()));
            }
        }
    }

    fn transmit(&mut self, dest: Destination, bytes: Bytes, branch: Option<String>) {
        self.out.push_back(Output::Transmit(Transmit {
            dest,
            bytes,
            branch,
        }));
    }

    // ------------------------------------------------------------ requests

    /// A request the router takes (see [`is_routed`]), or any ACK.
    pub fn handle_request(&mut self, req: Message, ctx: &RequestContext<'_>, now_ms: u64) {
        if req.method() == Some(Method::Ack) {
            self.handle_ack(req, ctx, now_ms);
            return;
        }
        let Some(key) = TransactionKey::of(&req) else {
            return;
        };
        if let Some(tx) = self.servers.get(&key) {
            // A retransmission: answer with the last response sent (§17.2).
            if let Some(last) = tx.last.clone() {
                let dest = self.upstream(tx);
                self.transmit(dest, last, None);
            }
            return;
        }
        let invite = req.method() == Some(Method::Invite);
        self.servers.insert(
            key.clone(),
            ServerTx {
                req,
                source: ctx.source,
                local: ctx.local,
                transport: ctx.transport,
                invite,
                state: ServerState::Proceeding,
                last: None,
                timer_g: None,
                g_interval: T1,
                end_at: None,
                armed: None,
                route: None,
            },
        );
        let req = &self.servers[&key].req;
        if let Err(e) = crate::core::validate_request(req) {
            self.respond(&key, Reply::new(400, e.to_string()), now_ms);
            return;
        }
        if req.method() == Some(Method::Cancel) {
            self.handle_cancel(&key, now_ms);
            return;
        }
        if invite {
            self.respond(&key, Reply::new(100, "Trying"), now_ms);
        }
        let req = &self.servers[&key].req;
        let max_forwards = match validate(&self.cfg, req, ctx) {
            Ok(mf) => mf,
            Err(reply) => {
                self.respond(&key, reply, now_ms);
                return;
            }
        };
        let decision = decide(&self.cfg, req, ctx);
        let in_dialog = req
            .header(HeaderName::To)
            .and_then(|t| NameAddr::parse(t).ok())
            .is_some_and(|t| t.tag().is_some());
        if !in_dialog {
            match self.auth.check(req, ctx, decision.local_target, now_ms) {
                AuthDecision::Proceed => {}
                AuthDecision::Reject(reply) => {
                    self.respond(&key, reply, now_ms);
                    return;
                }
                AuthDecision::Refuse(refusal) => {
                    self.respond(&key, refusal.reply, now_ms);
                    self.out.push_back(Output::Refused {
                        source: ctx.source,
                        outcome: refusal.outcome,
                    });
                    return;
                }
            }
        }
        let hash = loop_hash(req);
        let mut state = RouteState {
            aors: Vec::new(),
            mode: self.cfg.proxy.mode,
            max_forwards,
            pop_routes: decision.pop_routes,
            record_route: self.cfg.proxy.record_route && !in_dialog,
            hash,
            branches: Vec::new(),
            tried: Vec::new(),
            outcomes: Vec::new(),
            cancelled: false,
            six_xx: false,
            lookup_pending: false,
        };
        match decision.routing {
            Routing::Reject(reply) => self.respond(&key, reply, now_ms),
            Routing::Aor { aors, mode } => {
                state.aors = aors.clone();
                state.mode = mode;
                state.lookup_pending = true;
                if let Some(tx) = self.servers.get_mut(&key) {
                    tx.route = Some(state);
                }
                self.lookup(LookupFor::Request(key), aors);
            }
            Routing::Hop(dest) => {
                let ruri = self.servers[&key].req.request_uri().to_string();
                if let Some(tx) = self.servers.get_mut(&key) {
                    tx.route = Some(state);
                }
                let target = BranchTarget {
                    ruri,
                    routes: Vec::new(),
                    dest,
                    flow: None,
                };
                self.start_branch(&key, target, now_ms);
                self.check_done(&key, now_ms);
            }
        }
    }

    fn lookup(&mut self, what: LookupFor, aors: Vec<String>) {
        let id = self.next_seq();
        self.lookups.insert(id, what);
        self.out.push_back(Output::Lookup(Lookup { id, aors }));
    }

    /// Where responses to a server transaction go (§18.2.2, RFC 3581).
    fn upstream(&self, tx: &ServerTx) -> Destination {
        let addr = match tx.transport {
            Transport::Udp => response_destination(&tx.req, tx.source),
            Transport::Tcp => tx.source,
        };
        Destination {
            transport: tx.transport,
            addr: HopAddr::Socket(addr),
            local: Some(tx.local),
            fallback: None,
        }
    }

    /// Answers a server transaction with a response built here.
    fn respond(&mut self, key: &TransactionKey, reply: Reply, now_ms: u64) {
        let Some(tx) = self.servers.get(key) else {
            return;
        };
        let tag = self.tags.tag_for(&tx.req);
        let mut w = start_response(&tx.req, reply.code, &reply.reason, tx.source, &tag);
        for (name, value) in &reply.headers {
            w.header(name, value);
        }
        let bytes = Bytes::from(w.finish(None, b""));
        if reply.code < 200 {
            self.send_provisional(key, bytes);
        } else {
            self.send_final(key, bytes, reply.code, now_ms);
        }
    }

    fn send_provisional(&mut self, key: &TransactionKey, bytes: Bytes) {
        let Some(tx) = self.servers.get_mut(key) else {
            return;
        };
        if tx.state != ServerState::Proceeding {
            return;
        }
        tx.last = Some(bytes.clone());
        let dest = self.upstream(&self.servers[key]);
        self.transmit(dest, bytes, None);
    }

    /// Sends the final response of a server transaction and moves it on
    /// (§17.2.1 with RFC 6026's Accepted state, §17.2.2).
    fn send_final(&mut self, key: &TransactionKey, bytes: Bytes, code: u16, now_ms: u64) {
        let Some(tx) = self.servers.get_mut(key) else {
            return;
        };
        if tx.state != ServerState::Proceeding {
            return;
        }
        let reliable = tx.transport.is_reliable();
        tx.last = Some(bytes.clone());
        if tx.invite && code < 300 {
            tx.state = ServerState::Accepted;
            tx.end_at = Some(now_ms + 64 * T1);
        } else if tx.invite {
            tx.state = ServerState::Completed;
            if !reliable {
                tx.timer_g = Some(now_ms + T1);
            }
            tx.end_at = Some(now_ms + 64 * T1);
        } else {
            tx.state = ServerState::Completed;
            tx.end_at = Some(now_ms + if reliable { 0 } else { 64 * T1 });
        }
        let dest = self.upstream(&self.servers[key]);
        self.transmit(dest, bytes, None);
        self.arm_server(key);
    }

    /// CANCEL (§16.10): 200 at once when the INVITE is known (481 if not),
    /// then every pending branch is cancelled.
    fn handle_cancel(&mut self, key: &TransactionKey, now_ms: u64) {
        let invite_key = TransactionKey::of_method(&self.servers[key].req, "INVITE");
        let found = invite_key.filter(|k| self.servers.contains_key(k));
        let Some(invite_key) = found else {
            self.respond(
                key,
                Reply::new(481, "Call/Transaction Does Not Exist"),
                now_ms,
            );
            return;
        };
        self.respond(key, Reply::new(200, "OK"), now_ms);
        let Some(tx) = self.servers.get_mut(&invite_key) else {
            return;
        };
        if tx.state != ServerState::Proceeding {
            return;
        }
        let waiting_for_lookup = match tx.route.as_mut() {
            Some(route) => {
                route.cancelled = true;
                route.branches.is_empty()
            }
            None => true,
        };
        if waiting_for_lookup {
            self.respond(&invite_key, Reply::new(487, "Request Terminated"), now_ms);
            return;
        }
        self.cancel_branches(&invite_key, None, now_ms);
    }

    /// ACK: absorbed when it acknowledges our non-2xx (§17.2.1); otherwise
    /// (a 2xx ACK, its own transaction) forwarded statelessly.
    fn handle_ack(&mut self, req: Message, ctx: &RequestContext<'_>, now_ms: u64) {
        if let Some(key) = TransactionKey::of_method(&req, "INVITE") {
            if let Some(tx) = self.servers.get_mut(&key) {
                match tx.state {
                    ServerState::Completed => {
                        tx.state = ServerState::Confirmed;
                        tx.timer_g = None;
                        tx.end_at = Some(now_ms + if tx.transport.is_reliable() { 0 } else { T4 });
                        self.arm_server(&key);
                        return;
                    }
                    ServerState::Confirmed => return,
                    ServerState::Proceeding | ServerState::Accepted => {}
                }
            }
        }
        if crate::core::validate_request(&req).is_err() {
            return;
        }
        let Ok(max_forwards) = validate(&self.cfg, &req, ctx) else {
            return;
        };
        let decision = decide(&self.cfg, &req, ctx);
        match decision.routing {
            Routing::Reject(_) => {}
            Routing::Hop(dest) => {
                let target = BranchTarget {
                    ruri: req.request_uri().to_string(),
                    routes: Vec::new(),
                    dest,
                    flow: None,
                };
                self.forward_stateless(&req, ctx.source, max_forwards, decision.pop_routes, target);
            }
            Routing::Aor { aors, .. } => {
                let what = LookupFor::Ack {
                    req,
                    source: ctx.source,
                    max_forwards,
                    pop_routes: decision.pop_routes,
                };
                self.lookup(what, aors);
            }
        }
    }

    fn forward_stateless(
        &mut self,
        req: &Message,
        source: SocketAddr,
        max_forwards: u32,
        pop_routes: usize,
        target: BranchTarget,
    ) {
        let Some(local) = target.dest.local else {
            return;
        };
        let seq = self.next_seq();
        let branch = make_branch(self.shard, loop_hash(req), seq, self.salt);
        let via = via_value(target.dest.transport, local, &branch);
        let bytes = forward_request(
            req,
            &Forward {
                ruri: &target.ruri,
                via,
                source,
                record_route: Vec::new(),
                path: &target.routes,
                pop_routes,
                max_forwards,
            },
        );
        self.transmit(target.dest, Bytes::from(bytes), None);
    }

    // ------------------------------------------------------------ lookups

    /// The location service's answer to [`Output::Lookup`] `id`: the
    /// bindings live now of the first AOR that has any.
    pub fn handle_lookup(
        &mut self,
        id: u64,
        bindings: Vec<Binding>,
        subscriber: Subscriber,
        now_ms: u64,
    ) {
        let Some(what) = self.lookups.remove(&id) else {
            return;
        };
        let key = match what {
            LookupFor::Ack {
                req,
                source,
                max_forwards,
                pop_routes,
            } => {
                for b in next_group(self.cfg.proxy.forking, &bindings, &[]) {
                    if let Some(target) = binding_target(&self.cfg.proxy, &b) {
                        self.forward_stateless(&req, source, max_forwards, pop_routes, target);
                    }
                }
                return;
            }
            LookupFor::Request(key) => key,
        };
        let Some(tx) = self.servers.get_mut(&key) else {
            return;
        };
        let Some(route) = tx.route.as_mut() else {
            return;
        };
        route.lookup_pending = false;
        if tx.state != ServerState::Proceeding {
            return;
        }
        let first = route.tried.is_empty();
        if first {
            if bindings.is_empty() {
                let reply = match subscriber {
                    Subscriber::Unknown => Reply::new(404, "Not Found"),
                    Subscriber::Known | Subscriber::Unchecked => {
                        Reply::new(480, "Temporarily Unavailable")
                    }
                };
                self.respond(&key, reply, now_ms);
                return;
            }
            // RFC 2543 bindings say themselves whether they are proxied or
            // redirected (the 409 rule keeps them consistent); others
            // follow the domain's mode.
            let redirect = match bindings.iter().find_map(|b| b.action) {
                Some(ContactAction::Redirect) => true,
                Some(ContactAction::Proxy) => false,
                None => route.mode == Mode::Redirect,
            };
            if redirect {
                let reply = crate::redirect::redirect_reply(&bindings, now_ms);
                self.respond(&key, reply, now_ms);
                return;
            }
        }
        if route.cancelled || route.six_xx {
            self.send_best(&key, now_ms);
            return;
        }
        let group = next_group(self.cfg.proxy.forking, &bindings, &route.tried);
        if group.is_empty() {
            self.send_best(&key, now_ms);
            return;
        }
        for b in group {
            match binding_target(&self.cfg.proxy, &b) {
                Some(target) => self.start_branch(&key, target, now_ms),
                None => {
                    if let Some(route) = self.route_mut(&key) {
                        route.tried.push(b.contact.clone());
                        route.outcomes.push(Outcome {
                            code: 416,
                            bytes: None,
                        });
                    }
                }
            }
        }
        self.check_done(&key, now_ms);
    }

    fn route_mut(&mut self, key: &TransactionKey) -> Option<&mut RouteState> {
        self.servers.get_mut(key).and_then(|t| t.route.as_mut())
    }

    // ------------------------------------------------------------ branches

    /// Forwards the request of server transaction `key` to one target as a
    /// new client transaction (§16.6).
    fn start_branch(&mut self, key: &TransactionKey, target: BranchTarget, now_ms: u64) {
        let seq = self.next_seq();
        let Some(tx) = self.servers.get(key) else {
            return;
        };
        let Some(route) = tx.route.as_ref() else {
            return;
        };
        let contact = target.ruri.clone();
        let Some(local) = target.dest.local else {
            // No socket of that transport to send from.
            if let Some(route) = self.route_mut(key) {
                route.tried.push(contact);
                route.outcomes.push(Outcome {
                    code: 503,
                    bytes: None,
                });
            }
            return;
        };
        let branch = make_branch(self.shard, route.hash, seq, self.salt);
        let via = via_value(target.dest.transport, local, &branch);
        let mut record_route = Vec::new();
        if route.record_route {
            let out_rr = message::record_route_value(target.dest.transport, local, target.flow);
            record_route.push(out_rr);
            if (target.dest.transport, local) != (tx.transport, tx.local) {
                // Different sockets on each side: one Record-Route per side
                // (RFC 5658 double record-routing).
                record_route.push(message::record_route_value(tx.transport, tx.local, None));
            }
        }
        let bytes = forward_request(
            &tx.req,
            &Forward {
                ruri: &target.ruri,
                via,
                source: tx.source,
                record_route,
                path: &target.routes,
                pop_routes: route.pop_routes,
                max_forwards: route.max_forwards,
            },
        );
        let bytes = Bytes::from(bytes);
        let Ok(fwd) = Message::parse(bytes.clone(), &Limits::default()) else {
            if let Some(route) = self.route_mut(key) {
                route.tried.push(contact);
                route.outcomes.push(Outcome {
                    code: 500,
                    bytes: None,
                });
            }
            return;
        };
        let invite = tx.invite;
        let reliable = target.dest.transport.is_reliable();
        let ck = ClientKey {
            branch: branch.clone(),
            cancel: false,
        };
        self.clients.insert(
            ck.clone(),
            ClientTx {
                server: key.clone(),
                invite,
                fwd,
                bytes: bytes.clone(),
                dest: target.dest.clone(),
                state: ClientState::Calling,
                settled: false,
                retransmit_at: (!reliable).then_some(now_ms + T1),
                interval: T1,
                timeout_at: Some(now_ms + 64 * T1),
                timer_c: invite.then_some(now_ms + self.cfg.proxy.branch_timeout_ms),
                end_at: None,
                cancel_wanted: false,
                cancel_sent: false,
                armed: None,
            },
        );
        if let Some(route) = self.route_mut(key) {
            route.branches.push(ck.clone());
            route.tried.push(contact);
        }
        self.arm_client(&ck);
        self.transmit(target.dest, bytes, Some(branch));
    }

    /// Cancels every pending INVITE branch of `key` but `except` (§16.7
    /// step 10, §16.10): at once if it has had a provisional response,
    /// else as soon as it has one (§9.1).
    fn cancel_branches(&mut self, key: &TransactionKey, except: Option<&ClientKey>, now_ms: u64) {
        let Some(route) = self.servers.get(key).and_then(|t| t.route.as_ref()) else {
            return;
        };
        let branches: Vec<ClientKey> = route
            .branches
            .iter()
            .filter(|b| Some(*b) != except)
            .cloned()
            .collect();
        for ck in branches {
            let Some(ct) = self.clients.get_mut(&ck) else {
                continue;
            };
            if !ct.invite || ct.cancel_sent {
                continue;
            }
            match ct.state {
                ClientState::Calling => ct.cancel_wanted = true,
                ClientState::Proceeding => self.send_cancel(&ck, now_ms),
                ClientState::Completed | ClientState::Accepted => {}
            }
        }
    }

    fn send_cancel(&mut self, ck: &ClientKey, now_ms: u64) {
        let Some(ct) = self.clients.get_mut(ck) else {
            return;
        };
        ct.cancel_sent = true;
        ct.timer_c = None;
        // If no final response follows the CANCEL, the branch ends as 408.
        ct.timeout_at = Some(now_ms + 64 * T1);
        let bytes = Bytes::from(cancel_for(&ct.fwd));
        let Ok(fwd) = Message::parse(bytes.clone(), &Limits::default()) else {
            return;
        };
        let dest = ct.dest.clone();
        let server = ct.server.clone();
        let reliable = dest.transport.is_reliable();
        let cancel_key = ClientKey {
            branch: ck.branch.clone(),
            cancel: true,
        };
        self.clients.insert(
            cancel_key.clone(),
            ClientTx {
                server,
                invite: false,
                fwd,
                bytes: bytes.clone(),
                dest: dest.clone(),
                state: ClientState::Calling,
                settled: true,
                retransmit_at: (!reliable).then_some(now_ms + T1),
                interval: T1,
                timeout_at: Some(now_ms + 64 * T1),
                timer_c: None,
                end_at: None,
                cancel_wanted: false,
                cancel_sent: false,
                armed: None,
            },
        );
        self.arm_client(ck);
        self.arm_client(&cancel_key);
        self.transmit(dest, bytes, None);
    }

    // ------------------------------------------------------------ responses

    /// A response received from downstream.
    pub fn handle_response(&mut self, resp: Message, now_ms: u64) {
        let Some(code) = resp.status() else { return };
        let Some(branch) = top_branch(&resp).map(str::to_string) else {
            return;
        };
        let method = resp
            .header(HeaderName::CSeq)
            .and_then(|c| CSeq::parse(c).ok())
            .map(|c| c.method.to_string())
            .unwrap_or_default();
        let ck = ClientKey {
            branch,
            cancel: method == "CANCEL",
        };
        let Some(ct) = self.clients.get_mut(&ck) else {
            // A 2xx to an INVITE whose client transaction is gone is still
            // forwarded, statelessly, by the Via it carries (§16.7 step 5).
            if method == "INVITE" && (200..300).contains(&code) {
                self.forward_response_by_via(&resp);
            }
            return;
        };
        if ck.cancel {
            if code >= 200 {
                ct.retransmit_at = None;
                ct.timeout_at = None;
                ct.state = ClientState::Completed;
                ct.end_at = Some(
                    now_ms
                        + if ct.dest.transport.is_reliable() {
                            0
                        } else {
                            T4
                        },
                );
                self.arm_client(&ck);
            }
            return;
        }
        let server = ct.server.clone();
        let reliable = ct.dest.transport.is_reliable();
        match ct.state {
            ClientState::Completed if ct.invite && code >= 300 => {
                // A retransmitted final response: ACK it again (§17.1.1.2).
                let ack = Bytes::from(ack_for(&ct.fwd, &resp));
                let dest = ct.dest.clone();
                self.transmit(dest, ack, None);
                return;
            }
            ClientState::Completed => return,
            ClientState::Accepted => {
                if (200..300).contains(&code) {
                    let bytes = Bytes::from(strip_top_via(&resp));
                    self.forward_upstream(&server, bytes);
                }
                return;
            }
            ClientState::Calling | ClientState::Proceeding => {}
        }
        if code < 200 {
            if ct.state == ClientState::Calling {
                ct.state = ClientState::Proceeding;
                if ct.invite {
                    ct.retransmit_at = None;
                    if !ct.cancel_sent {
                        ct.timeout_at = None;
                    }
                }
            }
            if !ct.invite && ct.retransmit_at.is_some() {
                ct.interval = T2;
            }
            if ct.invite && !ct.cancel_sent && !ct.settled {
                ct.timer_c = Some(now_ms + self.cfg.proxy.branch_timeout_ms);
            }
            let cancel_now = ct.invite && ct.cancel_wanted && !ct.cancel_sent;
            let settled = ct.settled;
            self.arm_client(&ck);
            if cancel_now {
                self.send_cancel(&ck, now_ms);
            }
            if code > 100 && !settled {
                let bytes = Bytes::from(strip_top_via(&resp));
                self.send_provisional(&server, bytes);
            }
            return;
        }
        ct.retransmit_at = None;
        ct.timeout_at = None;
        ct.timer_c = None;
        let was_settled = std::mem::replace(&mut ct.settled, true);
        if code < 300 {
            ct.state = if ct.invite {
                ClientState::Accepted
            } else {
                ClientState::Completed
            };
            ct.end_at = Some(
                now_ms
                    + if ct.invite {
                        64 * T1
                    } else if reliable {
                        0
                    } else {
                        T4
                    },
            );
            let invite = ct.invite;
            self.arm_client(&ck);
            let bytes = Bytes::from(strip_top_via(&resp));
            match self.servers.get(&server).map(|s| s.state) {
                Some(ServerState::Proceeding) => self.send_final(&server, bytes, code, now_ms),
                // Later 2xx responses of other branches are forwarded too.
                Some(ServerState::Accepted) => self.forward_upstream(&server, bytes),
                _ => {}
            }
            if invite {
                self.cancel_branches(&server, Some(&ck), now_ms);
            }
            return;
        }
        ct.state = ClientState::Completed;
        if ct.invite {
            ct.end_at = Some(now_ms + if reliable { 0 } else { 32_000 });
            let ack = Bytes::from(ack_for(&ct.fwd, &resp));
            let dest = ct.dest.clone();
            self.transmit(dest, ack, None);
        } else {
            ct.end_at = Some(now_ms + if reliable { 0 } else { T4 });
        }
        self.arm_client(&ck);
        if was_settled {
            return;
        }
        let bytes = Bytes::from(strip_top_via(&resp));
        if let Some(route) = self.route_mut(&server) {
            route.outcomes.push(Outcome {
                code,
                bytes: Some(bytes),
            });
            if code >= 600 {
                route.six_xx = true;
            }
        }
        if code >= 600 {
            self.cancel_branches(&server, Some(&ck), now_ms);
        }
        self.check_done(&server, now_ms);
    }

    fn forward_upstream(&mut self, key: &TransactionKey, bytes: Bytes) {
        let Some(tx) = self.servers.get(key) else {
            return;
        };
        let dest = self.upstream(tx);
        self.transmit(dest, bytes, None);
    }

    fn forward_response_by_via(&mut self, resp: &Message) {
        let bytes = strip_top_via(resp);
        let Ok(stripped) = Message::parse(Bytes::from(bytes), &Limits::default()) else {
            return;
        };
        let next = stripped
            .header(HeaderName::Via)
            .and_then(|l| sip_message::headers::split_list(l).next())
            .and_then(message::via_destination);
        if let Some(dest) = next {
            let bytes = stripped.as_bytes().clone();
            self.transmit(dest, bytes, None);
        }
    }

    /// After a branch settled: start the next group (after a fresh lookup)
    /// or, when nothing is left, send the best response (§16.7 steps 4-6).
    fn check_done(&mut self, key: &TransactionKey, now_ms: u64) {
        let Some(tx) = self.servers.get(key) else {
            return;
        };
        if tx.state != ServerState::Proceeding {
            return;
        }
        let Some(route) = tx.route.as_ref() else {
            return;
        };
        if route.lookup_pending {
            return;
        }
        let pending = route
            .branches
            .iter()
            .any(|b| self.clients.get(b).is_some_and(|c| !c.settled));
        if pending {
            return;
        }
        let more = !route.aors.is_empty()
            && !route.cancelled
            && !route.six_xx
            && route.tried.len() < MAX_BRANCHES;
        if more {
            let aors = route.aors.clone();
            if let Some(route) = self.route_mut(key) {
                route.lookup_pending = true;
            }
            self.lookup(LookupFor::Request(key.clone()), aors);
            return;
        }
        self.send_best(key, now_ms);
    }

    /// §16.7 step 6: a 6xx if any, else the lowest class; 408 when no
    /// branch answered; a 503 becomes 500.
    fn send_best(&mut self, key: &TransactionKey, now_ms: u64) {
        let Some(route) = self.servers.get(key).and_then(|t| t.route.as_ref()) else {
            return;
        };
        let best = route
            .outcomes
            .iter()
            .enumerate()
            .min_by_key(|(i, o)| (if o.code >= 600 { 0 } else { o.code / 100 }, *i))
            .map(|(_, o)| o.clone());
        match best {
            None => self.respond(key, Reply::new(408, "Request Timeout"), now_ms),
            Some(Outcome { code: 503, .. }) => {
                self.respond(key, Reply::new(500, "Server Internal Error"), now_ms)
            }
            Some(Outcome {
                code,
                bytes: Some(bytes),
            }) => self.send_final(key, bytes, code, now_ms),
            Some(Outcome { code, bytes: None }) => {
                let reason = match code {
                    416 => "Unsupported URI Scheme",
                    500 => "Server Internal Error",
                    _ => "Request Timeout",
                };
                self.respond(key, Reply::new(code, reason), now_ms)
            }
        }
    }

    /// The shell could not send the request of `branch` (no route to the
    /// host, connection refused, name not resolved): the branch ends as a
    /// 503 (§8.1.3.1, §16.7 step 6).
    pub fn handle_transport_error(&mut self, branch: &str, now_ms: u64) {
        let ck = ClientKey {
            branch: branch.to_string(),
            cancel: false,
        };
        let Some(ct) = self.clients.remove(&ck) else {
            return;
        };
        if ct.settled {
            return;
        }
        if let Some(route) = self.route_mut(&ct.server) {
            route.outcomes.push(Outcome {
                code: 503,
                bytes: None,
            });
        }
        self.check_done(&ct.server, now_ms);
    }

    // ------------------------------------------------------------ timers

    /// Runs every transaction timer due at `now_ms` (A-K of §17, Timer C of
    /// §16.8, the RFC 6026 Accepted wait).
    pub fn handle_timeout(&mut self, now_ms: u64) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let ((deadline, _), which) = entry.remove_entry();
            match which {
                TimerRef::Server(key) => self.server_timer(&key, deadline, now_ms),
                TimerRef::Client(key) => self.client_timer(&key, deadline, now_ms),
            }
        }
    }

    fn server_timer(&mut self, key: &TransactionKey, deadline: u64, now_ms: u64) {
        let Some(tx) = self.servers.get_mut(key) else {
            return;
        };
        if tx.armed != Some(deadline) {
            return;
        }
        tx.armed = None;
        if tx.end_at.is_some_and(|t| t <= now_ms) {
            self.servers.remove(key);
            return;
        }
        if tx.timer_g.is_some_and(|t| t <= now_ms) {
            // Timer G: retransmit the final response until the ACK.
            tx.g_interval = (tx.g_interval * 2).min(T2);
            tx.timer_g = Some(now_ms + tx.g_interval);
            if let Some(last) = tx.last.clone() {
                let dest = self.upstream(&self.servers[key]);
                self.transmit(dest, last, None);
            }
        }
        self.arm_server(key);
    }

    fn client_timer(&mut self, key: &ClientKey, deadline: u64, now_ms: u64) {
        let Some(ct) = self.clients.get_mut(key) else {
            return;
        };
        if ct.armed != Some(deadline) {
            return;
        }
        ct.armed = None;
        if ct.end_at.is_some_and(|t| t <= now_ms) {
            self.clients.remove(key);
            return;
        }
        let server = ct.server.clone();
        if ct.timeout_at.is_some_and(|t| t <= now_ms) {
            // Timer B / F (or no answer to our CANCEL): the branch is 408.
            let was_settled = ct.settled;
            self.clients.remove(key);
            if !was_settled {
                if let Some(route) = self.route_mut(&server) {
                    route.outcomes.push(Outcome {
                        code: 408,
                        bytes: None,
                    });
                }
                self.check_done(&server, now_ms);
            }
            return;
        }
        if ct.timer_c.is_some_and(|t| t <= now_ms) {
            // Timer C: the branch rang too long.
            ct.timer_c = None;
            match ct.state {
                ClientState::Proceeding => self.send_cancel(key, now_ms),
                _ => {
                    ct.cancel_wanted = true;
                    if !std::mem::replace(&mut ct.settled, true) {
                        if let Some(route) = self.route_mut(&server) {
                            route.outcomes.push(Outcome {
                                code: 408,
                                bytes: None,
                            });
                        }
                        self.check_done(&server, now_ms);
                    }
                }
            }
        }
        let Some(ct) = self.clients.get_mut(key) else {
            return;
        };
        if ct.retransmit_at.is_some_and(|t| t <= now_ms) {
            // Timer A / E.
            ct.interval = if ct.invite {
                ct.interval * 2
            } else {
                (ct.interval * 2).min(T2)
            };
            ct.retransmit_at = Some(now_ms + ct.interval);
            let (dest, bytes) = (ct.dest.clone(), ct.bytes.clone());
            self.transmit(dest, bytes, None);
        }
        self.arm_client(key);
    }
}

/// Our Via value for a message sent from `local` over `transport`.
fn via_value(transport: Transport, local: SocketAddr, branch: &str) -> String {
    let t = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    };
    format!("SIP/2.0/{t} {local};branch={branch};rport")
}
