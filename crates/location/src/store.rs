//! The backend-neutral store trait.

use std::future::Future;

use crate::{Binding, StoreError};

/// The location service as seen by the registrar and the proxy core.
///
/// This is the shape every backend fits: the in-memory one, the SQLite one,
/// and later Redis and PostgreSQL. All times are passed in by the caller
/// (Unix epoch milliseconds) so the store itself holds no clock.
pub trait LocationStore: Send + Sync + 'static {
    /// Atomic read-modify-write of ONE AOR (compare-and-set shape).
    ///
    /// `change` runs with exclusive access to the AOR's current live
    /// bindings (those with `expires_at_ms <= now_ms` are already removed
    /// from the `Vec`). If it returns `Ok` and the set differs from before,
    /// the new set is made durable before the returned future resolves; if
    /// it returns `Err`, nothing changes. Updates to the same AOR are applied
    /// in call order: the change is applied when `update` is called, the
    /// future only reports its durability (dropping it does not undo it).
    /// The future owns what it needs (`'static`), so the caller can call
    /// `update` in arrival order and await durability in another task.
    ///
    /// Before the set is stored it is normalised: bindings already expired
    /// at `now_ms` are dropped, a repeated contact keeps its last value, the
    /// `aor` field is set to `aor`, and instants are capped at `i64::MAX` ms.
    fn update<T, E, F>(
        &self,
        aor: &str,
        now_ms: u64,
        change: F,
    ) -> impl Future<Output = Result<Result<T, E>, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Vec<Binding>) -> Result<T, E> + Send + 'static;

    /// [`LocationStore::update`] with a callback instead of a future:
    /// `done` is called exactly once with the outcome, on whichever thread
    /// makes the change durable (the writer thread of a durable backend,
    /// the caller's thread when the change fails or needs no write). The
    /// caller's reply can leave from there, with no task to wake per
    /// update. `done` must be short and must not block.
    fn update_then<T, E, F, D>(&self, aor: &str, now_ms: u64, change: F, done: D)
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Vec<Binding>) -> Result<T, E> + Send + 'static,
        D: FnOnce(Result<Result<T, E>, StoreError>) + Send + 'static;

    /// The live bindings of an AOR at `now_ms`, in stored order.
    fn lookup(&self, aor: &str, now_ms: u64) -> Vec<Binding>;

    /// Remove bindings whose expiry is `<= now_ms`, using the expiry index
    /// (no full scan), and return what was removed (for metrics and
    /// events). The index may be coarse: a binding is removed at the latest
    /// by the instant [`LocationStore::next_expiry`] reported for it (the
    /// built-in backends: within a second of its expiry). This need not
    /// write anything: expired bindings are already
    /// invisible to every reader by time, and a durable backend may drop
    /// them from storage later ([`crate::SqliteStore`] does so when it
    /// compacts or reopens).
    fn purge_expired(&self, now_ms: u64) -> Vec<Binding>;

    /// When [`LocationStore::purge_expired`] next has work, if ever: the
    /// caller can sleep until then.
    fn next_expiry(&self) -> Option<u64>;

    /// Wait until everything accepted so far is durable, then stop
    /// background work (used on SIGTERM). Later updates fail with
    /// [`StoreError::Closed`].
    fn close(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
