//! What the transports hand their traffic to: the shell that drives the
//! endpoint. A trait, so the transports know nothing of the shell.

use sip_core::{ConnId, Connection, Received};

/// Receives what the transports read and report.
pub(crate) trait Deliver: Send + Sync + 'static {
    /// A datagram, or one message framed from a stream.
    fn received(&self, message: Received);

    /// The head of a stream message over the size limit (its rest is
    /// skipped, or the connection closed): for the endpoint to answer 513.
    fn too_large(&self, head: Received);

    /// A connection was accepted or opened.
    fn opened(&self, connection: Connection);

    /// A connection closed.
    fn closed(&self, id: ConnId);

    /// A client transaction's request (see `Transmit::branch`) could not
    /// be sent.
    fn send_failed(&self, branch: String);
}
