//! The in-memory backend: the hot table alone, nothing durable.

use crate::hot::HotTable;
use crate::{Binding, Counts, Done, ListQuery, LocationStore, Page, Snapshot, Version, Written};

/// A location store that lives only in memory.
///
/// Used by tests and by deployments that accept losing registrations on
/// restart. Every operation completes (and calls its [`Done`]) before it
/// returns.
#[derive(Debug, Default)]
pub struct MemoryStore {
    hot: HotTable,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl LocationStore for MemoryStore {
    fn fetch(&self, aor: &str, now_ms: u64, done: Done<Snapshot>) {
        done(Ok(self.hot.fetch(aor, now_ms)));
    }

    fn write(
        &self,
        aor: &str,
        expected: &Version,
        set: Vec<Binding>,
        now_ms: u64,
        done: Done<Written>,
    ) {
        done(
            self.hot
                .write(aor, expected, set, now_ms, |_| Ok(()))
                .map(|outcome| match outcome {
                    Ok(()) => Written::Stored,
                    Err(now) => Written::Conflict(now),
                }),
        );
    }

    fn lookup(&self, aors: &[String], now_ms: u64, done: Done<Vec<Binding>>) {
        done(Ok(self.hot.lookup_first(aors, now_ms)));
    }

    fn purge_expired(&self, now_ms: u64) -> Vec<Binding> {
        self.hot.purge(now_ms)
    }

    fn next_expiry(&self) -> Option<u64> {
        self.hot.next_expiry()
    }

    fn counts(&self) -> Counts {
        self.hot.counts()
    }

    fn list(&self, query: &ListQuery, now_ms: u64, done: Done<Page>) {
        done(self.hot.list(query, now_ms));
    }

    fn probe(&self, done: Done<()>) {
        done(Ok(()));
    }

    fn close(&self, done: Done<()>) {
        done(Ok(()));
    }
}
