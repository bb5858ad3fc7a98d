//! The store seam: what every location backend offers the shell that runs
//! the protocol core's store operations.
//!
//! The registrar's decision is made in the core, on a [`Snapshot`] of one
//! AOR; the backend applies it as one compare-and-set on that AOR
//! ([`LocationStore::write`]): the new set is stored only if the AOR's
//! [`Version`] is still the one the decision saw, and otherwise the
//! current snapshot comes back ([`Written::Conflict`]) for a fresh
//! decision. Nothing else serializes the changes of one AOR, so the same
//! operation maps onto an in-memory table (a shard lock), SQLite (one
//! transaction), Redis (a version checked by a script, one hash-tagged key
//! per AOR) and PostgreSQL (one transaction).
//!
//! Every operation reports through a [`Done`] callback, called exactly
//! once on whichever thread completes it: at once on the caller's thread
//! for an answer from memory, later on a writer or network thread for a
//! change that must first be durable. The trait is object-safe, so the
//! shell can pick a backend at run time.

use crate::{Binding, Counts, ListQuery, Page, StoreError, StoreObserver};
use std::sync::Arc;

/// Receives the outcome of one store operation (see the module docs).
pub type Done<T> = Box<dyn FnOnce(Result<T, StoreError>) + Send>;

/// The version of one AOR's stored set, as a backend chooses to tell two
/// states apart: opaque to the core, which hands it back with the write
/// that follows its decision. An AOR without bindings has the version of
/// the empty set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Version(Box<[u8]>);

impl Version {
    /// The version a backend identifies by `bytes` (a row version, a
    /// counter, or the stored set itself).
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Version {
        Version(bytes.into())
    }

    /// The bytes the backend gave.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One AOR as a decision sees it: its live bindings and their version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The bindings live at the time of the read, in stored order.
    pub bindings: Vec<Binding>,
    /// The version to hand back with a write based on these bindings.
    pub version: Version,
}

/// How a [`LocationStore::write`] ended, short of an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The set is stored, as durably as the backend promises (or it was
    /// unchanged, and everything accepted before it is stored).
    Stored,
    /// The AOR changed since the snapshot the write was based on: nothing
    /// was written, and this is the AOR now, for a fresh decision.
    Conflict(Snapshot),
}

/// The location service as the shell sees it.
///
/// All times are passed in by the caller (Unix epoch milliseconds), so a
/// backend holds no clock.
pub trait LocationStore: Send + Sync + 'static {
    /// The live bindings of `aor` at `now_ms` (expired ones left out) and
    /// the version of its stored set.
    fn fetch(&self, aor: &str, now_ms: u64, done: Done<Snapshot>);

    /// Replaces the whole set of `aor` with `set`, if the AOR's version is
    /// still `expected` (compare-and-set); otherwise writes nothing and
    /// answers [`Written::Conflict`] with the AOR as it is now.
    ///
    /// Before it is stored the set is normalised: bindings already expired
    /// at `now_ms` are dropped, a repeated contact keeps its last value,
    /// each binding's `aor` is set to `aor`, and instants are capped at
    /// `i64::MAX` ms. An empty set removes the AOR. Writes to one AOR are
    /// applied in call order. [`Written::Stored`] is reported only once the
    /// change is as durable as the backend promises; a write that changes
    /// nothing is reported once every change accepted before it is, so
    /// that its answer never shows state that could still fail to commit.
    fn write(
        &self,
        aor: &str,
        expected: &Version,
        set: Vec<Binding>,
        now_ms: u64,
        done: Done<Written>,
    );

    /// The live bindings at `now_ms` of the first of `aors` that has any
    /// (none when no AOR has any), in stored order.
    fn lookup(&self, aors: &[String], now_ms: u64, done: Done<Vec<Binding>>);

    /// Removes bindings whose expiry is `<= now_ms` from memory, using an
    /// expiry index (no full scan), and returns what was removed (for
    /// metrics and events). The index may be coarse: a binding is removed
    /// at the latest by the instant [`LocationStore::next_expiry`] reported
    /// for it. Readers never see an expired binding whether or not it was
    /// purged, and a durable backend may drop it from storage later.
    fn purge_expired(&self, now_ms: u64) -> Vec<Binding>;

    /// When [`LocationStore::purge_expired`] next has work, if ever: the
    /// caller can sleep until then.
    fn next_expiry(&self) -> Option<u64>;

    /// How many AORs and bindings the store holds now (kept as changes
    /// happen; cheap enough for every metrics scrape).
    fn counts(&self) -> Counts;

    /// One page of the live bindings at `now_ms` (see [`Page`]): for
    /// listings and searches of the admin API, never on the path of a SIP
    /// request. The work per call is bounded whatever the store's size.
    /// A cursor this store did not hand out fails with
    /// [`StoreError::InvalidCursor`].
    fn list(&self, query: &ListQuery, now_ms: u64, done: Done<Page>);

    /// Whether the store can take changes now (for readiness): an error
    /// when its writer stopped, its last commit failed or its server cannot
    /// be reached.
    fn probe(&self, done: Done<()>);

    /// Reports every commit to `observer` from now on (a backend without
    /// commits reports nothing).
    fn set_observer(&self, observer: Arc<dyn StoreObserver>) {
        let _ = observer;
    }

    /// Waits until everything accepted so far is durable, then stops
    /// background work (used on SIGTERM); later writes fail with
    /// [`StoreError::Closed`]. Closing twice is harmless.
    fn close(&self, done: Done<()>);
}
