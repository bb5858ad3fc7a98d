//! The client side of a proxied request: one branch is one forwarded copy
//! (§16.6), a client transaction with what the proxy adds to it: Timer C
//! (§16.8), whether the branch has settled for the forking context, and
//! its CANCEL state (§16.10). A CANCEL sent on a branch is a branch of its
//! own, keyed by the same branch id.

use super::message::{
    ack_for, forward_request, make_branch, record_route_value, strip_top_via, Forward,
};
use super::target::BranchTarget;
use super::Proxy;
use crate::io::Transmit;
use crate::outbox::Outbox;
use crate::transaction::timers::TIMER_B_MS;
use crate::transaction::{
    ClientEvent, ClientState, ClientTimeout, ClientTransaction, TransactionKey,
};
use crate::transport::{Destination, Transport};
use bytes::Bytes;
use sip_message::{Limits, Message};
use std::net::SocketAddr;

/// How a branch is found: its branch id, and whether it is the CANCEL sent
/// on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ClientKey {
    branch: String,
    cancel: bool,
}

impl ClientKey {
    /// The key of `branch` (its CANCEL when `cancel`).
    pub(super) fn new(branch: String, cancel: bool) -> ClientKey {
        ClientKey { branch, cancel }
    }

    /// The key of the CANCEL sent on this branch.
    fn cancel_key(&self) -> ClientKey {
        ClientKey {
            branch: self.branch.clone(),
            cancel: true,
        }
    }
}

/// Whether a branch was, or is to be, cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CancelState {
    /// Not cancelled.
    No,
    /// To be cancelled once it has had a provisional response (§9.1).
    Wanted,
    /// A CANCEL was sent; if no final response comes by this instant, the
    /// branch ends as a 408.
    Sent(u64),
    /// A CANCEL was sent and the request got its final response.
    Answered,
}

/// One branch. See the module docs.
#[derive(Debug)]
pub(super) struct Branch {
    /// The server transaction it belongs to.
    pub(super) server: TransactionKey,
    /// Its client transaction.
    pub(super) tx: ClientTransaction,
    /// The request as forwarded (the CANCEL and ACK copy its headers).
    pub(super) fwd: Message,
    /// Where it went.
    pub(super) dest: Destination,
    /// True once the branch no longer counts as pending for the forking
    /// context (a final response, Timer C, or a CANCEL's own branch).
    pub(super) settled: bool,
    /// Timer C: how long an INVITE branch may ring.
    pub(super) timer_c: Option<u64>,
    /// Its CANCEL state.
    pub(super) cancel: CancelState,
}

impl Branch {
    /// Every timer of the branch: its transaction's, Timer C, and the wait
    /// for a CANCEL's outcome.
    fn timers(&self) -> [Option<u64>; 5] {
        let [a, b, c] = self.tx.timers();
        let cancel = match self.cancel {
            CancelState::Sent(t) => Some(t),
            _ => None,
        };
        [a, b, c, self.timer_c, cancel]
    }

    fn transmit(&self, bytes: Bytes) -> Transmit {
        Transmit {
            dest: self.dest.clone(),
            bytes,
            branch: None,
        }
    }
}

/// Our Via value for a message sent from `local` over `transport`.
pub(super) fn via_value(transport: Transport, local: SocketAddr, branch: &str) -> String {
    format!(
        "SIP/2.0/{} {local};branch={branch};rport",
        transport.via_name()
    )
}

impl Proxy {
    /// Queues the timers of branch `key` that differ from `before` (those
    /// set at `now_ms`).
    fn queue_branch_timers(&mut self, key: &ClientKey, before: [Option<u64>; 5], now_ms: u64) {
        let Some(b) = self.branches.get(key) else {
            return;
        };
        for (old, new) in before.into_iter().zip(b.timers()) {
            if let Some(d) = new.filter(|_| new != old) {
                self.branch_timers.arm(now_ms, d, key.clone());
            }
        }
    }

    /// Inserts a new branch and queues its timers.
    fn insert_branch(&mut self, key: ClientKey, b: Branch, now_ms: u64) {
        self.branches.insert(key.clone(), b);
        self.queue_branch_timers(&key, [None; 5], now_ms);
    }

    /// Changes branch `key` with `f` at `now_ms`, queueing the timers it set.
    fn with_branch<R>(
        &mut self,
        key: &ClientKey,
        now_ms: u64,
        f: impl FnOnce(&mut Branch) -> R,
    ) -> Option<R> {
        let b = self.branches.get_mut(key)?;
        let before = b.timers();
        let r = f(b);
        self.queue_branch_timers(key, before, now_ms);
        Some(r)
    }

