//! One shard of the hot table: the AORs hashed to it, each stored with its
//! encoded set in one allocation, and a coarse index of when their
//! bindings expire.
//!
//! The layout is chosen for memory per binding (a registrar holds millions):
//! an AOR costs its entry (one heap block: AOR and encoded set), a 16-byte
//! slot, a 4-byte index cell and about 4 bytes in the expiry wheel.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use crate::codec;
use crate::{Binding, Snapshot, Version};

/// Width of one expiry-wheel bucket in milliseconds: bindings are purged
/// from memory at most this long after they expire (readers never see them
/// once expired: every read filters by time).
const BUCKET_MS: u64 = 1000;

/// The sets of some AORs and the instants at which they need a purge.
///
/// Invariants: every occupied slot holds a valid entry ([`codec::entry`])
/// with a non-empty set, and `index` holds exactly the occupied slots, found
/// by the hash of their AOR. Every binding's expiry bucket lists its slot in
/// `wheel`; the wheel may also hold stale slots (a refreshed binding's old
/// bucket, a slot since freed or reused), which a purge simply finds
/// nothing due in.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    slots: Vec<Box<[u8]>>,
    free: Vec<u32>,
    index: HashTable<u32>,
    wheel: BTreeMap<u64, Vec<u32>>,
    hasher: RandomState,
    /// Bindings in all occupied slots (live or not yet purged).
    bindings: usize,
}

/// Decode a stored set (which the invariant says is valid).
fn decode(aor: &str, set: &[u8], keep: impl FnMut(u64) -> bool) -> Vec<Binding> {
    codec::decode(aor, set, keep).unwrap_or_else(|e| {
        tracing::error!(error = %e, aor, "undecodable set in the hot table");
        Vec::new()
    })
}

/// The wheel bucket of an expiry instant: the bucket is due once its whole
/// interval has passed, so everything in it has expired by then.
fn bucket(at_ms: u64) -> u64 {
    at_ms / BUCKET_MS
}

/// The instant from which every binding in `bucket` has expired.
fn bucket_due(bucket: u64) -> u64 {
    bucket
        .saturating_mul(BUCKET_MS)
        .saturating_add(BUCKET_MS - 1)
}

/// Distinct wheel buckets of a set's bindings, sorted.
fn buckets(set: &[u8]) -> Vec<u64> {
    let mut at: Vec<u64> = codec::skim_expiries(set).into_iter().map(bucket).collect();
    at.sort_unstable();
    at.dedup();
    at
}

/// How the index finds a slot's hash again when it grows or shrinks: the
/// hash of the AOR stored in that slot.
fn rehash<'a>(slots: &'a [Box<[u8]>], hasher: &'a RandomState) -> impl Fn(&u32) -> u64 + 'a {
    move |&slot| hasher.hash_one(parts(&slots[slot as usize]).0)
}

/// The AOR and set of a stored entry (valid by the invariant).
fn parts(entry: &[u8]) -> (&[u8], &[u8]) {
    codec::split_entry(entry).unwrap_or((&[], &[]))
}

impl Shard {
    fn hash(&self, aor: &[u8]) -> u64 {
        self.hasher.hash_one(aor)
    }

