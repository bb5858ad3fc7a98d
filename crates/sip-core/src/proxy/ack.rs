//! ACK (RFC 3261 §17.2.1, §16.6): an ACK of a non-2xx final response the
//! proxy sent is absorbed by the INVITE's server transaction; any other
//! ACK (of a 2xx, a transaction of its own) is forwarded statelessly, to
//! its next hop or to the AOR's contacts.

use super::branch::via_value;
use super::message::{
    forward_request, loop_hash, make_branch, strip_top_via, via_destination, Forward,
};
use super::route::{decide, validate, Routing};
use super::target::{binding_target, next_group, BranchTarget};
use super::{LookupFor, Proxy};
use crate::context::RequestContext;
use crate::io::Transmit;
use crate::outbox::Outbox;
use crate::transaction::{AckOutcome, TransactionKey};
use bytes::Bytes;
use location_model::Binding;
use sip_message::{HeaderName, Limits, Message};
use std::net::SocketAddr;

impl Proxy {
    /// True when `req` (an ACK) acknowledges a final response this proxy
    /// sent, and was absorbed by its transaction.
    pub(crate) fn absorb_ack(&mut self, req: &Message, now_ms: u64) -> bool {
        let Some(key) = TransactionKey::of_method(req, "INVITE") else {
            return false;
        };
        self.servers.on_ack(&key, now_ms) == Some(AckOutcome::Absorbed)
    }

    /// An ACK no transaction absorbed: forwarded statelessly when it is
    /// for a next hop or an AOR of ours, dropped otherwise.
    pub(crate) fn handle_ack(&mut self, req: Message, ctx: &RequestContext<'_>, out: &mut Outbox) {
        if crate::validate::validate_request(&req).is_err() {
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
                self.forward_stateless(
                    &req,
                    ctx.source,
                    max_forwards,
                    decision.pop_routes,
                    target,
                    out,
                );
            }
            Routing::Aor { aors, .. } => {
                let what = LookupFor::Ack {
                    req,
                    source: ctx.source,
                    max_forwards,
                    pop_routes: decision.pop_routes,
                };
                self.lookup(what, aors, out);
            }
        }
    }

    /// The ACK of a lookup forwarded to the first group of `bindings`.
    pub(super) fn forward_ack_to_bindings(
        &mut self,
        req: &Message,
        source: SocketAddr,
        max_forwards: u32,
        pop_routes: usize,
        bindings: &[Binding],
        out: &mut Outbox,
    ) {
        for b in next_group(self.cfg.proxy.forking, bindings, &[]) {
            if let Some(target) = binding_target(&self.cfg.proxy, &b) {
                self.forward_stateless(req, source, max_forwards, pop_routes, target, out);
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
        out: &mut Outbox,
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
                keep_credentials: &|realm| !self.is_our_realm(realm),
            },
        );
        out.transmit(Transmit {
            dest: target.dest,
            bytes: Bytes::from(bytes),
            branch: None,
        });
    }

    /// A 2xx whose client transaction is gone, forwarded by its next Via.
    pub(super) fn forward_response_by_via(&mut self, resp: &Message, out: &mut Outbox) {
        let bytes = strip_top_via(resp);
        let Ok(stripped) = Message::parse(Bytes::from(bytes), &Limits::default()) else {
            return;
        };
        let next = stripped
            .header(HeaderName::Via)
            .and_then(|l| sip_message::headers::split_list(l).next())
            .and_then(via_destination);
        if let Some(dest) = next {
            out.transmit(Transmit {
                dest,
                bytes: stripped.as_bytes().clone(),
                branch: None,
            });
        }
    }
}