    /// Forwards the request of server transaction `key` to one target as a
    /// new client transaction (§16.6).
    pub(super) fn start_branch(
        &mut self,
        key: &TransactionKey,
        target: BranchTarget,
        now_ms: u64,
        out: &mut Outbox,
    ) {
        let seq = self.next_seq();
        let Some(entry) = self.servers.get(key) else {
            return;
        };
        let invite = entry.tx.is_invite();
        let up = &entry.data;
        let Some(context) = up.context.as_ref() else {
            return;
        };
        let contact = target.ruri.clone();
        let Some(local) = target.dest.local else {
            // No socket of that transport to send from.
            if let Some(context) = self.context_mut(key) {
                context.untried(contact, 503);
            }
            return;
        };
        let branch = make_branch(self.shard, context.hash, seq, self.salt);
        let via = via_value(target.dest.transport, local, &branch);
        let mut record_route = Vec::new();
        if context.record_route {
            record_route.push(record_route_value(
                target.dest.transport,
                local,
                target.flow,
            ));
            if (target.dest.transport, local) != (up.transport, up.local) {
                // Different sockets on each side: one Record-Route per side
                // (RFC 5658 double record-routing).
                record_route.push(record_route_value(up.transport, up.local, None));
            }
        }
        let bytes = Bytes::from(forward_request(
            &up.req,
            &Forward {
                ruri: &target.ruri,
                via,
                source: up.source,
                record_route,
                path: &target.routes,
                pop_routes: context.pop_routes,
                max_forwards: context.max_forwards,
                keep_credentials: &|realm| !self.is_our_realm(realm),
            },
        ));
        let Ok(fwd) = Message::parse(bytes.clone(), &Limits::default()) else {
            if let Some(context) = self.context_mut(key) {
                context.untried(contact, 500);
            }
            return;
        };
        let reliable = target.dest.transport.is_reliable();
        let ck = ClientKey::new(branch.clone(), false);
        let b = Branch {
            server: key.clone(),
            tx: ClientTransaction::new(invite, reliable, bytes.clone(), now_ms),
            fwd,
            dest: target.dest.clone(),
            settled: false,
            timer_c: invite.then_some(now_ms + self.cfg.proxy.branch_timeout_ms),
            cancel: CancelState::No,
        };
        if let Some(context) = self.context_mut(key) {
            context.branches.push(ck.clone());
            context.tried.push(contact);
        }
        self.insert_branch(ck, b, now_ms);
        out.transmit(Transmit {
            dest: target.dest,
            bytes,
            branch: Some(branch),
        });
    }

    /// A response received on branch `ck` (which exists).
    pub(super) fn on_branch_response(
        &mut self,
        ck: &ClientKey,
        code: u16,
        resp: &Message,
        now_ms: u64,
        out: &mut Outbox,
    ) {
        let branch_timeout = self.cfg.proxy.branch_timeout_ms;
        let Some((event, b_server, invite, settled_before)) = self.with_branch(ck, now_ms, |b| {
            let settled_before = b.settled;
            let event =
                b.tx.on_response(code, now_ms, || Bytes::from(ack_for(&b.fwd, resp)));
            match event {
                ClientEvent::Provisional
                    if b.tx.is_invite() && b.cancel == CancelState::No && !b.settled =>
                {
                    b.timer_c = Some(now_ms + branch_timeout);
                }
                ClientEvent::Final { .. } => {
                    b.timer_c = None;
                    if matches!(b.cancel, CancelState::Sent(_)) {
                        b.cancel = CancelState::Answered;
                    }
                    b.settled = true;
                }
                _ => {}
            }
            (event, b.server.clone(), b.tx.is_invite(), settled_before)
        }) else {
            return;
        };
        if ck.cancel {
            // The CANCEL's own response ends only its own transaction.
            return;
        }
        match event {
            ClientEvent::Absorbed { ack } => {
                // A retransmitted final response: ACK it again (§17.1.1.2).
                if let (Some(ack), Some(b)) = (ack, self.branches.get(ck)) {
                    out.transmit(b.transmit(ack));
                }
            }
            ClientEvent::LaterSuccess => {
                self.forward_upstream(&b_server, Bytes::from(strip_top_via(resp)), out);
            }
            ClientEvent::Provisional => {
                let cancel_now = invite
                    && self
                        .branches
                        .get(ck)
                        .is_some_and(|b| b.cancel == CancelState::Wanted);
                if cancel_now {
                    self.send_cancel(ck, now_ms, out);
                }
                if code > 100 && !settled_before {
                    self.send_provisional(&b_server, Bytes::from(strip_top_via(resp)), out);
                }
            }
            ClientEvent::Final { ack } => {
                if let (Some(ack), Some(b)) = (ack, self.branches.get(ck)) {
                    out.transmit(b.transmit(ack));
                }
                let bytes = Bytes::from(strip_top_via(resp));
                if code < 300 {
                    match self.servers.get(&b_server).map(|e| e.tx.is_pending()) {
                        Some(true) => self.send_final(&b_server, bytes, code, now_ms, out),
                        // Later 2xx responses of other branches are forwarded too.
                        Some(false) => self.forward_upstream(&b_server, bytes, out),
                        None => {}
                    }
                    if invite {
                        self.cancel_branches(&b_server, Some(ck), now_ms, out);
                    }
                    return;
                }
                if settled_before {
                    return;
                }
                if let Some(context) = self.context_mut(&b_server) {
                    context.record(code, Some(bytes));
                }
                if code >= 600 {
                    self.cancel_branches(&b_server, Some(ck), now_ms, out);
                }
                self.check_done(&b_server, now_ms, out);
            }
        }
    }

