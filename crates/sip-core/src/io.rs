//! What goes into the endpoint and what comes out of it: received
//! messages, messages to send, store operations and their results, and
//! events for counters and logs. Plain data, no I/O types.

use crate::abuse::BlockEvent;
use crate::auth::AuthOutcome;
use crate::transport::{ConnId, Destination, Transport};
use bytes::Bytes;
use location_model::{Binding, Snapshot, StoreError, Version, Written};
use std::net::{IpAddr, SocketAddr};

/// One message received: a datagram, or one message framed from a stream.
#[derive(Debug, Clone)]
pub struct Received {
    /// The transport it came on.
    pub transport: Transport,
    /// The peer's address.
    pub source: SocketAddr,
    /// Our socket it arrived on.
    pub local: SocketAddr,
    /// The connection it came on (stream transports).
    pub conn: Option<ConnId>,
    /// True when it was sent to the SIP multicast group.
    pub multicast: bool,
    /// The shell's own monotonic reading when it read the message, in
    /// microseconds from any origin: echoed in [`Event::Answered`] and
    /// [`Event::Routed`], so the shell can time requests to their answers
    /// without the core reading a clock.
    pub stamp: u64,
    /// The bytes.
    pub bytes: Bytes,
}

/// Bytes to send, and where.
#[derive(Debug, Clone)]
pub struct Transmit {
    /// Where.
    pub dest: Destination,
    /// The message.
    pub bytes: Bytes,
    /// The client transaction (branch) sending it: a failure to send is
    /// reported with [`crate::Endpoint::handle_send_failure`]. `None` for
    /// responses and retransmissions.
    pub branch: Option<String>,
}

/// The identity of one store operation, echoed with its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpId(pub u64);

/// One operation on the location store, for the shell to run and answer
/// with [`crate::Endpoint::handle_store_result`].
#[derive(Debug)]
pub struct StoreOp {
    /// Echoed with the result.
    pub id: OpId,
    /// What to do.
    pub kind: StoreOpKind,
}

/// What a store operation does.
#[derive(Debug)]
pub enum StoreOpKind {
    /// Read one AOR: its live bindings and their version
    /// (answered with [`StoreResult::Fetched`]).
    Fetch {
        /// The AOR.
        aor: String,
    },
    /// Compare-and-set one AOR (answered with [`StoreResult::Written`]).
    Write(Box<WriteOp>),
    /// Read the live bindings of the first of these AORs that has any
    /// (answered with [`StoreResult::Bindings`]).
    Lookup {
        /// Candidate AORs, in order.
        aors: Vec<String>,
    },
}

/// A compare-and-set of one AOR. The transmits are sent by the shell
/// itself as soon as the outcome is known, before the result reaches the
/// endpoint (a durable backend sends `on_success` from the thread that made
/// the change durable).
#[derive(Debug)]
pub struct WriteOp {
    /// The AOR.
    pub aor: String,
    /// The version the decision was made on.
    pub expected: Version,
    /// The AOR's whole new set.
    pub bindings: Vec<Binding>,
    /// Sent once the change is stored (not on a conflict).
    pub on_success: Option<Transmit>,
    /// Sent if the store fails the change.
    pub on_failure: Option<Transmit>,
}

/// The result of a store operation.
#[derive(Debug)]
pub enum StoreResult {
    /// The answer to [`StoreOpKind::Fetch`].
    Fetched(Snapshot),
    /// The answer to [`StoreOpKind::Write`].
    Written(Written),
    /// The answer to [`StoreOpKind::Lookup`].
    Bindings(Vec<Binding>),
    /// The operation failed.
    Failed(StoreError),
}

/// Something the shell counts or logs.
#[derive(Debug)]
pub enum Event {
    /// Authentication refused a request (already answered with 401/407/403).
    Refused {
        /// The requester's address.
        source: SocketAddr,
        /// What happened.
        outcome: AuthOutcome,
    },
    /// Failed authentications got a source blocked.
    Blocked(BlockEvent),
    /// A request from a blocked source was dropped or answered with 403.
    FromBlocked {
        /// The source.
        source: IpAddr,
    },
    /// A request over the per-source rate limit was dropped.
    Throttled {
        /// The source.
        source: IpAddr,
        /// True for the first request dropped since the source was last
        /// under the limit.
        first: bool,
    },
    /// A message did not parse (answered with 400/505 when it could be).
    Malformed {
        /// The sender.
        source: SocketAddr,
        /// The defect, for logs.
        defect: &'static str,
    },
    /// A request without a usable Via was dropped (nothing can answer it).
    NoVia {
        /// The sender.
        source: SocketAddr,
    },
    /// A response for no branch of this endpoint was dropped.
    StrayResponse,
    /// A request the server answered itself got its final response
    /// (for a REGISTER: once the store has made the change durable).
    Answered {
        /// Its method.
        method: sip_message::Method,
        /// The status code.
        code: u16,
        /// The [`Received::stamp`] of the request.
        stamp: u64,
    },
    /// A request the proxy routed got its final response upstream (its
    /// own or one forwarded).
    Routed {
        /// Its method.
        method: sip_message::Method,
        /// The status code.
        code: u16,
        /// The [`Received::stamp`] of the request.
        stamp: u64,
    },
    /// A store operation failed (the request was answered with 500).
    StoreFailed {
        /// The AOR.
        aor: String,
        /// What the store said.
        error: String,
    },
}
