//! The requests the server answers itself (RFC 3261 §8.2): REGISTER goes
//! to the registrar, OPTIONS is answered with what the server supports,
//! CANCEL with 481, other known methods with 405 and unknown ones with 501,
//! each in a server transaction of its own.

use super::Endpoint;
use crate::auth::{strip_port, AuthOutcome, Refusal};
use crate::config::{CoreConfig, MulticastRegister};
use crate::context::RequestContext;
use crate::io::{Event, Transmit};
use crate::registrar::{check_register, PendingRegister};
use crate::reply::Reply;
use crate::response::{response_destination, write_reply};
use crate::transaction::timers::TIMER_J_MS;
use crate::transaction::{AckOutcome, Match, Retransmission, ServerTransaction, TransactionKey};
use crate::transport::{Destination, Transport, MULTICAST_GROUP};
use crate::validate::{unsupported_required, validate_parts, KNOWN_METHODS};
use bytes::Bytes;
use sip_message::{HeaderName, Message, Method, ParseError, Uri};

/// What the endpoint keeps with a local server transaction.
#[derive(Debug)]
pub(super) struct LocalTx {
    /// Where Timer G retransmissions of an INVITE's final response go
    /// (other retransmissions answer the copy that came, where it came from).
    reply_to: Option<Box<Destination>>,
}

/// The decision on a request the server answers itself.
#[derive(Debug)]
pub(super) enum LocalAnswer {
    /// Send this final response.
    Reply(Reply),
    /// Authentication or authorization refused it: send the refusal's
    /// reply, and count the outcome.
    Refuse(Refusal),
    /// Apply this REGISTER to the location store.
    Register(Box<PendingRegister>),
}

/// Where the response to `msg` goes: to the multicast group when the
/// server answers there, else back as [`super::answer_to`] says.
pub(super) fn destination(msg: &Message, ctx: &RequestContext<'_>, to_group: bool) -> Destination {
    let by_via = response_destination(msg, ctx.source);
    answer_destination(
        to_group,
        ctx.transport,
        ctx.source,
        ctx.local,
        ctx.conn,
        by_via,
    )
}

/// [`destination`] with the §18.2.2 address `by_via` already found (while
/// writing the answer, from the Via parsed once).
pub(super) fn answer_destination(
    to_group: bool,
    transport: Transport,
    source: std::net::SocketAddr,
    local: std::net::SocketAddr,
    conn: Option<crate::transport::ConnId>,
    by_via: std::net::SocketAddr,
) -> Destination {
    if to_group {
        return Destination::socket(Transport::Udp, MULTICAST_GROUP, None);
    }
    super::answer_to(transport, source, local, conn, by_via)
}

impl Endpoint {
    /// A request not routed: matched against the local transactions, then
    /// answered here.
    pub(super) fn handle_local(&mut self, msg: Message, ctx: &RequestContext<'_>, now_ms: u64) {
        let Some(key) = TransactionKey::of(&msg) else {
            // No usable Via: the request cannot be answered (§18.2.2).
            self.out.event(Event::NoVia { source: ctx.source });
            return;
        };
        // RFC 2543 §1.4.3: answers to multicast requests may go to the group.
        let to_group = ctx.multicast && self.cfg.multicast_reply_to_group;
        let invite = msg.method() == Some(Method::Invite);
        let reliable = ctx.transport.is_reliable();
        let matched = self.local.on_request(&key, now_ms, || {
            let tx = ServerTransaction::new(invite, reliable).with_guard(now_ms + TIMER_J_MS);
            let reply_to = invite.then(|| Box::new(destination(&msg, ctx, to_group)));
            (tx, LocalTx { reply_to })
        });
        match matched {
            Match::New => {}
            Match::Retransmission(Retransmission::Absorb) => return,
            Match::Retransmission(Retransmission::Resend(bytes)) => {
                self.out.transmit(Transmit {
                    dest: destination(&msg, ctx, to_group),
                    bytes,
                    branch: None,
                });
                return;
            }
        }
        if self.draining && msg.method() != Some(Method::Cancel) {
            let busy = Reply::new(503, "Service Unavailable").with_header("Retry-After", "5");
            return self.respond_local(&key, &msg, ctx, to_group, &busy, now_ms);
        }
        match decide(&self.cfg, &msg, ctx, now_ms) {
            LocalAnswer::Reply(reply) => {
                self.respond_local(&key, &msg, ctx, to_group, &reply, now_ms)
            }
            LocalAnswer::Refuse(refusal) => {
                self.refused(ctx, refusal.outcome, now_ms);
                self.respond_local(&key, &msg, ctx, to_group, &refusal.reply, now_ms);
            }
            LocalAnswer::Register(pending) => {
                self.start_register(key, msg, ctx, to_group, *pending)
            }
        }
    }

