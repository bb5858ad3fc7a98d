//! Open TCP connections, keyed by the peer's address, so a request for a
//! UA that registered over TCP goes out on the connection it registered on
//! (RFC 5626 flows; RFC 3261 §18.1.1 connection reuse).

use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// Writer handles of the open connections.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    map: Mutex<HashMap<SocketAddr, UnboundedSender<Bytes>>>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, UnboundedSender<Bytes>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the connection to `peer`.
    pub(crate) fn insert(&self, peer: SocketAddr, tx: UnboundedSender<Bytes>) {
        self.lock().insert(peer, tx);
    }

    /// Forgets the connection to `peer` if it is still `tx`.
    pub(crate) fn remove(&self, peer: SocketAddr, tx: &UnboundedSender<Bytes>) {
        let mut map = self.lock();
        if map.get(&peer).is_some_and(|t| t.same_channel(tx)) {
            map.remove(&peer);
        }
    }

    /// The open connection to `peer`, if any.
    pub(crate) fn get(&self, peer: SocketAddr) -> Option<UnboundedSender<Bytes>> {
        self.lock().get(&peer).filter(|t| !t.is_closed()).cloned()
    }
}
