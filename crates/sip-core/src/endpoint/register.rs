//! A REGISTER's way through the location store: the AOR is read, the
//! registrar decides on that snapshot (RFC 3261 §10.3 steps 6-7: the
//! Call-ID/CSeq rule, max contacts, the changes), and the new set is
//! written as one compare-and-set on the AOR. A conflict (another change
//! of the AOR came first) gets a fresh decision on the AOR as it is now.
//! The 200 OK and the 500 of a failed write travel with the write, so the
//! shell sends the 200 from wherever the change became durable, with no
//! further trip through the endpoint; the endpoint then records it for
//! retransmissions.

use super::Endpoint;
use crate::context::RequestContext;
use crate::io::{Event, StoreOpKind, StoreResult, Transmit, WriteOp};
use crate::registrar::PendingRegister;
use crate::reply::Reply;
use crate::response::start_response_to;
use crate::transaction::TransactionKey;
use crate::transport::{ConnId, Destination, Transport};
use bytes::Bytes;
use location_model::{Snapshot, Written};
use sip_message::Message;
use std::net::SocketAddr;

/// Conflicting writes one REGISTER may meet before it is answered 503.
const MAX_CONFLICTS: u8 = 8;

/// A REGISTER waiting for the store.
#[derive(Debug)]
pub(super) struct Registration {
    key: TransactionKey,
    req: Message,
    source: SocketAddr,
    local: SocketAddr,
    transport: Transport,
    conn: Option<ConnId>,
    /// Answers go to the multicast group (RFC 2543 §1.4.3).
    to_group: bool,
    /// The shell's arrival stamp of the request.
    stamp: u64,
    pending: PendingRegister,
    conflicts: u8,
    /// While a write is outstanding: the 200 and the 500 it carries, one
    /// of which the shell has sent when the result comes.
    answers: Option<(Bytes, Bytes)>,
}

impl Endpoint {
    /// A REGISTER accepted by the registrar's checks: read its AOR.
    pub(super) fn start_register(
        &mut self,
        key: TransactionKey,
        req: Message,
        ctx: &RequestContext<'_>,
        to_group: bool,
        pending: PendingRegister,
    ) {
        let aor = pending.aor.clone();
        let id = self.out.store(StoreOpKind::Fetch { aor });
        self.registers.insert(
            id,
            Box::new(Registration {
                key,
                req,
                source: ctx.source,
                local: ctx.local,
                transport: ctx.transport,
                conn: ctx.conn,
                to_group,
                stamp: ctx.stamp,
                pending,
                conflicts: 0,
                answers: None,
            }),
        );
    }

    /// The store's answer for a REGISTER.
    pub(super) fn register_result(
        &mut self,
        mut reg: Box<Registration>,
        result: StoreResult,
        now_ms: u64,
    ) {
        match result {
            StoreResult::Fetched(snapshot) => self.decide_register(reg, snapshot, now_ms),
            StoreResult::Written(Written::Stored) => {
                if let Some((ok, _)) = reg.answers.take() {
                    self.local.send_final(&reg.key, 200, ok, now_ms);
                    self.answered(&reg, 200);
                }
            }
            StoreResult::Written(Written::Conflict(snapshot)) => {
                reg.conflicts += 1;
                if reg.conflicts > MAX_CONFLICTS {
                    let busy =
                        Reply::new(503, "Location Store Busy").with_header("Retry-After", "1");
                    return self.answer_register(&reg, &busy, now_ms);
                }
                reg.answers = None;
                self.decide_register(reg, snapshot, now_ms);
            }
            StoreResult::Failed(e) => {
                self.out.event(Event::StoreFailed {
                    aor: reg.pending.aor.clone(),
                    error: e.to_string(),
                });
                match reg.answers.take() {
                    // The write failed: the shell sent its 500.
                    Some((_, failed)) => {
                        self.local.send_final(&reg.key, 500, failed, now_ms);
                        self.answered(&reg, 500);
                    }
                    None => {
                        let failed = Reply::new(500, "Location Store Read Failed")
                            .with_header("Retry-After", "5");
                        self.answer_register(&reg, &failed, now_ms);
                    }
                }
            }
            StoreResult::Bindings(_) => {
                let wrong = Reply::new(500, "Server Internal Error");
                self.answer_register(&reg, &wrong, now_ms);
            }
        }
    }

    /// The registrar's decision on the AOR as `snapshot` shows it: a
    /// rejection answered now, or the new set written with its answers.
    fn decide_register(&mut self, mut reg: Box<Registration>, snapshot: Snapshot, now_ms: u64) {
        let mut set = snapshot.bindings;
        if let Err(reply) = reg.pending.apply(&mut set, now_ms) {
            return self.answer_register(&reg, &reply, now_ms);
        }
        let reply = reg.pending.bindings_response(&set, now_ms);
        let tag = self.tags.tag_for(&reg.req);
        let (mut ok, by_via) =
            start_response_to(&reg.req, reply.code, &reply.reason, reg.source, &tag);
        let reply_to = reg.reply_to(by_via);
        let mut failed = ok.with_status(500, "Location Store Write Failed");
        failed.header("Retry-After", "5");
        for (name, value) in &reply.headers {
            ok.header(name, value);
        }
        let ok = Bytes::from(ok.finish(None, b""));
        let failed = Bytes::from(failed.finish(None, b""));
        let id = self.out.store(StoreOpKind::Write(Box::new(WriteOp {
            aor: reg.pending.aor.clone(),
            expected: snapshot.version,
            bindings: set,
            on_success: Some(Transmit {
                dest: reply_to.clone(),
                bytes: ok.clone(),
                branch: None,
            }),
            on_failure: Some(Transmit {
                dest: reply_to,
                bytes: failed.clone(),
                branch: None,
            }),
        })));
        reg.answers = Some((ok, failed));
        self.registers.insert(id, reg);
    }

    /// Answers a REGISTER with `reply` now (a rejection, or the store's
    /// failure before any write).
    fn answer_register(&mut self, reg: &Registration, reply: &Reply, now_ms: u64) {
        let tag = self.tags.tag_for(&reg.req);
        let (bytes, by_via) = crate::response::write_reply(&reg.req, reg.source, reply, &tag);
        let bytes = Bytes::from(bytes);
        if self
            .local
            .send_final(&reg.key, reply.code, bytes.clone(), now_ms)
        {
            self.out.transmit(Transmit {
                dest: reg.reply_to(by_via),
                bytes,
                branch: None,
            });
            self.answered(reg, reply.code);
        }
    }

    /// Reports a REGISTER's final answer, for counters and timing.
    fn answered(&mut self, reg: &Registration, code: u16) {
        self.out.event(Event::Answered {
            method: sip_message::Method::Register,
            code,
            stamp: reg.stamp,
        });
    }
}

impl Registration {
    /// Where its answer goes, `by_via` being the address §18.2.2 gives
    /// (found while the answer was written, from the Via parsed once).
    fn reply_to(&self, by_via: SocketAddr) -> Destination {
        super::local::answer_destination(
            self.to_group,
            self.transport,
            self.source,
            self.local,
            self.conn,
            by_via,
        )
    }
}
