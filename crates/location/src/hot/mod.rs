//! The hot table: every binding in memory, sharded by AOR hash.
//!
//! Both backends serve reads and compare-and-set writes here; the durable
//! backend additionally forwards each change to its writer from inside the
//! shard lock (the `persist` hook of [`HotTable::write`]), which is what
//! keeps per-AOR order.

mod normalize;
mod shard;

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) use shard::Shard;

use crate::{codec, Binding, Counts, ListQuery, Page, Snapshot, StoreError, Version};
use normalize::normalize;

/// Number of shards; a power of two well above the core count so that
/// concurrent registrations of different AORs rarely meet on a lock.
const SHARDS: usize = 64;

/// Most AOR entries one purge visits: when a million bindings expire
/// together, the timer loop purges them in slices of about a millisecond
/// each rather than holding its thread (and shard locks) for tens.
const PURGE_BUDGET: usize = 1024;

/// Most slots one listing page visits (occupied or not), so a page costs
/// about the same whatever the table's size and the filter.
const LIST_BUDGET: usize = 4096;

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

/// The shard and slot of a listing cursor.
fn parse_cursor(cursor: &str) -> Option<(usize, u32)> {
    let (shard, slot) = cursor.split_once('.')?;
    let shard: usize = shard.parse().ok()?;
    (shard < SHARDS).then_some(())?;
    Some((shard, slot.parse().ok()?))
}

/// True when the AOR, contact or User-Agent of `b` contains `needle`
/// (lower case), ASCII case ignored.
fn matches(b: &Binding, needle: &str) -> bool {
    [Some(&b.aor), Some(&b.contact), b.user_agent.as_ref()]
        .into_iter()
        .flatten()
        .any(|text| text.to_ascii_lowercase().contains(needle))
}

/// Lock a shard, recovering from poisoning: a write installs its set in
/// one step, so the shard itself is always consistent.
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

    /// The live bindings at `now_ms` of the first of `aors` that has any.
    pub(crate) fn lookup_first(&self, aors: &[String], now_ms: u64) -> Vec<Binding> {
        aors.iter()
            .map(|aor| self.lookup(aor, now_ms))
            .find(|set| !set.is_empty())
            .unwrap_or_default()
    }

    /// Install an encoded set read from disk as the set of `aor` (an
    /// empty or malformed set removes the AOR).
    pub(crate) fn install(&self, aor: &str, blob: Box<[u8]>) {
        self.lock(aor).install(aor, Some(&blob));
    }

    /// The live set of `aor` at `now_ms` and its version: the stored
    /// encoded set itself, so a later [`HotTable::write`] can tell exactly
    /// whether the AOR changed meanwhile (and it costs no memory per AOR).
    pub(crate) fn fetch(&self, aor: &str, now_ms: u64) -> Snapshot {
        self.lock(aor).snapshot(aor, now_ms)
    }

    /// Compare-and-set of the whole set of `aor`, under its shard lock.
    ///
    /// If the stored set is no longer `expected`, nothing happens and the
    /// AOR as it is now comes back (`Ok(Err(snapshot))`). Otherwise `set`
    /// is normalised and `persist` is called, still under the lock, with
    /// the new set encoded (`None` when nothing changes); only if it
    /// succeeds is the new set installed.
    pub(crate) fn write<R>(
        &self,
        aor: &str,
        expected: &Version,
        set: Vec<Binding>,
        now_ms: u64,
        persist: impl FnOnce(Option<Box<[u8]>>) -> Result<R, StoreError>,
    ) -> Result<Result<R, Snapshot>, StoreError> {
        let mut shard = self.lock(aor);
        let current = shard.stored(aor).unwrap_or_default();
        if current != expected.as_bytes() {
            return Ok(Err(shard.snapshot(aor, now_ms)));
        }
        let after = normalize(aor, now_ms, set);
        if after.is_empty() && current.is_empty() {
            return persist(None).map(Ok);
        }
        let blob = codec::encode(&after);
        if *blob == *current {
            return persist(None).map(Ok);
        }
        let entry = codec::entry(aor, &blob);
        let receipt = persist(Some(blob))?;
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

    /// The AORs and bindings held, from each shard's counters (no scan).
    pub(crate) fn counts(&self) -> Counts {
        self.shards.iter().fold(Counts::default(), |c, shard| {
            let shard = lock(shard);
            Counts {
                aors: c.aors + shard.len() as u64,
                bindings: c.bindings + shard.bindings() as u64,
            }
        })
    }

    /// One page of the live bindings at `now_ms`, visiting at most
    /// [`LIST_BUDGET`] slots. The cursor is `shard.slot` (opaque to callers).
    pub(crate) fn list(&self, query: &ListQuery, now_ms: u64) -> Result<Page, StoreError> {
        let (mut shard, mut slot) = match &query.cursor {
            None => (0, 0),
            Some(c) => parse_cursor(c).ok_or(StoreError::InvalidCursor)?,
        };
        let needle = query
            .search
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase);
        let limit = query.limit.max(1);
        let (mut aors, mut visits) = (0, 0);
        let mut bindings = Vec::new();
        while shard < SHARDS {
            let next = lock(&self.shards[shard]).scan(slot, |aor, set| {
                if aors >= limit || visits >= LIST_BUDGET {
                    return false;
                }
                visits += 1;
                let before = bindings.len();
                let live = codec::decode(aor, set, |at| at > now_ms).unwrap_or_default();
                bindings.extend(live.into_iter().filter(|b| match &needle {
                    None => true,
                    Some(n) => matches(b, n),
                }));
                if bindings.len() > before {
                    aors += 1;
                }
                true
            });
            match next {
                Some(at) => {
                    return Ok(Page {
                        bindings,
                        next: Some(format!("{shard}.{at}")),
                    })
                }
                None => {
                    shard += 1;
                    slot = 0;
                }
            }
        }
        Ok(Page {
            bindings,
            next: None,
        })
    }

    /// The earliest expiry instant over all shards.
    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.shards
            .iter()
            .filter_map(|shard| lock(shard).next_expiry())
            .min()
    }
}