    /// Writes `reply` for `msg`, records it in transaction `key` and sends it.
    pub(super) fn respond_local(
        &mut self,
        key: &TransactionKey,
        msg: &Message,
        ctx: &RequestContext<'_>,
        to_group: bool,
        reply: &Reply,
        now_ms: u64,
    ) {
        let tag = self.tags.tag_for(msg);
        let (bytes, _) = write_reply(msg, ctx.source, reply, &tag);
        let bytes = Bytes::from(bytes);
        if self
            .local
            .send_final(key, reply.code, bytes.clone(), now_ms)
        {
            self.out.transmit(Transmit {
                dest: destination(msg, ctx, to_group),
                bytes,
                branch: None,
            });
            self.out.event(Event::Answered {
                method: msg.method().unwrap_or(Method::Other),
                code: reply.code,
                stamp: ctx.stamp,
            });
        }
    }

    /// Counts a refusal, and feeds failures to the abuse guard.
    pub(super) fn refused(&mut self, ctx: &RequestContext<'_>, outcome: AuthOutcome, now_ms: u64) {
        if let Some(block) = self.security.on_refusal(&outcome, ctx.source, now_ms) {
            self.out.event(Event::Blocked(block));
        }
        self.out.event(Event::Refused {
            source: ctx.source,
            outcome,
        });
    }

    /// An ACK that acknowledges a final response to a local INVITE.
    pub(super) fn absorb_local_ack(&mut self, msg: &Message, now_ms: u64) -> bool {
        TransactionKey::of_method(msg, "INVITE").and_then(|key| self.local.on_ack(&key, now_ms))
            == Some(AckOutcome::Absorbed)
    }

    /// Runs the local transactions' timers: Timer G retransmissions, ends.
    pub(super) fn local_timers(&mut self, now_ms: u64) {
        let out = &mut self.out;
        self.local.handle_timeout(now_ms, |_, event, entry| {
            if let (crate::transaction::ServerTimeout::Resend(bytes), Some(dest)) =
                (event, entry.data.reply_to.as_deref())
            {
                out.transmit(Transmit {
                    dest: dest.clone(),
                    bytes,
                    branch: None,
                });
            }
        });
    }
}

