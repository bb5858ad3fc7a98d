//! Brute-force and flood control, built in: per-source and per-username
//! failure counters over a sliding window that block the offending source
//! for a while, and a per-source request rate limit (like Kamailio's pike)
//! so one noisy peer is throttled while others keep being served.
//!
//! Sans-IO: the shell asks [`AbuseGuard::admit`] before handling a request
//! and reports failed authentications with [`AbuseGuard::record_failure`];
//! time is an input. Memory is bounded: each table has a fixed capacity,
//! and when it is full new sources are not tracked (for the rate limit) or
//! the oldest entry is dropped (for failures).

mod window;

use crate::rng::Rng;
use crate::transaction::KeyHasher;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use window::{EventWindow, RateWindow};

/// Shards per table (a power of two).
const SHARDS: usize = 64;

/// What is done with requests from a blocked source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockAction {
    /// Dropped without an answer (the default: a scanner learns nothing).
    Drop,
    /// Answered with 403 Forbidden.
    Forbidden,
}

/// Limits of the guard. A limit of 0 turns that check off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbuseConfig {
    /// Failed authentications from one source address within
    /// `failure_window_ms` that get it blocked.
    pub source_failure_limit: u32,
    /// Failed authentications for one user name (from any source) within
    /// `failure_window_ms`; past it, every source failing for that name is
    /// blocked at its next failure. The account itself is never locked.
    pub user_failure_limit: u32,
    /// The sliding window of the failure counters, ms.
    pub failure_window_ms: u64,
    /// How long a source stays blocked, ms.
    pub block_ms: u64,
    /// What blocked sources get.
    pub block_action: BlockAction,
    /// Requests one source address may send within `rate_window_ms`;
    /// more are dropped until its rate falls below.
    pub rate_limit: u32,
    /// The window of the rate limit, ms.
    pub rate_window_ms: u64,
    /// About how many source addresses and user names are tracked at once.
    pub capacity: usize,
}

impl Default for AbuseConfig {
    fn default() -> Self {
        AbuseConfig {
            source_failure_limit: 10,
            user_failure_limit: 20,
            failure_window_ms: 60_000,
            block_ms: 600_000,
            block_action: BlockAction::Drop,
            rate_limit: 500,
            rate_window_ms: 2_000,
            capacity: 262_144,
        }
    }
}

/// The decision for one incoming request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handle it.
    Admit,
    /// The source is blocked: drop it or answer 403.
    Blocked(BlockAction),
    /// The source exceeds the rate limit: drop it. `first` is true for the
    /// first request of a throttling episode (log once).
    Throttled {
        /// First dropped request since the source was last within its rate.
        first: bool,
    },
}

/// Why a source was blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockReason {
    /// Too many failures from this source.
    SourceFailures,
    /// Too many failures for the user name it tried.
    UserFailures,
}

/// A block that has just started (reported once, for the log and metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEvent {
    /// The blocked address.
    pub source: IpAddr,
    /// When the block ends (Unix ms).
    pub until_ms: u64,
    /// Why.
    pub reason: BlockReason,
}

#[derive(Debug, Default)]
struct Source {
    failures: EventWindow,
    blocked_until_ms: u64,
    rate: RateWindow,
    throttled: bool,
}

/// The guard (see the module documentation).
#[derive(Debug)]
pub struct AbuseGuard {
    cfg: AbuseConfig,
    sources: Arc<[Mutex<HashMap<IpAddr, Source, KeyHasher>>]>,
    users: Arc<[Mutex<HashMap<String, EventWindow, KeyHasher>>]>,
    per_shard: usize,
    blocked: Arc<AtomicUsize>,
    hasher: KeyHasher,
}

