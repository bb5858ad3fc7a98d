//! The server side of a proxied request: the request as received, where
//! its responses go (§18.2.2, RFC 3581), and the responses the proxy
//! writes or passes up (§16.7).

use super::context::Context;
use super::Proxy;
use crate::context::RequestContext;
use crate::io::Transmit;
use crate::outbox::Outbox;
use crate::reply::Reply;
use crate::response::{response_destination, start_response};
use crate::transaction::TransactionKey;
use crate::transport::{ConnId, Destination, HopAddr, Transport};
use bytes::Bytes;
use sip_message::Message;
use std::net::SocketAddr;

/// What the proxy keeps with a server transaction.
#[derive(Debug)]
pub(super) struct Upstream {
    /// The request as received.
    pub(super) req: Message,
    /// The previous hop.
    pub(super) source: SocketAddr,
    /// Our socket it arrived on.
    pub(super) local: SocketAddr,
    /// Its transport.
    pub(super) transport: Transport,
    /// The connection it arrived on.
    pub(super) conn: Option<ConnId>,
    /// The shell's arrival stamp of the request.
    pub(super) stamp: u64,
    /// The routing state, once routing began.
    pub(super) context: Option<Context>,
}

impl Upstream {
    /// The server side of `req`, received as `ctx` says.
    pub(super) fn new(req: Message, ctx: &RequestContext<'_>) -> Upstream {
        Upstream {
            req,
            source: ctx.source,
            local: ctx.local,
            transport: ctx.transport,
            conn: ctx.conn,
            stamp: ctx.stamp,
            context: None,
        }
    }

    /// Where responses go: back over the connection (or, if it has
    /// closed, to the source address and the Via's sent-by port), or over
    /// UDP to the address §18.2.2 and RFC 3581 give.
    pub(super) fn reply_to(&self) -> Destination {
        let by_via = response_destination(&self.req, self.source);
        let (addr, fallback) = match self.transport {
            Transport::Udp => (by_via, None),
            Transport::Tcp => (self.source, Some(HopAddr::Socket(by_via))),
        };
        Destination {
            transport: self.transport,
            addr: HopAddr::Socket(addr),
            conn: self.conn,
            local: Some(self.local),
            fallback,
        }
    }

    /// `bytes` sent upstream.
    pub(super) fn transmit(&self, bytes: Bytes) -> Transmit {
        Transmit {
            dest: self.reply_to(),
            bytes,
            branch: None,
        }
    }
}

impl Proxy {
    /// Answers server transaction `key` with a response written here.
    pub(super) fn respond(
        &mut self,
        key: &TransactionKey,
        reply: Reply,
        now_ms: u64,
        out: &mut Outbox,
    ) {
        let Some(entry) = self.servers.get(key) else {
            return;
        };
        let up = &entry.data;
        let tag = self.tags.tag_for(&up.req);
        let mut w = start_response(&up.req, reply.code, &reply.reason, up.source, &tag);
        for (name, value) in &reply.headers {
            w.header(name, value);
        }
        let bytes = Bytes::from(w.finish(None, b""));
        if reply.code < 200 {
            self.send_provisional(key, bytes, out);
        } else {
            self.send_final(key, bytes, reply.code, now_ms, out);
        }
    }

    /// Sends a provisional response upstream while no final one was sent.
    pub(super) fn send_provisional(
        &mut self,
        key: &TransactionKey,
        bytes: Bytes,
        out: &mut Outbox,
    ) {
        if self.servers.send_provisional(key, bytes.clone()) {
            self.forward_upstream(key, bytes, out);
        }
    }

    /// Sends the final response of server transaction `key` (once).
    pub(super) fn send_final(
        &mut self,
        key: &TransactionKey,
        bytes: Bytes,
        code: u16,
        now_ms: u64,
        out: &mut Outbox,
    ) {
        let Some((t, routed)) = self.servers.get(key).map(|e| {
            let up = &e.data;
            let routed = crate::io::Event::Routed {
                method: up.req.method().unwrap_or(sip_message::Method::Other),
                code,
                stamp: up.stamp,
            };
            (up.transmit(bytes.clone()), routed)
        }) else {
            return;
        };
        if self.servers.send_final(key, code, bytes, now_ms) {
            out.transmit(t);
            out.event(routed);
        }
    }
}
