//! The queues the endpoint's components write their outputs to.

use crate::io::{Event, OpId, StoreOp, StoreOpKind, Transmit};
use std::collections::VecDeque;

/// Transmits, store operations and events waiting for the shell's
/// `poll_*` calls, and the numbering of store operations.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) ops: VecDeque<StoreOp>,
    pub(crate) events: VecDeque<Event>,
    next_op: u64,
}

impl Outbox {
    /// Queues a message to send.
    pub(crate) fn transmit(&mut self, t: Transmit) {
        self.transmits.push_back(t);
    }

    /// Queues a store operation; returns its id.
    pub(crate) fn store(&mut self, kind: StoreOpKind) -> OpId {
        self.next_op += 1;
        let id = OpId(self.next_op);
        self.ops.push_back(StoreOp { id, kind });
        id
    }

    /// Queues an event.
    pub(crate) fn event(&mut self, e: Event) {
        self.events.push_back(e);
    }
}
