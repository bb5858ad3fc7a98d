//! The transaction-stateful proxy of RFC 3261 §16, sans-IO, driven by the
//! endpoint ([`crate::Endpoint`]) that owns it.
//!
//! One [`Proxy`] per endpoint instance holds the server transactions of
//! the requests it routes and the client transactions of every branch it
//! forks, both of the shared [`crate::transaction`] implementation, and
//! the response context that ties them (§16.7). Its parts, by concern:
//!
//! - [`upstream`]: the server side, where responses go and how they are
//!   sent upstream;
//! - [`branch`]: the client side, one forwarded copy of the request with
//!   its Timer C and its CANCEL state;
//! - [`context`]: the forking context, which groups of contacts are tried
//!   and which response wins (§16.6, §16.7);
//! - [`cancel`]: CANCEL received and sent (§9.1, §16.10);
//! - [`ack`]: the ACK rules (absorbed by the transaction, or forwarded
//!   statelessly);
//! - [`route`] and [`target`]: the routing decision (§16.3-§16.5) and the
//!   next hop of each binding; [`message`]: the messages the proxy writes;
//!   [`auth`]: the caller-authentication hook.
//!
//! The location service is asked at the moment of routing, and again
//! before each lower-q group is tried, so a binding that changed during a
//! call attempt is used as it is now (RFC 2543 §4.2.6, "directed pick-up").
//! Each branch carries its endpoint instance's shard number
//! ([`shard_of_branch`]) so responses find their way back.

mod ack;
mod auth;
mod branch;
mod cancel;
mod context;
mod message;
mod route;
mod target;
mod upstream;

pub use auth::{AllowAll, AuthDecision, CallerAuth, ProxyAuth};
pub use message::{shard_of_branch, top_branch};
pub use route::is_routed;

use crate::config::CoreConfig;
use crate::context::RequestContext;
use crate::outbox::Outbox;
use crate::reply::Reply;
use crate::response::TagGenerator;
use crate::rng::Rng;
use crate::security::Subscriber;
use crate::transaction::{
    KeyHasher, Match, Retransmission, ServerTable, ServerTransaction, TimerQueue, TransactionKey,
};
use branch::{Branch, ClientKey};
use bytes::Bytes;
use location_model::Binding;
use route::{decide, validate, Routing};
use sip_message::headers::CSeq;
use sip_message::{HeaderName, Message, Method, NameAddr};
use std::collections::HashMap;
use std::sync::Arc;
use target::BranchTarget;
use upstream::Upstream;

/// Most branches one request may fork to over all its groups.
const MAX_BRANCHES: usize = 32;

/// What a location lookup was asked for.
#[derive(Debug)]
enum LookupFor {
    /// The routing of a server transaction (first or next group).
    Request(TransactionKey),
    /// An ACK forwarded statelessly to the AOR's contacts.
    Ack {
        req: Message,
        source: std::net::SocketAddr,
        max_forwards: u32,
        pop_routes: usize,
    },
}

/// The stateful proxy of one endpoint instance. See the module docs.
#[derive(Debug)]
pub struct Proxy {
    cfg: Arc<CoreConfig>,
    auth: Arc<dyn ProxyAuth>,
    /// The realm digest challenges use when configured: credentials for it
    /// are never forwarded.
    realm: Option<String>,
    shard: u16,
    salt: u64,
    seq: u64,
    tags: TagGenerator,
    servers: ServerTable<Upstream>,
    branches: HashMap<ClientKey, Branch, KeyHasher>,
    branch_timers: TimerQueue<ClientKey>,
    lookups: HashMap<u64, LookupFor, KeyHasher>,
    /// True while the node drains: new requests get 503.
    draining: bool,
}

impl Proxy {
    /// The proxy of endpoint instance `shard` (written into its branches),
    /// asking `auth` before routing; `realm` is the configured digest
    /// realm, if any; `rng` keys its tags, branches and tables.
    pub fn new(
        cfg: Arc<CoreConfig>,
        auth: Arc<dyn ProxyAuth>,
        realm: Option<String>,
        shard: u16,
        rng: &mut Rng,
    ) -> Proxy {
        Proxy {
            cfg,
            auth,
            realm,
            shard,
            salt: rng.next_u64() & 0xffff_ffff,
            seq: 0,
            tags: TagGenerator::new(rng),
            servers: ServerTable::new(rng.hasher()),
            branches: HashMap::with_hasher(rng.hasher()),
            branch_timers: TimerQueue::new(),
            lookups: HashMap::with_hasher(rng.hasher()),
            draining: false,
        }
    }

    /// Starts or ends draining: while draining, new requests (but CANCEL
    /// and ACK) get 503 and those in flight go on.
    pub(crate) fn set_draining(&mut self, draining: bool) {
        self.draining = draining;
    }