/// Decides on a request the server answers itself, in the order of RFC
/// 3261 §8.2: a well-formed request (400), the method (405, 501), the
/// Request-URI (400, 416), then the required extensions (420) and only
/// then authentication and the method's own processing. The ACK of a
/// non-2xx never gets here, and CANCEL ignores `Require`.
pub(super) fn decide(
    cfg: &CoreConfig,
    req: &Message,
    ctx: &RequestContext<'_>,
    now_ms: u64,
) -> LocalAnswer {
    let parsed = match validate_parts(req) {
        Ok(parsed) => parsed,
        // RFC 4475 §3.1.2.19 (mismatch02): an unknown method is 501
        // even when its CSeq names another method.
        Err(ParseError::CSeqMethodMismatch) if !KNOWN_METHODS.contains(&req.method_str()) => {
            return not_implemented();
        }
        Err(e) => return LocalAnswer::Reply(Reply::new(400, e.to_string())),
    };
    // §8.2.1: the method first.
    match req.method() {
        Some(Method::Register | Method::Options | Method::Cancel) => {}
        _ if KNOWN_METHODS.contains(&req.method_str()) => {
            return LocalAnswer::Reply(
                Reply::new(405, "Method Not Allowed").with_header("Allow", crate::ALLOW),
            );
        }
        _ => return not_implemented(),
    }
    // §19.1.1: a Request-URI carries no headers; §8.2.2.1: a scheme the
    // server does not handle is 416.
    match &parsed.request_uri {
        Uri::Sip(u) if !u.headers.is_empty() => {
            return LocalAnswer::Reply(Reply::new(400, "Request-URI Must Not Contain Headers"));
        }
        Uri::Sip(_) => {}
        _ => return LocalAnswer::Reply(Reply::new(416, "Unsupported URI Scheme")),
    }
    match req.method() {
        Some(Method::Register) => {
            if ctx.multicast && cfg.multicast_register == MulticastRegister::Redirect {
                return LocalAnswer::Reply(multicast_redirect(cfg, ctx));
            }
            register(cfg, req, &parsed, ctx, now_ms)
        }
        Some(Method::Options) => {
            if let Some(refusal) = unsupported_required(req) {
                return LocalAnswer::Reply(refusal);
            }
            if let Some(auth) = ctx.auth {
                let domain = from_domain(req);
                if let Err(refusal) = auth.authenticate(req, &domain, now_ms, ctx.nonce_salt) {
                    return LocalAnswer::Refuse(refusal);
                }
            }
            LocalAnswer::Reply(
                Reply::new(200, "OK")
                    .with_header("Allow", crate::ALLOW)
                    .with_header("Supported", crate::SUPPORTED.join(", "))
                    .with_header("Accept", "application/sdp"),
            )
        }
        // A CANCEL for a request answered here: that answer was final at
        // once, so there is nothing left to cancel.
        _ => LocalAnswer::Reply(Reply::new(481, "Call/Transaction Does Not Exist")),
    }
}

/// §8.2.1: a method the server does not recognise.
fn not_implemented() -> LocalAnswer {
    LocalAnswer::Reply(Reply::new(501, "Not Implemented").with_header("Allow", crate::ALLOW))
}

/// The registrar's checks (§10.3 steps 1, 2, 5-7), then steps 3 and 4
/// (authentication and authorization) for the AOR's domain.
fn register(
    cfg: &CoreConfig,
    req: &Message,
    parsed: &crate::validate::Validated<'_>,
    ctx: &RequestContext<'_>,
    now_ms: u64,
) -> LocalAnswer {
    let pending = match check_register(&cfg.registrar, req, parsed, ctx, now_ms) {
        Ok(p) => p,
        Err(reply) => return LocalAnswer::Reply(reply),
    };
    if let Some(auth) = ctx.auth {
        let user = match auth.authenticate(req, pending.aor_domain(), now_ms, ctx.nonce_salt) {
            Ok(user) => user,
            Err(refusal) => return LocalAnswer::Refuse(refusal),
        };
        if !auth.may_register(&user, &pending.aor) {
            return LocalAnswer::Refuse(Refusal {
                reply: Reply::new(403, "Forbidden"),
                outcome: AuthOutcome::Forbidden {
                    identity: format!("{}@{}", user.username, user.domain),
                },
            });
        }
    }
    LocalAnswer::Register(Box::new(pending))
}

/// RFC 3261 §10.3: a registrar on the multicast group redirects the UA to
/// its unicast address.
fn multicast_redirect(cfg: &CoreConfig, ctx: &RequestContext<'_>) -> Reply {
    let unicast = cfg
        .proxy
        .listener_for(Transport::Udp, Some(ctx.source), None)
        .map_or(ctx.local, |l| l.addr);
    Reply::new(302, "Moved Temporarily").with_header("Contact", format!("<sip:{unicast}>"))
}

/// The host of the From URI (lower case, no port): the domain an OPTIONS
/// request is authenticated for.
fn from_domain(req: &Message) -> String {
    req.header(HeaderName::From)
        .and_then(|v| sip_message::NameAddr::parse(v).ok())
        .and_then(|na| {
            Uri::parse(na.uri)
                .ok()
                .and_then(|u| u.as_sip().map(|s| s.host_lowercase()))
        })
        .map(|h| strip_port(&h).to_string())
        .unwrap_or_default()
}
