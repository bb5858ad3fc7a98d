//! Open stream connections: each has an identity ([`ConnId`]) the endpoint
//! names, and is also found by its peer's address, so a request for a UA
//! that registered over TCP goes out on the connection it registered on
//! (RFC 3261 §18.1.1 connection reuse, the flows of RFC 5626).

use bytes::Bytes;
use sip_core::ConnId;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::mpsc::UnboundedSender;

/// Writer handles of the open connections.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    next: AtomicU64,
    map: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    by_id: HashMap<ConnId, (SocketAddr, UnboundedSender<Bytes>)>,
    by_peer: HashMap<SocketAddr, ConnId>,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a new connection to `peer`; returns its identity.
    pub(crate) fn open(&self, peer: SocketAddr, tx: UnboundedSender<Bytes>) -> ConnId {
        let id = ConnId(self.next.fetch_add(1, Ordering::Relaxed) + 1);
        let mut t = self.lock();
        t.by_id.insert(id, (peer, tx));
        t.by_peer.insert(peer, id);
        id
    }

    /// Forgets connection `id`.
    pub(crate) fn close(&self, id: ConnId) {
        let mut t = self.lock();
        if let Some((peer, _)) = t.by_id.remove(&id) {
            if t.by_peer.get(&peer) == Some(&id) {
                t.by_peer.remove(&peer);
            }
        }
    }

    /// The writer of connection `id`, if it is open.
    pub(crate) fn by_id(&self, id: ConnId) -> Option<UnboundedSender<Bytes>> {
        self.lock()
            .by_id
            .get(&id)
            .map(|(_, tx)| tx.clone())
            .filter(|tx| !tx.is_closed())
    }

    /// The writer of the newest open connection to `peer`, if any.
    pub(crate) fn by_peer(&self, peer: SocketAddr) -> Option<UnboundedSender<Bytes>> {
        let t = self.lock();
        let id = t.by_peer.get(&peer)?;
        t.by_id
            .get(id)
            .map(|(_, tx)| tx.clone())
            .filter(|tx| !tx.is_closed())
    }
}
