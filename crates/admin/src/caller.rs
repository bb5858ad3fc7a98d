//! Who made a request, as the gate found it and the handlers get it.

use crate::sessions::Session;
use std::net::SocketAddr;

/// Who made an authenticated request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The session of the cookie; `None` for a bearer token.
    pub session: Option<Session>,
    /// The client's address.
    pub peer: Option<SocketAddr>,
}

/// The client's address, for handlers that run before authentication.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub Option<SocketAddr>);
