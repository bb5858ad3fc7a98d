//! Nonce-count replay protection (RFC 7616 §3.4.5 `nc`): the highest count
//! accepted per nonce, remembered until the nonce expires, in bounded
//! memory. Time is an input.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

/// Number of shards (a power of two), so concurrent checks rarely contend.
const SHARDS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Seen {
    nc: u32,
    expires_ms: u64,
}

/// Highest `nc` accepted per nonce.
///
/// Only nonces of requests whose response was already verified are
/// recorded, so an outsider cannot fill it. When a shard is full, expired
/// entries go first, then the one expiring soonest.
#[derive(Debug)]
pub struct NonceCounts {
    shards: Box<[Mutex<HashMap<String, Seen>>]>,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
}

impl NonceCounts {
    /// A table remembering about `capacity` nonces at once.
    pub fn new(capacity: usize) -> NonceCounts {
        NonceCounts {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: Default::default(),
        }
    }

    /// Accepts `nc` for `nonce` (valid until `expires_ms`) if it is higher
    /// than every count accepted for that nonce before; false for a replay.
    pub fn advance(&self, nonce: &str, nc: u32, expires_ms: u64, now_ms: u64) -> bool {
        let shard = &self.shards[(self.hasher.hash_one(nonce) as usize) & (SHARDS - 1)];
        let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(seen) = map.get_mut(nonce) {
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
        if map.len() >= self.per_shard {
            map.retain(|_, s| s.expires_ms > now_ms);
        }
        if map.len() >= self.per_shard {
            let soonest = map
                .iter()
                .min_by_key(|(_, s)| s.expires_ms)
                .map(|(k, _)| k.clone());
            if let Some(k) = soonest {
                map.remove(&k);
            }
        }
        map.insert(nonce.to_string(), Seen { nc, expires_ms });
        true
    }

    /// Forgets nonces expired at `now_ms`.
    pub fn purge(&self, now_ms: u64) {
        for shard in self.shards.iter() {
            shard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|_, s| s.expires_ms > now_ms);
        }
    }

    /// Nonces remembered now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
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
        let t = NonceCounts::new(100);
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
        let t = NonceCounts::new(SHARDS);
        for i in 0..10 * SHARDS {
            assert!(t.advance(&format!("n{i}"), 1, 1000 + i as u64, 0));
        }
        assert!(t.len() <= SHARDS);
    }
}
