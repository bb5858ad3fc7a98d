//! The changes of the location store the server announces as they are
//! stored: what the admin API's live feed shows.

use location_model::Binding;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Changes a slow subscriber may lag behind before it misses some (and
/// is told so).
const QUEUE: usize = 4096;

/// Where changes are announced, and whether anyone listens: a count kept
/// by the subscriptions themselves, so the request path asks an atomic
/// rather than the channel (whose count sits behind its lock).
#[derive(Debug)]
pub(crate) struct Changes {
    tx: broadcast::Sender<Change>,
    listening: Arc<AtomicUsize>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            tx: broadcast::channel(QUEUE).0,
            listening: Arc::default(),
        }
    }
}

impl Changes {
    /// True while at least one subscription is alive.
    pub(crate) fn listened(&self) -> bool {
        self.listening.load(Ordering::Relaxed) > 0
    }

    /// Announces `change` to the subscriptions alive now.
    pub(crate) fn send(&self, change: Change) {
        let _ = self.tx.send(change);
    }

    /// A subscription to the changes announced from now on.
    pub(crate) fn subscribe(&self) -> Subscription {
        self.listening.fetch_add(1, Ordering::Relaxed);
        Subscription {
            rx: self.tx.subscribe(),
            listening: self.listening.clone(),
        }
    }
}

/// The changes announced since it was taken ([`crate::Node::subscribe`]).
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<Change>,
    listening: Arc<AtomicUsize>,
}

impl Subscription {
    /// The next change; an error says how many were missed (the
    /// subscriber fell behind) or that the server is gone.
    pub async fn recv(&mut self) -> Result<Change, broadcast::error::RecvError> {
        self.rx.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.listening.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A change of the location store made through this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The whole set of an AOR, as written (empty: the AOR is gone).
    Stored {
        /// The AOR.
        aor: String,
        /// Its bindings now.
        bindings: Vec<Binding>,
    },
    /// These bindings expired and left the store.
    Expired {
        /// The bindings that expired.
        bindings: Vec<Binding>,
    },
}