    /// A queued timer of branch `key` came up at `now_ms`: runs whatever
    /// of the branch's timers is due.
    pub(super) fn branch_timer(&mut self, key: &ClientKey, now_ms: u64, out: &mut Outbox) {
        let Some(b) = self.branches.get(key) else {
            return;
        };
        let server = b.server.clone();
        if matches!(b.cancel, CancelState::Sent(t) if t <= now_ms) {
            // No final response followed our CANCEL: the branch is a 408.
            let settled = b.settled;
            self.branches.remove(key);
            if !settled {
                self.branch_failed(&server, now_ms, out);
            }
            return;
        }
        let Some(fired) = self.with_branch(key, now_ms, |b| b.tx.on_timer(now_ms)) else {
            return;
        };
        match fired {
            Some(ClientTimeout::Ended) => {
                self.branches.remove(key);
                return;
            }
            Some(ClientTimeout::TimedOut) => {
                // Timer B or F: the branch is a 408.
                if self.branches.remove(key).is_some_and(|b| !b.settled) {
                    self.branch_failed(&server, now_ms, out);
                }
                return;
            }
            Some(ClientTimeout::Retransmit(bytes)) => {
                if let Some(b) = self.branches.get(key) {
                    out.transmit(b.transmit(bytes));
                }
            }
            None => {}
        }
        let ringing_too_long = self
            .branches
            .get(key)
            .is_some_and(|b| b.timer_c.is_some_and(|t| t <= now_ms));
        if !ringing_too_long {
            return;
        }
        // Timer C: the branch rang too long.
        let Some(state) = self.with_branch(key, now_ms, |b| {
            b.timer_c = None;
            b.tx.state()
        }) else {
            return;
        };
        if state == ClientState::Proceeding {
            self.send_cancel(key, now_ms, out);
            return;
        }
        let newly_settled = self
            .with_branch(key, now_ms, |b| {
                b.cancel = CancelState::Wanted;
                !std::mem::replace(&mut b.settled, true)
            })
            .unwrap_or(false);
        if newly_settled {
            self.branch_failed(&server, now_ms, out);
        }
    }

    /// A branch of `server` ended without a response: a 408 for the
    /// context, which may go on or answer.
    fn branch_failed(&mut self, server: &TransactionKey, now_ms: u64, out: &mut Outbox) {
        if let Some(context) = self.context_mut(server) {
            context.record(408, None);
        }
        self.check_done(server, now_ms, out);
    }

    /// Sends a CANCEL on INVITE branch `ck` (§9.1) as a branch of its own,
    /// and waits for the INVITE's final response at most 64*T1.
    pub(super) fn send_cancel(&mut self, ck: &ClientKey, now_ms: u64, out: &mut Outbox) {
        let Some(cancel) = self.with_branch(ck, now_ms, |b| {
            b.timer_c = None;
            b.cancel = CancelState::Sent(now_ms + TIMER_B_MS);
            let bytes = Bytes::from(super::message::cancel_for(&b.fwd));
            (bytes, b.dest.clone(), b.server.clone())
        }) else {
            return;
        };
        let (bytes, dest, server) = cancel;
        let Ok(fwd) = Message::parse(bytes.clone(), &Limits::default()) else {
            return;
        };
        let reliable = dest.transport.is_reliable();
        let b = Branch {
            server,
            tx: ClientTransaction::new(false, reliable, bytes.clone(), now_ms),
            fwd,
            dest: dest.clone(),
            settled: true,
            timer_c: None,
            cancel: CancelState::No,
        };
        self.insert_branch(ck.cancel_key(), b, now_ms);
        out.transmit(Transmit {
            dest,
            bytes,
            branch: None,
        });
    }
}