impl AbuseGuard {
    /// A guard with these limits, its hashes keyed from `rng` (addresses
    /// and user names come from the network).
    pub fn new(cfg: AbuseConfig, rng: &mut Rng) -> AbuseGuard {
        AbuseGuard {
            per_shard: cfg.capacity.div_ceil(SHARDS).max(1),
            cfg,
            sources: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(rng.hasher())))
                .collect(),
            users: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(rng.hasher())))
                .collect(),
            blocked: Arc::new(AtomicUsize::new(0)),
            hasher: rng.hasher(),
        }
    }

    /// A guard with the limits `cfg` that shares this one's state (its
    /// windows, failure counts and blocks): what a reload installs, so a
    /// blocked source stays blocked.
    pub fn reconfigured(&self, cfg: AbuseConfig) -> AbuseGuard {
        AbuseGuard {
            per_shard: cfg.capacity.div_ceil(SHARDS).max(1),
            cfg,
            sources: self.sources.clone(),
            users: self.users.clone(),
            blocked: self.blocked.clone(),
            hasher: self.hasher.clone(),
        }
    }

    /// The limits.
    pub fn config(&self) -> &AbuseConfig {
        &self.cfg
    }

    fn shard_of<K: Hash + ?Sized>(&self, key: &K) -> usize {
        (self.hasher.hash_one(key) as usize) & (SHARDS - 1)
    }

    /// Whether to handle a request from `source` at `now_ms`. Without a
    /// rate limit and with no source blocked, no lock is taken.
    pub fn admit(&self, source: IpAddr, now_ms: u64) -> Admission {
        if self.cfg.rate_limit == 0 && self.blocked.load(Ordering::Relaxed) == 0 {
            return Admission::Admit;
        }
        let mut map = self.sources[self.shard_of(&source)]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let state = match map.get_mut(&source) {
            Some(s) => s,
            None if self.cfg.rate_limit == 0 => return Admission::Admit,
            None => {
                if map.len() >= self.per_shard {
                    self.sweep(&mut map, now_ms);
                    if map.len() >= self.per_shard {
                        // Full of live entries: do not track newcomers.
                        return Admission::Admit;
                    }
                }
                map.entry(source).or_default()
            }
        };
        if state.blocked_until_ms != 0 {
            if now_ms < state.blocked_until_ms {
                return Admission::Blocked(self.cfg.block_action);
            }
            state.blocked_until_ms = 0;
            self.blocked.fetch_sub(1, Ordering::Relaxed);
        }
        if self.cfg.rate_limit > 0 {
            let rate = state.rate.hit(now_ms, self.cfg.rate_window_ms);
            if rate > u64::from(self.cfg.rate_limit) {
                let first = !state.throttled;
                state.throttled = true;
                return Admission::Throttled { first };
            }
            state.throttled = false;
        }
        Admission::Admit
    }

    /// Records a failed authentication from `source` claiming `username`;
    /// returns the block it starts, if it starts one.
    pub fn record_failure(
        &self,
        source: IpAddr,
        username: Option<&str>,
        now_ms: u64,
    ) -> Option<BlockEvent> {
        let window = self.cfg.failure_window_ms;
        let user_over = match username {
            Some(name) if self.cfg.user_failure_limit > 0 => {
                let mut users = self.users[self.shard_of(name)]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if !users.contains_key(name) && users.len() >= self.per_shard {
                    users.retain(|_, w| {
                        w.forget_before(now_ms.saturating_sub(window));
                        !w.is_empty()
                    });
                }
                if users.contains_key(name) || users.len() < self.per_shard {
                    users.entry(name.to_string()).or_default().record(
                        now_ms,
                        window,
                        self.cfg.user_failure_limit,
                    )
                } else {
                    false
                }
            }
            _ => false,
        };
        let mut map = self.sources[self.shard_of(&source)]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(&source) && map.len() >= self.per_shard {
            self.sweep(&mut map, now_ms);
            if map.len() >= self.per_shard {
                // Make room: drop the entry blocked for the shortest time.
                let victim = map
                    .iter()
                    .min_by_key(|(_, s)| s.blocked_until_ms)
                    .map(|(k, _)| *k);
                if let Some(v) = victim {
                    if map.remove(&v).is_some_and(|s| s.blocked_until_ms != 0) {
                        self.blocked.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
        }
        let state = map.entry(source).or_default();
        if state.blocked_until_ms > now_ms {
            return None;
        }
        let source_over = self.cfg.source_failure_limit > 0
            && state
                .failures
                .record(now_ms, window, self.cfg.source_failure_limit);
        let reason = if source_over {
            BlockReason::SourceFailures
        } else if user_over {
            BlockReason::UserFailures
        } else {
            return None;
        };
        if state.blocked_until_ms == 0 {
            self.blocked.fetch_add(1, Ordering::Relaxed);
        }
        state.blocked_until_ms = now_ms.saturating_add(self.cfg.block_ms).max(1);
        state.failures.clear();
        Some(BlockEvent {
            source,
            until_ms: state.blocked_until_ms,
            reason,
        })
    }

    /// Forgets what no longer matters at `now_ms` (ended blocks, old
    /// failures, idle rates). Call now and then (the shell's timer does).
    pub fn purge(&self, now_ms: u64) {
        for shard in self.sources.iter() {
            let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
            self.sweep(&mut map, now_ms);
        }
        let cutoff = now_ms.saturating_sub(self.cfg.failure_window_ms);
        for shard in self.users.iter() {
            shard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|_, w| {
                    w.forget_before(cutoff);
                    !w.is_empty()
                });
        }
    }

    /// Number of source addresses blocked now (ended blocks are counted
    /// until the source's next request or the next purge).
    pub fn blocked_sources(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// The sources blocked at `now_ms` and when each block ends (Unix ms),
    /// soonest end first: for operators (a walk of every shard, never on
    /// the request path).
    pub fn blocked_list(&self, now_ms: u64) -> Vec<(IpAddr, u64)> {
        let mut out: Vec<(IpAddr, u64)> = Vec::new();
        for shard in self.sources.iter() {
            let map = shard.lock().unwrap_or_else(PoisonError::into_inner);
            out.extend(
                map.iter()
                    .filter(|(_, s)| s.blocked_until_ms > now_ms)
                    .map(|(ip, s)| (*ip, s.blocked_until_ms)),
            );
        }
        out.sort_by_key(|&(ip, until)| (until, ip));
        out
    }

    fn sweep(&self, map: &mut HashMap<IpAddr, Source, KeyHasher>, now_ms: u64) {
        let cutoff = now_ms.saturating_sub(self.cfg.failure_window_ms);
        let rate_window = self.cfg.rate_window_ms;
        map.retain(|_, s| {
            if s.blocked_until_ms != 0 && s.blocked_until_ms <= now_ms {
                s.blocked_until_ms = 0;
                self.blocked.fetch_sub(1, Ordering::Relaxed);
            }
            s.failures.forget_before(cutoff);
            s.blocked_until_ms != 0 || !s.failures.is_empty() || !s.rate.idle(now_ms, rate_window)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn cfg() -> AbuseConfig {
        AbuseConfig {
            source_failure_limit: 3,
            user_failure_limit: 5,
            failure_window_ms: 1000,
            block_ms: 10_000,
            block_action: BlockAction::Drop,
            rate_limit: 0,
            rate_window_ms: 1000,
            capacity: 1024,
        }
    }

    #[test]
    fn a_reconfigured_guard_keeps_blocks_and_counts_and_applies_new_limits() {
        let g = AbuseGuard::new(cfg(), &mut Rng::new(1));
        for t in 0..3 {
            g.record_failure(ip(1), None, t);
        }
        g.record_failure(ip(2), None, 0);
        let looser = AbuseConfig {
            source_failure_limit: 2,
            ..cfg()
        };
        let r = g.reconfigured(looser);
        assert_eq!(r.blocked_sources(), 1);
        assert_eq!(r.blocked_list(100), vec![(ip(1), 10_002)]);
        assert_eq!(r.admit(ip(1), 100), Admission::Blocked(BlockAction::Drop));
        // ip(2) had one failure before the reload; the new limit is two.
        assert!(r.record_failure(ip(2), None, 10).is_some());
        assert_eq!(r.config().source_failure_limit, 2);
    }

    #[test]
    fn source_blocked_after_limit_then_released() {
        let g = AbuseGuard::new(cfg(), &mut Rng::new(1));
        assert_eq!(g.record_failure(ip(1), Some("alice"), 0), None);
        assert_eq!(g.record_failure(ip(1), Some("alice"), 10), None);
        let ev = g.record_failure(ip(1), Some("alice"), 20).unwrap();
        assert_eq!(ev.reason, BlockReason::SourceFailures);
        assert_eq!(ev.until_ms, 10_020);
        // Logged once: further failures while blocked start nothing.
        assert_eq!(g.record_failure(ip(1), None, 30), None);
        assert_eq!(g.admit(ip(1), 100), Admission::Blocked(BlockAction::Drop));
        assert_eq!(g.admit(ip(2), 100), Admission::Admit);
        assert_eq!(g.blocked_sources(), 1);
        assert_eq!(g.admit(ip(1), 10_020), Admission::Admit);
        assert_eq!(g.blocked_sources(), 0);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let g = AbuseGuard::new(cfg(), &mut Rng::new(1));
        for t in [0, 600, 1200, 1800, 2400] {
            assert_eq!(g.record_failure(ip(1), None, t), None);
        }
    }

    #[test]
    fn a_username_under_attack_blocks_each_failing_source() {
        let g = AbuseGuard::new(cfg(), &mut Rng::new(1));
        for i in 0..4 {
            assert_eq!(g.record_failure(ip(10 + i), Some("alice"), 0), None);
        }
        let ev = g.record_failure(ip(20), Some("alice"), 1).unwrap();
        assert_eq!(ev.reason, BlockReason::UserFailures);
        let ev = g.record_failure(ip(21), Some("alice"), 2).unwrap();
        assert_eq!(ev.source, ip(21));
        // Other names from fresh sources are unaffected.
        assert_eq!(g.record_failure(ip(22), Some("bob"), 2), None);
        g.purge(5000);
        assert_eq!(g.record_failure(ip(23), Some("alice"), 5000), None);
    }

    #[test]
    fn rate_limit_throttles_one_source_only() {
        let g = AbuseGuard::new(
            AbuseConfig {
                rate_limit: 5,
                ..cfg()
            },
            &mut Rng::new(1),
        );
        for t in 0..5 {
            assert_eq!(g.admit(ip(1), 1000 + t), Admission::Admit);
        }
        assert_eq!(g.admit(ip(1), 1005), Admission::Throttled { first: true });
        assert_eq!(g.admit(ip(1), 1006), Admission::Throttled { first: false });
        assert_eq!(g.admit(ip(2), 1006), Admission::Admit);
        // After two quiet windows the source is welcome again.
        assert_eq!(g.admit(ip(1), 4000), Admission::Admit);
        g.purge(10_000);
    }

    #[test]
    fn forbidden_action_and_bounded_memory() {
        let g = AbuseGuard::new(
            AbuseConfig {
                block_action: BlockAction::Forbidden,
                source_failure_limit: 1,
                capacity: SHARDS,
                ..cfg()
            },
            &mut Rng::new(1),
        );
        for i in 0..=255u8 {
            g.record_failure(ip(i), Some(&format!("u{i}")), 0);
        }
        let tracked: usize = g.sources.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(tracked <= SHARDS, "{tracked}");
        assert!(g.blocked_sources() <= SHARDS);
        assert_eq!(
            g.admit(ip(255), 1),
            Admission::Blocked(BlockAction::Forbidden)
        );
    }
}
