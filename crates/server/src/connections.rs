//! Open stream connections: each has an identity ([`ConnId`]) the endpoint
//! names, and is also found by its peer's address, so a request for a UA
//! that registered over TCP goes out on the connection it registered on
//! (RFC 3261 §18.1.1 connection reuse, the flows of RFC 5626).

use bytes::Bytes;
use sip_core::ConnId;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::mpsc;
use tokio::sync::Notify;

/// Bytes one connection may have queued unsent (beyond what the kernel
/// buffers) before its peer counts as stalled (it stopped reading) and is
/// cut off, so one slow peer cannot make the server hold replies without
/// bound.
pub(crate) const MAX_QUEUED: usize = 1 << 20;

/// Why bytes could not be queued on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueError {
    /// The connection is closed.
    Closed,
    /// Its peer let [`MAX_QUEUED`] bytes pile up unread: it is being closed.
    Stalled,
}

/// The writing side of one connection, as the registry hands it out.
#[derive(Debug, Clone)]
pub(crate) struct ConnWriter {
    tx: mpsc::UnboundedSender<Bytes>,
    /// Bytes queued and not yet written, shared with the writer task.
    queued: Arc<AtomicUsize>,
    closing: Arc<Notify>,
}

impl ConnWriter {
    /// A writer feeding `tx`, counting in `queued` what the writer task has
    /// not written yet; `closing` is notified when the connection must
    /// close (its peer stalled).
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Bytes>,
        queued: Arc<AtomicUsize>,
        closing: Arc<Notify>,
    ) -> ConnWriter {
        ConnWriter {
            tx,
            queued,
            closing,
        }
    }

    /// Queues `bytes` for the connection's writer, without waiting.
    pub(crate) fn send(&self, bytes: Bytes) -> Result<(), QueueError> {
        let len = bytes.len();
        if self.queued.fetch_add(len, Ordering::AcqRel) + len > MAX_QUEUED {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            self.closing.notify_one();
            return Err(QueueError::Stalled);
        }
        self.tx.send(bytes).map_err(|_| {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            QueueError::Closed
        })
    }

    /// True once the connection's writer has stopped.
    fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Writer handles of the open connections, and how many connection tasks
/// are still running.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    next: AtomicU64,
    map: Mutex<Tables>,
    live: AtomicUsize,
    ended: Notify,
}

#[derive(Debug, Default)]
struct Tables {
    by_id: HashMap<ConnId, (SocketAddr, ConnWriter)>,
    by_peer: HashMap<SocketAddr, ConnId>,
}

/// Counts one running connection task until dropped.
pub(crate) struct Live(Arc<Connections>);

impl Drop for Live {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.ended.notify_waiters();
        }
    }
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a new connection to `peer`; returns its identity, and the
    /// token that counts its task as running.
    pub(crate) fn open(self: &Arc<Self>, peer: SocketAddr, writer: ConnWriter) -> (ConnId, Live) {
        self.live.fetch_add(1, Ordering::AcqRel);
        let id = ConnId(self.next.fetch_add(1, Ordering::Relaxed) + 1);
        let mut t = self.lock();
        t.by_id.insert(id, (peer, writer));
        t.by_peer.insert(peer, id);
        (id, Live(self.clone()))
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
    pub(crate) fn by_id(&self, id: ConnId) -> Option<ConnWriter> {
        self.lock()
            .by_id
            .get(&id)
            .map(|(_, w)| w.clone())
            .filter(|w| !w.is_closed())
    }

    /// The writer of the newest open connection to `peer`, if any.
    pub(crate) fn by_peer(&self, peer: SocketAddr) -> Option<ConnWriter> {
        let t = self.lock();
        let id = t.by_peer.get(&peer)?;
        t.by_id
            .get(id)
            .map(|(_, w)| w.clone())
            .filter(|w| !w.is_closed())
    }

    /// Connections open now.
    pub(crate) fn open_count(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Waits until every connection task has ended (after shutdown, each
    /// has handed on what it read and sent what was queued for it).
    pub(crate) async fn all_closed(&self) {
        loop {
            let ended = self.ended.notified();
            if self.live.load(Ordering::Acquire) == 0 {
                return;
            }
            ended.await;
        }
    }
}