    /// Replaces the configuration (a reload) and the realm whose
    /// credentials are never forwarded.
    pub(crate) fn reconfigure(&mut self, cfg: Arc<CoreConfig>, realm: Option<String>) {
        self.cfg = cfg;
        self.realm = realm;
    }

    /// Routed requests not answered finally yet.
    pub(crate) fn pending(&self) -> usize {
        self.servers.pending()
    }

    /// Number of live server and client transactions (for tests and metrics).
    pub fn transactions(&self) -> (usize, usize) {
        (self.servers.len(), self.branches.len())
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A request the router takes (see [`is_routed`]); ACKs go to
    /// [`Proxy::handle_ack`].
    pub(crate) fn handle_request(
        &mut self,
        req: Message,
        ctx: &RequestContext<'_>,
        now_ms: u64,
        out: &mut Outbox,
    ) {
        let Some(key) = TransactionKey::of(&req) else {
            return;
        };
        let invite = req.method() == Some(Method::Invite);
        let reliable = ctx.transport.is_reliable();
        let matched = self.servers.on_request(&key, now_ms, move || {
            (
                ServerTransaction::new(invite, reliable),
                Upstream::new(req, ctx),
            )
        });
        if let Match::Retransmission(again) = matched {
            // A retransmission: answer with the last response sent (§17.2).
            if let (Retransmission::Resend(last), Some(e)) = (again, self.servers.get(&key)) {
                out.transmit(e.data.transmit(last));
            }
            return;
        }
        let Some(entry) = self.servers.get(&key) else {
            return;
        };
        let req = &entry.data.req;
        if let Err(e) = crate::validate::validate_request(req) {
            self.respond(&key, Reply::new(400, e.to_string()), now_ms, out);
            return;
        }
        if req.method() == Some(Method::Cancel) {
            self.handle_cancel(&key, now_ms, out);
            return;
        }
        if self.draining {
            let busy = Reply::new(503, "Service Unavailable").with_header("Retry-After", "5");
            return self.respond(&key, busy, now_ms, out);
        }
        if invite {
            self.respond(&key, Reply::new(100, "Trying"), now_ms, out);
        }
        self.route(&key, ctx, now_ms, out);
    }

    /// §16.3-§16.5 for a new server transaction: validation, the caller's
    /// authentication, then the lookup or the one next hop.
    fn route(
        &mut self,
        key: &TransactionKey,
        ctx: &RequestContext<'_>,
        now_ms: u64,
        out: &mut Outbox,
    ) {
        let Some(entry) = self.servers.get(key) else {
            return;
        };
        let req = &entry.data.req;
        let max_forwards = match validate(&self.cfg, req, ctx) {
            Ok(mf) => mf,
            Err(reply) => return self.respond(key, reply, now_ms, out),
        };
        let decision = decide(&self.cfg, req, ctx);
        let in_dialog = req
            .header(HeaderName::To)
            .and_then(|t| NameAddr::parse(t).ok())
            .is_some_and(|t| t.tag().is_some());
        if !in_dialog {
            match self.auth.check(req, ctx, decision.local_target, now_ms) {
                AuthDecision::Proceed => {}
                AuthDecision::Reject(reply) => return self.respond(key, reply, now_ms, out),
                AuthDecision::Refuse(refusal) => {
                    self.respond(key, refusal.reply, now_ms, out);
                    out.event(crate::io::Event::Refused {
                        source: ctx.source,
                        outcome: refusal.outcome,
                    });
                    return;
                }
            }
        }
        let mut context = context::Context::new(
            self.cfg.proxy.mode,
            max_forwards,
            decision.pop_routes,
            self.cfg.proxy.record_route && !in_dialog,
            message::loop_hash(req),
        );
        match decision.routing {
            Routing::Reject(reply) => self.respond(key, reply, now_ms, out),
            Routing::Aor { aors, mode } => {
                context.aors.clone_from(&aors);
                context.mode = mode;
                context.lookup_pending = true;
                self.set_context(key, context);
                self.lookup(LookupFor::Request(key.clone()), aors, out);
            }
            Routing::Hop(dest) => {
                let ruri = req.request_uri().to_string();
                self.set_context(key, context);
                let target = BranchTarget {
                    ruri,
                    routes: Vec::new(),
                    dest,
                    flow: None,
                };
                self.start_branch(key, target, now_ms, out);
                self.check_done(key, now_ms, out);
            }
        }
    }

    fn set_context(&mut self, key: &TransactionKey, context: context::Context) {
        if let Some(e) = self.servers.get_mut(key) {
            e.data.context = Some(context);
        }
    }

    fn lookup(&mut self, what: LookupFor, aors: Vec<String>, out: &mut Outbox) {
        let id = out.store(crate::io::StoreOpKind::Lookup { aors });
        self.lookups.insert(id.0, what);
    }

    /// True when store operation `id` is one of this proxy's lookups.
    pub(crate) fn owns_lookup(&self, id: u64) -> bool {
        self.lookups.contains_key(&id)
    }

    /// The location service's answer to lookup `id`: the bindings live now
    /// of the first AOR that had any, and (when there are none) what the
    /// account directory says of the first AOR's user.
    pub(crate) fn handle_lookup(
        &mut self,
        id: u64,
        bindings: Vec<Binding>,
        subscriber: Subscriber,
        now_ms: u64,
        out: &mut Outbox,
    ) {
        let Some(what) = self.lookups.remove(&id) else {
            return;
        };
        match what {
            LookupFor::Ack {
                req,
                source,
                max_forwards,
                pop_routes,
            } => {
                self.forward_ack_to_bindings(&req, source, max_forwards, pop_routes, &bindings, out)
            }
            LookupFor::Request(key) => self.on_bindings(&key, bindings, subscriber, now_ms, out),
        }
    }

    /// The first AOR a pending lookup asked for (for the directory check).
    pub(crate) fn lookup_aor(&self, id: u64) -> Option<String> {
        match self.lookups.get(&id)? {
            LookupFor::Request(key) => self
                .servers
                .get(key)
                .and_then(|e| e.data.context.as_ref())
                .and_then(|c| c.aors.first().cloned()),
            LookupFor::Ack { .. } => None,
        }
    }

    /// A response received from downstream.
    pub(crate) fn handle_response(&mut self, resp: Message, now_ms: u64, out: &mut Outbox) {
        let Some(code) = resp.status() else { return };
        let Some(branch) = top_branch(&resp).map(str::to_string) else {
            return;
        };
        let method = resp
            .header(HeaderName::CSeq)
            .and_then(|c| CSeq::parse(c).ok())
            .map(|c| c.method.to_string())
            .unwrap_or_default();
        let ck = ClientKey::new(branch, method == "CANCEL");
        if !self.branches.contains_key(&ck) {
            // A 2xx to an INVITE whose client transaction is gone is still
            // forwarded, statelessly, by the Via it carries (§16.7 step 5).
            if method == "INVITE" && (200..300).contains(&code) {
                self.forward_response_by_via(&resp, out);
            } else {
                out.event(crate::io::Event::StrayResponse);
            }
            return;
        }
        self.on_branch_response(&ck, code, &resp, now_ms, out);
    }

    /// The shell could not send the request of `branch` (no route to the
    /// host, connection refused, name not resolved): the branch ends as a
    /// 503 (§8.1.3.1, §16.7 step 6).
    pub(crate) fn handle_send_failure(&mut self, branch: &str, now_ms: u64, out: &mut Outbox) {
        let ck = ClientKey::new(branch.to_string(), false);
        let Some(b) = self.branches.remove(&ck) else {
            return;
        };
        if b.settled {
            return;
        }
        if let Some(context) = self.context_mut(&b.server) {
            context.record(503, None);
        }
        self.check_done(&b.server, now_ms, out);
    }

    /// The earliest instant at which [`Proxy::handle_timeout`] has work.
    pub(crate) fn poll_timeout(&self) -> Option<u64> {
        [
            self.servers.poll_timeout(),
            self.branch_timers.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every timer due at `now_ms`: the server transactions' (Timer G,
    /// and their ends) and the branches' (Timers A-F, K, D and M, Timer C of
    /// §16.8, the wait for a CANCEL's outcome).
    pub(crate) fn handle_timeout(&mut self, now_ms: u64, out: &mut Outbox) {
        self.servers.handle_timeout(now_ms, |_, event, entry| {
            if let crate::transaction::ServerTimeout::Resend(bytes) = event {
                out.transmit(entry.data.transmit(bytes));
            }
        });
        while let Some((_, key)) = self.branch_timers.pop_due(now_ms) {
            self.branch_timer(&key, now_ms, out);
        }
        self.branch_timers.shrink();
    }

    fn context_mut(&mut self, key: &TransactionKey) -> Option<&mut context::Context> {
        self.servers
            .get_mut(key)
            .and_then(|e| e.data.context.as_mut())
    }

    /// The Proxy-Authorization values to leave out of a forwarded request:
    /// those for a realm of ours (the configured realm, a served domain, or
    /// this server's own name), verified or not, so no callee ever sees a
    /// caller's digest response (RFC 3261 §22.3). Others pass untouched.
    fn is_our_realm(&self, realm: &str) -> bool {
        let realm = realm.to_ascii_lowercase();
        self.realm
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(&realm))
            || self.cfg.registrar.serves(&realm)
            || self.cfg.local_hosts.contains(&realm)
    }

    /// Sends `bytes` (a response already stripped of our Via) upstream on
    /// server transaction `key`, outside the transaction (a later 2xx).
    fn forward_upstream(&mut self, key: &TransactionKey, bytes: Bytes, out: &mut Outbox) {
        if let Some(e) = self.servers.get(key) {
            out.transmit(e.data.transmit(bytes));
        }
    }
}
