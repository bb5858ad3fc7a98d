//! Nonce-count replay protection (RFC 7616 §3.4.5 `nc`): the highest count
//! accepted per nonce, remembered until the nonce expires, in bounded
//! memory. Time is an input.

use crate::rng::Rng;
use crate::transaction::KeyHasher;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// Number of shards (a power of two), so concurrent checks rarely contend.
const SHARDS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Seen {
    nc: u32,
    expires_ms: u64,
}

/// One shard: the counts, and the nonces in the order they were first
/// recorded. Every nonce lives as long as the others, so that order is
/// also (nearly) the order in which they expire: forgetting expired
/// nonces and making room both take from the front, in constant time per
/// nonce rather than a scan of the shard.
#[derive(Debug)]
struct Shard {
    seen: HashMap<Arc<str>, Seen, KeyHasher>,
    order: VecDeque<Arc<str>>,
}

impl Shard {
    /// Forget the oldest recorded nonce (a stale queue entry, for a nonce
    /// already forgotten, is simply dropped); false when the queue is empty.
    fn forget_oldest(&mut self) -> bool {
        match self.order.pop_front() {
            Some(nonce) => {
                self.seen.remove(&nonce);
                true
            }
            None => false,
        }
    }

    /// Forget the nonces at the front of the queue that expired by `now_ms`.
    fn forget_expired(&mut self, now_ms: u64) {
        while let Some(front) = self.order.front() {
            match self.seen.get(front) {
                Some(s) if s.expires_ms > now_ms => break,
                _ => {
                    self.forget_oldest();
                }
            }
        }
    }
}

/// Highest `nc` accepted per nonce.
///
/// Only nonces of requests whose response was already verified are
/// recorded, so an outsider cannot fill it. When a shard is full, expired
/// nonces go first, then the oldest recorded (which expires soonest).
#[derive(Debug)]
pub struct NonceCounts {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: KeyHasher,
}

impl NonceCounts {
    /// A table remembering about `capacity` nonces at once, its hashes
    /// keyed from `rng` (nonces come from the network).
    pub fn new(capacity: usize, rng: &mut Rng) -> NonceCounts {
        NonceCounts {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        seen: HashMap::with_hasher(rng.hasher()),
                        order: VecDeque::new(),
                    })
                })
                .collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: rng.hasher(),
        }
    }

    fn shard(&self, nonce: &str) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[(self.hasher.hash_one(nonce) as usize) & (SHARDS - 1)]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Accepts `nc` for `nonce` (valid until `expires_ms`) if it is higher
    /// than every count accepted for that nonce before; false for a replay.
    pub fn advance(&self, nonce: &str, nc: u32, expires_ms: u64, now_ms: u64) -> bool {
        let mut shard = self.shard(nonce);
        if let Some(seen) = shard.seen.get_mut(nonce) {
            if seen.expires_ms > now_ms && nc <= seen.nc {
                return false;
            }
            seen.nc = nc;
            seen.expires_ms = expires_ms;
            return true;
        }
        if nc == 0 {
            return false;
        }
        if shard.seen.len() >= self.per_shard {
            shard.forget_expired(now_ms);
        }
        while shard.seen.len() >= self.per_shard && shard.forget_oldest() {}
        let key: Arc<str> = Arc::from(nonce);
        shard.order.push_back(Arc::clone(&key));
        shard.seen.insert(key, Seen { nc, expires_ms });
        true
    }

    /// Forgets nonces expired at `now_ms`.
    pub fn purge(&self, now_ms: u64) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            shard.forget_expired(now_ms);
            // Nonces that expired behind a live one at the front of the
            // queue; their queue entries, now stale, are dropped below
            // once they are many.
            shard.seen.retain(|_, s| s.expires_ms > now_ms);
            let live = shard.seen.len();
            if shard.order.len() > 2 * live + 64 {
                let seen = &shard.seen;
                let kept: VecDeque<Arc<str>> = shard
                    .order
                    .iter()
                    .filter(|n| seen.contains_key(*n))
                    .cloned()
                    .collect();
                shard.order = kept;
            }
        }
    }

    /// Nonces remembered now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).seen.len())
            .sum()
    }

    /// True when no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_grow_per_nonce() {
        let t = NonceCounts::new(100, &mut Rng::new(1));
        assert!(t.advance("a", 1, 1000, 0));
        assert!(!t.advance("a", 1, 1000, 1));
        assert!(t.advance("a", 2, 1000, 2));
        assert!(!t.advance("a", 1, 1000, 3));
        assert!(t.advance("b", 1, 1000, 3));
        assert!(!t.advance("c", 0, 1000, 3));
        assert_eq!(t.len(), 2);
        t.purge(1000);
        assert!(t.is_empty());
    }

    #[test]
    fn bounded() {
        let t = NonceCounts::new(SHARDS, &mut Rng::new(1));
        for i in 0..10 * SHARDS {
            assert!(t.advance(&format!("n{i}"), 1, 1000 + i as u64, 0));
        }
        assert!(t.len() <= SHARDS);
    }

    #[test]
    fn when_full_the_oldest_goes_and_the_newest_stays() {
        let t = NonceCounts::new(4 * SHARDS, &mut Rng::new(1));
        for i in 0..10_000u64 {
            assert!(t.advance(&format!("n{i}"), 1, 1_000_000 + i, 0));
        }
        assert!(t.len() <= 4 * SHARDS);
        // The latest nonce is remembered: its count cannot be replayed.
        assert!(!t.advance("n9999", 1, 1_009_999, 1));
        // The first was forgotten to make room: it is accepted again.
        assert!(t.advance("n0", 1, 1_000_000, 1));
        t.purge(2_000_000);
        assert!(t.is_empty());
    }
}