    /// The slot holding `aor`, if any.
    fn find(&self, aor: &str) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(self.hash(aor.as_bytes()), |&slot| {
                parts(&slots[slot as usize]).0 == aor.as_bytes()
            })
            .copied()
    }

    /// The set of `aor` as stored (encoded), if any.
    pub(crate) fn stored(&self, aor: &str) -> Option<&[u8]> {
        self.find(aor)
            .map(|slot| parts(&self.slots[slot as usize]).1)
    }

    /// The bindings of `aor` still live at `now_ms`, in stored order.
    pub(crate) fn live(&self, aor: &str, now_ms: u64) -> Vec<Binding> {
        self.stored(aor)
            .map(|set| decode(aor, set, |at| at > now_ms))
            .unwrap_or_default()
    }

    /// [`Shard::live`] with the stored set as its version.
    pub(crate) fn snapshot(&self, aor: &str, now_ms: u64) -> Snapshot {
        match self.stored(aor) {
            Some(set) => Snapshot {
                bindings: decode(aor, set, |at| at > now_ms),
                version: Version::new(set),
            },
            None => Snapshot::default(),
        }
    }

    /// Replace the whole encoded set of `aor` (`None`, an empty set or a
    /// malformed one removes the AOR), keeping the expiry wheel in step.
    pub(crate) fn install(&mut self, aor: &str, set: Option<&[u8]>) {
        let set = set.filter(|set| codec::expiries(set).is_ok());
        self.put(aor, set.map(|set| codec::entry(aor, set)));
    }

    /// [`Shard::install`] with the entry already built ([`codec::entry`]
    /// of `aor` and a set known to be valid, e.g. just encoded).
    pub(crate) fn put(&mut self, aor: &str, entry: Option<Box<[u8]>>) {
        let new_buckets = entry
            .as_deref()
            .map(|e| buckets(parts(e).1))
            .unwrap_or_default();
        let entry = entry.filter(|_| !new_buckets.is_empty());
        if let Some(entry) = &entry {
            self.bindings += codec::count(parts(entry).1);
        }
        match (self.find(aor), entry) {
            (None, None) => {}
            (Some(slot), None) => self.remove(slot),
            (Some(slot), Some(entry)) => {
                let old = parts(&self.slots[slot as usize]).1;
                self.bindings = self.bindings.saturating_sub(codec::count(old));
                let old_buckets = buckets(old);
                self.slots[slot as usize] = entry;
                self.enlist(slot, &new_buckets, &old_buckets);
            }
            (None, Some(entry)) => {
                let slot = self.occupy(entry);
                let hash = self.hash(aor.as_bytes());
                self.index
                    .insert_unique(hash, slot, rehash(&self.slots, &self.hasher));
                self.enlist(slot, &new_buckets, &[]);
            }
        }
    }

    /// Put `entry` in a free slot (or a new one) and return the slot.
    fn occupy(&mut self, entry: Box<[u8]>) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = entry;
                slot
            }
            None => {
                self.slots.push(entry);
                // A shard holds far fewer than 2^32 AORs (the table is split
                // 64 ways and each AOR costs over 100 bytes).
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    /// Add `slot` to the wheel buckets in `new` that it is not already in.
    fn enlist(&mut self, slot: u32, new: &[u64], old: &[u64]) {
        for b in new {
            if old.binary_search(b).is_err() {
                self.wheel.entry(*b).or_default().push(slot);
            }
        }
    }

    /// Free `slot` and drop it from the index (its wheel entries go stale).
    fn remove(&mut self, slot: u32) {
        let entry = std::mem::take(&mut self.slots[slot as usize]);
        let (aor, set) = parts(&entry);
        self.bindings = self.bindings.saturating_sub(codec::count(set));
        let hash = self.hash(aor);
        if let Ok(found) = self.index.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        self.free.push(slot);
        // Give back what a burst of AORs left behind once most are gone.
        if self.index.capacity() > 64 && self.index.len() < self.index.capacity() / 4 {
            let len = self.index.len();
            self.index
                .shrink_to(len * 2, rehash(&self.slots, &self.hasher));
        }
    }

    /// Replace the set of `aor` with `set` (encoded here); for tests and
    /// recovery.
    #[cfg(test)]
    pub(crate) fn replace(&mut self, aor: &str, set: &[Binding]) {
        self.install(aor, Some(&codec::encode(set)));
    }

    /// Remove and return the bindings expired by `now_ms` whose wheel
    /// bucket has passed, touching only the due buckets and at most
    /// `budget` of their slot entries (decremented by the number taken; a
    /// bucket left unfinished stays due).
    pub(crate) fn purge(&mut self, now_ms: u64, budget: &mut usize) -> Vec<Binding> {
        let mut due: Vec<u32> = Vec::new();
        while *budget > 0 {
            let Some(mut entry) = self.wheel.first_entry() else {
                break;
            };
            if bucket_due(*entry.key()) > now_ms {
                break;
            }
            let slots = entry.get_mut();
            let take = slots.len().min(*budget);
            due.extend(slots.drain(slots.len() - take..));
            *budget -= take;
            if slots.is_empty() {
                entry.remove();
            }
        }
        due.sort_unstable();
        due.dedup();
        let mut removed = Vec::new();
        for slot in due {
            let Some(entry) = self.slots.get(slot as usize) else {
                continue;
            };
            let (aor, set) = parts(entry);
            let Ok(aor) = std::str::from_utf8(aor) else {
                continue;
            };
            let (mut gone, mut kept) = (Vec::new(), Vec::new());
            for binding in decode(aor, set, |_| true) {
                if binding.expires_at_ms <= now_ms {
                    gone.push(binding);
                } else {
                    kept.push(binding);
                }
            }
            if gone.is_empty() {
                continue;
            }
            // The kept bindings expire in later buckets, which list this
            // slot already.
            if kept.is_empty() {
                self.remove(slot);
            } else {
                self.slots[slot as usize] = codec::entry(aor, &codec::encode(&kept));
                self.bindings = self.bindings.saturating_sub(gone.len());
            }
            removed.append(&mut gone);
        }
        if self.slots.len() > 64 && self.free.len() * 2 > self.slots.len() {
            self.compact_slots();
        }
        removed
    }

    /// After most AORs are gone, move the entries at the end of the slot
    /// array into the free slots before them, and give the spare capacity
    /// back. A moved entry is listed again in the wheel under its new slot
    /// (its old wheel entries go stale).
    fn compact_slots(&mut self) {
        let n = self.index.len();
        let holes: Vec<u32> = self
            .free
            .iter()
            .copied()
            .filter(|&s| (s as usize) < n)
            .collect();
        let movers: Vec<u32> = (n..self.slots.len())
            .filter(|&i| !self.slots[i].is_empty())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        for (hole, from) in holes.into_iter().zip(movers) {
            let entry = std::mem::take(&mut self.slots[from as usize]);
            let (aor, set) = parts(&entry);
            if let Some(cell) = self
                .index
                .find_mut(self.hasher.hash_one(aor), |&s| s == from)
            {
                *cell = hole;
            }
            let at = buckets(set);
            self.slots[hole as usize] = entry;
            self.enlist(hole, &at, &[]);
        }
        self.slots.truncate(n);
        self.slots.shrink_to_fit();
        self.free = Vec::new();
    }

    /// When the next purge has work: the due instant of the earliest
    /// wheel bucket, if any.
    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.wheel.keys().next().map(|b| bucket_due(*b))
    }

    /// Number of AORs held.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Number of bindings held (live or not yet purged).
    pub(crate) fn bindings(&self) -> usize {
        self.bindings
    }

    /// Calls `visit` with the AOR and encoded set of each occupied slot
    /// from slot `from` on, until `visit` returns false or the slots end;
    /// returns the slot to go on from, `None` at the end. The caller bounds
    /// the work through `visit`.
    pub(crate) fn scan(
        &self,
        from: u32,
        mut visit: impl FnMut(&str, &[u8]) -> bool,
    ) -> Option<u32> {
        for (i, entry) in self.slots.iter().enumerate().skip(from as usize) {
            if entry.is_empty() {
                continue;
            }
            let (aor, set) = parts(entry);
            let Ok(aor) = std::str::from_utf8(aor) else {
                continue;
            };
            if !visit(aor, set) {
                return u32::try_from(i).ok();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(aor: &str, contact: &str, expires_at_ms: u64) -> Binding {
        Binding {
            aor: aor.into(),
            contact: contact.into(),
            q: 1000,
            expires_at_ms,
            call_id: "c".into(),
            cseq: 1,
            received: None,
            transport: "udp".into(),
            local: None,
            user_agent: None,
            path: Vec::new(),
            instance: None,
            reg_id: None,
            action: None,
            updated_at_ms: 0,
        }
    }

    impl Shard {
        /// Purge without a budget.
        fn purge_all(&mut self, now_ms: u64) -> Vec<Binding> {
            let mut budget = usize::MAX;
            self.purge(now_ms, &mut budget)
        }
    }

    #[test]
    fn replace_keeps_the_wheel_in_step() {
        let mut shard = Shard::default();
        shard.replace(
            "a",
            &[binding("a", "sip:1", 1_000), binding("a", "sip:2", 2_000)],
        );
        assert_eq!(shard.next_expiry(), Some(1_999));
        // A refresh leaves the old bucket stale: a purge there finds nothing.
        shard.replace("a", &[binding("a", "sip:2", 3_000)]);
        assert!(shard.purge_all(2_999).is_empty());
        assert_eq!(shard.next_expiry(), Some(3_999));
        assert_eq!(shard.live("a", 0).len(), 1);
        // Two bindings in one bucket put the slot there once.
        shard.replace(
            "a",
            &[binding("a", "sip:1", 3_100), binding("a", "sip:2", 3_200)],
        );
        assert_eq!(shard.wheel.get(&3).map(Vec::len), Some(1));
        shard.replace("a", &[]);
        assert!(shard.live("a", 0).is_empty());
        assert_eq!(shard.len(), 0);
        assert!(shard.purge_all(u64::MAX).is_empty());
        assert_eq!(shard.next_expiry(), None);
    }

    #[test]
    fn freed_slots_are_reused_and_stale_entries_are_harmless() {
        let mut shard = Shard::default();
        shard.replace("a", &[binding("a", "sip:1", 5_000)]);
        shard.replace("a", &[]);
        // "b" takes the slot "a" left, with a later expiry.
        shard.replace("b", &[binding("b", "sip:2", 9_000)]);
        assert_eq!(shard.slots.len(), 1);
        assert!(shard.purge_all(5_999).is_empty());
        assert_eq!(shard.live("b", 0).len(), 1);
        assert_eq!(shard.purge_all(9_999).len(), 1);
        assert_eq!(shard.len(), 0);
    }

    #[test]
    fn purge_takes_only_due_bindings() {
        let mut shard = Shard::default();
        shard.replace(
            "a",
            &[binding("a", "sip:1", 1_000), binding("a", "sip:2", 2_000)],
        );
        shard.replace("b", &[binding("b", "sip:3", 1_000)]);
        shard.replace(
            "c",
            &[binding("c", "sip:4", 500), binding("c", "sip:5", 800)],
        );
        // Bucket 0 (0..=999 ms) is due at 999; bucket 1 at 1999.
        assert_eq!(shard.purge_all(998).len(), 0);
        assert_eq!(shard.purge_all(999).len(), 2);
        assert!(shard.live("c", 0).is_empty());
        let mut removed = shard.purge_all(1_999);
        removed.sort_by(|x, y| x.contact.cmp(&y.contact));
        assert_eq!(removed.len(), 2);
        assert_eq!(removed[0].contact, "sip:1");
        assert_eq!(removed[1].contact, "sip:3");
        assert_eq!(shard.live("a", 0).len(), 1);
        assert!(shard.live("b", 0).is_empty());
        assert_eq!(shard.next_expiry(), Some(2_999));
        assert_eq!(shard.purge_all(u64::MAX).len(), 1);
        assert_eq!(shard.next_expiry(), None);
        assert_eq!(shard.len(), 0);
    }

    #[test]
    fn purge_stops_at_its_budget_and_the_rest_stays_due() {
        let mut shard = Shard::default();
        for aor in ["a", "b", "c"] {
            shard.replace(aor, &[binding(aor, "sip:x", 500)]);
        }
        let mut budget = 2;
        assert_eq!(shard.purge(999, &mut budget).len(), 2);
        assert_eq!(budget, 0);
        assert_eq!(shard.next_expiry(), Some(999));
        assert_eq!(shard.len(), 1);
        let mut budget = 2;
        assert_eq!(shard.purge(999, &mut budget).len(), 1);
        assert_eq!(budget, 1);
        assert_eq!(shard.next_expiry(), None);
    }

    #[test]
    fn memory_left_by_a_burst_is_given_back() {
        let mut shard = Shard::default();
        for i in 0..1_000 {
            let aor = format!("sip:{i}@example.com");
            shard.replace(&aor, &[binding(&aor, "sip:x", 1_000)]);
        }
        shard.replace(
            "sip:keep@example.com",
            &[binding("sip:keep@example.com", "sip:k", 5_000)],
        );
        assert_eq!(shard.purge_all(1_999).len(), 1_000);
        assert_eq!(shard.len(), 1);
        assert!(shard.index.capacity() < 64);
        assert!(shard.slots.capacity() < 1_000);
        assert_eq!(shard.live("sip:keep@example.com", 0).len(), 1);
    }
}
