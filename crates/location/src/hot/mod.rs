//! The hot table: every binding in memory, sharded by AOR hash.
//!
//! Both backends serve reads and run `update` closures here; the durable
//! backend additionally forwards each change to its writer from inside the
//! shard lock (the `persist` hooks below), which is what keeps per-AOR order.

mod normalize;
mod shard;

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) use shard::Shard;

use crate::{codec, Binding, StoreError};
use normalize::normalize;

/// Number of shards; a power of two well above the core count so that
/// concurrent registrations of different AORs rarely meet on a lock.
const SHARDS: usize = 64;

/// Most AOR entries one purge visits: when a million bindings expire
/// together, the timer loop purges them in slices of about a millisecond
/// each rather than holding its thread (and shard locks) for tens.
const PURGE_BUDGET: usize = 1024;

/// The in-memory bindings table, split into independently locked shards.
#[derive(Debug)]
pub(crate) struct HotTable {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    /// The shard the next purge starts with.
    purge_from: AtomicUsize,
}

impl Default for HotTable {
    fn default() -> Self {
        HotTable {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            purge_from: AtomicUsize::new(0),
        }
    }
}

/// Lock a shard, recovering from poisoning: a panicking `update` closure
/// runs on a copy of the set, so the shard itself is always consistent.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HotTable {
    /// Index of the shard that owns `aor`.
    pub(crate) fn shard_index(&self, aor: &str) -> usize {
        // The remainder is below SHARDS, so the narrowing cannot truncate.
        (self.hasher.hash_one(aor) % SHARDS as u64) as usize
    }

    /// Lock the shard that owns `aor`.
    pub(crate) fn lock(&self, aor: &str) -> MutexGuard<'_, Shard> {
        lock(&self.shards[self.shard_index(aor)])
    }

    /// Lock every shard, in index order (the only order used for more than
    /// one shard, so this cannot deadlock with single-shard holders).
    pub(crate) fn lock_all(&self) -> Vec<MutexGuard<'_, Shard>> {
        self.shards.iter().map(lock).collect()
    }

    /// The live bindings of `aor` at `now_ms`.
    pub(crate) fn lookup(&self, aor: &str, now_ms: u64) -> Vec<Binding> {
        self.lock(aor).live(aor, now_ms)
    }

    /// Install an encoded set read from disk as the set of `aor` (an
    /// empty or malformed set removes the AOR).
    pub(crate) fn install(&self, aor: &str, blob: Box<[u8]>) {
        self.lock(aor).install(aor, Some(&blob));
    }

    /// Run `change` on a copy of the live set of `aor` under its shard lock.
    ///
    /// If the closure fails, nothing happens. Otherwise `persist` is called,
    /// still under the lock, with the new normalised set, encoded (`None`
    /// when the set is unchanged), and the closure's value; only if it
    /// succeeds is the new set installed.
    pub(crate) fn apply<T, E, F, R>(
        &self,
        aor: &str,
        now_ms: u64,
        change: F,
        persist: impl FnOnce(Option<Box<[u8]>>, T) -> Result<R, StoreError>,
    ) -> Result<Result<R, E>, StoreError>
    where
        F: FnOnce(&mut Vec<Binding>) -> Result<T, E>,
    {
        let mut shard = self.lock(aor);
        let before = shard.live(aor, now_ms);
        let mut after = before.clone();
        let value = match change(&mut after) {
            Ok(value) => value,
            Err(e) => return Ok(Err(e)),
        };
        let after = normalize(aor, now_ms, after);
        if after == before {
            return persist(None, value).map(Ok);
        }
        let blob = codec::encode(&after);
        let entry = codec::entry(aor, &blob);
        let receipt = persist(Some(blob), value)?;
        shard.put(aor, Some(entry));
        Ok(Ok(receipt))
    }

    /// Remove what is due at `now_ms`, visiting at most [`PURGE_BUDGET`]
    /// AOR entries (the shards take turns going first); what is left stays
    /// due, so [`HotTable::next_expiry`] asks for another call at once.
    pub(crate) fn purge(&self, now_ms: u64) -> Vec<Binding> {
        let mut budget = PURGE_BUDGET;
        let first = self.purge_from.fetch_add(1, Ordering::Relaxed);
        let mut all = Vec::new();
        for i in 0..SHARDS {
            if budget == 0 {
                break;
            }
            all.extend(lock(&self.shards[(first + i) % SHARDS]).purge(now_ms, &mut budget));
        }
        all
    }

    /// The earliest expiry instant over all shards.
    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.shards
            .iter()
            .filter_map(|shard| lock(shard).next_expiry())
            .min()
    }
}
