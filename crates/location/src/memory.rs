//! The in-memory backend: the hot table alone, nothing durable.

use std::future::{ready, Future};

use crate::hot::HotTable;
use crate::{Binding, LocationStore, StoreError};

/// A location store that lives only in memory.
///
/// Used by tests and by deployments that accept losing registrations on
/// restart. Updates are complete (and their futures ready) as soon as
/// `update` returns.
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
    fn update<T, E, F>(
        &self,
        aor: &str,
        now_ms: u64,
        change: F,
    ) -> impl Future<Output = Result<Result<T, E>, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Vec<Binding>) -> Result<T, E> + Send + 'static,
    {
        ready(self.hot.apply(aor, now_ms, change, |_, value| Ok(value)))
    }

    fn update_then<T, E, F, D>(&self, aor: &str, now_ms: u64, change: F, done: D)
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Vec<Binding>) -> Result<T, E> + Send + 'static,
        D: FnOnce(Result<Result<T, E>, StoreError>) + Send + 'static,
    {
        done(self.hot.apply(aor, now_ms, change, |_, value| Ok(value)));
    }

    fn lookup(&self, aor: &str, now_ms: u64) -> Vec<Binding> {
        self.hot.lookup(aor, now_ms)
    }

    fn purge_expired(&self, now_ms: u64) -> Vec<Binding> {
        self.hot.purge(now_ms)
    }

    fn next_expiry(&self) -> Option<u64> {
        self.hot.next_expiry()
    }

    fn close(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(Ok(()))
    }
}
