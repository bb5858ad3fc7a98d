//! The forking context of one proxied request (RFC 3261 §16.6, §16.7):
//! which contacts were tried, how each branch ended, when the next group
//! (lower q) is tried, and which response is sent upstream in the end.

use super::branch::ClientKey;
use super::target::{binding_target, next_group};
use super::Proxy;
use crate::config::Mode;
use crate::outbox::Outbox;
use crate::reply::Reply;
use crate::security::Subscriber;
use crate::transaction::TransactionKey;
use bytes::Bytes;
use location_model::{Binding, ContactAction};

/// How a branch ended, for best-response selection (§16.7 step 6).
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    code: u16,
    /// The response to forward, or `None` to answer locally with `code`.
    bytes: Option<Bytes>,
}

/// The routing state of one server transaction.
#[derive(Debug)]
pub(super) struct Context {
    /// The AORs looked up (empty for a request to one next hop).
    pub(super) aors: Vec<String>,
    /// Proxy or redirect, for the Request-URI's domain.
    pub(super) mode: Mode,
    /// The Max-Forwards to write when forwarding.
    pub(super) max_forwards: u32,
    /// Route values at the top that named this server (dropped).
    pub(super) pop_routes: usize,
    /// Whether forwarded copies get our Record-Route.
    pub(super) record_route: bool,
    /// The loop-detection hash written into branches (§16.6 step 8).
    pub(super) hash: u32,
    /// Every branch started, in order.
    pub(super) branches: Vec<ClientKey>,
    /// Contact URIs tried.
    pub(super) tried: Vec<String>,
    outcomes: Vec<Outcome>,
    /// A CANCEL arrived: no further group is tried.
    pub(super) cancelled: bool,
    /// A 6xx arrived: no further group is tried (§16.7 step 5).
    pub(super) six_xx: bool,
    /// A lookup is outstanding.
    pub(super) lookup_pending: bool,
}

impl Context {
    /// A context before any lookup or branch.
    pub(super) fn new(
        mode: Mode,
        max_forwards: u32,
        pop_routes: usize,
        record_route: bool,
        hash: u32,
    ) -> Context {
        Context {
            aors: Vec::new(),
            mode,
            max_forwards,
            pop_routes,
            record_route,
            hash,
            branches: Vec::new(),
            tried: Vec::new(),
            outcomes: Vec::new(),
            cancelled: false,
            six_xx: false,
            lookup_pending: false,
        }
    }

    /// Records how one branch ended: `bytes` is the response to forward,
    /// `None` to answer locally with `code`.
    pub(super) fn record(&mut self, code: u16, bytes: Option<Bytes>) {
        if code >= 600 {
            self.six_xx = true;
        }
        self.outcomes.push(Outcome { code, bytes });
    }

    /// Records a contact that could not be tried at all.
    pub(super) fn untried(&mut self, contact: String, code: u16) {
        self.tried.push(contact);
        self.record(code, None);
    }

    /// True when another group may be looked up and tried.
    fn may_go_on(&self) -> bool {
        !self.aors.is_empty()
            && !self.cancelled
            && !self.six_xx
            && self.tried.len() < super::MAX_BRANCHES
    }

    /// §16.7 step 6: a 6xx if any, else the lowest class (the first of it);
    /// `None` when no branch answered.
    fn best(&self) -> Option<Outcome> {
        self.outcomes
            .iter()
            .enumerate()
            .min_by_key(|(i, o)| (if o.code >= 600 { 0 } else { o.code / 100 }, *i))
            .map(|(_, o)| o.clone())
    }
}

impl Proxy {
    /// The bindings found for server transaction `key`: a 404/480 or a 302
    /// for the first lookup, else the next group of contacts to fork to.
    pub(super) fn on_bindings(
        &mut self,
        key: &TransactionKey,
        bindings: Vec<Binding>,
        subscriber: Subscriber,
        now_ms: u64,
        out: &mut Outbox,
    ) {
        let Some(entry) = self.servers.get_mut(key) else {
            return;
        };
        let pending = entry.tx.is_pending();
        let Some(context) = entry.data.context.as_mut() else {
            return;
        };
        context.lookup_pending = false;
        if !pending {
            return;
        }
        if context.tried.is_empty() {
            if bindings.is_empty() {
                let reply = match subscriber {
                    Subscriber::Unknown => Reply::new(404, "Not Found"),
                    Subscriber::Known | Subscriber::Unchecked => {
                        Reply::new(480, "Temporarily Unavailable")
                    }
                };
                return self.respond(key, reply, now_ms, out);
            }
            // RFC 2543 bindings say themselves whether they are proxied or
            // redirected (the 409 rule keeps them consistent); others
            // follow the domain's mode.
            let redirect = match bindings.iter().find_map(|b| b.action) {
                Some(ContactAction::Redirect) => true,
                Some(ContactAction::Proxy) => false,
                None => context.mode == Mode::Redirect,
            };
            if redirect {
                let reply = crate::redirect::redirect_reply(&bindings, now_ms);
                return self.respond(key, reply, now_ms, out);
            }
        }
        if context.cancelled || context.six_xx {
            return self.send_best(key, now_ms, out);
        }
        let group = next_group(self.cfg.proxy.forking, &bindings, &context.tried);
        if group.is_empty() {
            return self.send_best(key, now_ms, out);
        }
        for b in group {
            match binding_target(&self.cfg.proxy, &b) {
                Some(target) => self.start_branch(key, target, now_ms, out),
                None => {
                    if let Some(context) = self.context_mut(key) {
                        context.untried(b.contact.clone(), 416);
                    }
                }
            }
        }
        self.check_done(key, now_ms, out);
    }

    /// After a branch settled: start the next group (after a fresh lookup)
    /// or, when nothing is left, send the best response (§16.7 steps 4-6).
    pub(super) fn check_done(&mut self, key: &TransactionKey, now_ms: u64, out: &mut Outbox) {
        let Some(entry) = self.servers.get(key) else {
            return;
        };
        if !entry.tx.is_pending() {
            return;
        }
        let Some(context) = entry.data.context.as_ref() else {
            return;
        };
        if context.lookup_pending {
            return;
        }
        let unsettled = context
            .branches
            .iter()
            .any(|b| self.branches.get(b).is_some_and(|b| !b.settled));
        if unsettled {
            return;
        }
        if context.may_go_on() {
            let aors = context.aors.clone();
            if let Some(context) = self.context_mut(key) {
                context.lookup_pending = true;
            }
            self.lookup(super::LookupFor::Request(key.clone()), aors, out);
            return;
        }
        self.send_best(key, now_ms, out);
    }

    /// Sends the best response of the context upstream (§16.7 step 6): 408
    /// when no branch answered; a 503 becomes 500.
    pub(super) fn send_best(&mut self, key: &TransactionKey, now_ms: u64, out: &mut Outbox) {
        let Some(context) = self.servers.get(key).and_then(|e| e.data.context.as_ref()) else {
            return;
        };
        match context.best() {
            None => self.respond(key, Reply::new(408, "Request Timeout"), now_ms, out),
            Some(Outcome { code: 503, .. }) => {
                self.respond(key, Reply::new(500, "Server Internal Error"), now_ms, out)
            }
            Some(Outcome {
                code,
                bytes: Some(bytes),
            }) => self.send_final(key, bytes, code, now_ms, out),
            Some(Outcome { code, bytes: None }) => {
                let reason = match code {
                    416 => "Unsupported URI Scheme",
                    500 => "Server Internal Error",
                    _ => "Request Timeout",
                };
                self.respond(key, Reply::new(code, reason), now_ms, out)
            }
        }
    }
}
