//! The timers of RFC 3261 §17 (with RFC 6026's Timers L and M), defined
//! once for every transaction of locus, and the queue their deadlines wait
//! in.

use std::collections::VecDeque;

/// T1: the round-trip time estimate.
pub const T1_MS: u64 = 500;
/// T2: the longest retransmit interval for non-INVITE requests and INVITE
/// responses.
pub const T2_MS: u64 = 4_000;
/// T4: how long a message may remain in the network.
pub const T4_MS: u64 = 5_000;
/// Timer B: an INVITE client transaction times out (64*T1).
pub const TIMER_B_MS: u64 = 64 * T1_MS;
/// Timer D: how long an INVITE client transaction keeps absorbing
/// retransmitted final responses over an unreliable transport (at least
/// 32 s).
pub const TIMER_D_MS: u64 = 32_000;
/// Timer F: a non-INVITE client transaction times out (64*T1).
pub const TIMER_F_MS: u64 = 64 * T1_MS;
/// Timer H: an INVITE server transaction gives up waiting for the ACK of
/// its non-2xx final response (64*T1).
pub const TIMER_H_MS: u64 = 64 * T1_MS;
/// Timer I: an INVITE server transaction absorbs ACK retransmissions over
/// an unreliable transport (T4).
pub const TIMER_I_MS: u64 = T4_MS;
/// Timer J: a non-INVITE server transaction keeps its final response for
/// retransmissions over an unreliable transport (64*T1).
pub const TIMER_J_MS: u64 = 64 * T1_MS;
/// Timer K: a non-INVITE client transaction absorbs retransmitted final
/// responses over an unreliable transport (T4).
pub const TIMER_K_MS: u64 = T4_MS;
/// Timer L (RFC 6026): an INVITE server transaction that sent a 2xx stays
/// in Accepted to absorb INVITE retransmissions (64*T1).
pub const TIMER_L_MS: u64 = 64 * T1_MS;
/// Timer M (RFC 6026): an INVITE client transaction that received a 2xx
/// stays in Accepted to pass later 2xx responses on (64*T1).
pub const TIMER_M_MS: u64 = 64 * T1_MS;

/// Deadlines of many entities, each armed as "now plus one of a handful of
/// durations" (the timers above, doubling retransmit intervals, Timer C):
/// every distinct duration gets a FIFO lane whose deadlines come in time
/// order, so arming and expiring are O(1) instead of a sorted index.
///
/// The queue holds `(deadline, key)` pairs and knows nothing of the
/// entities. Its owner queues each timer when it is set (so a lane's
/// deadlines are in order: each is its push time plus the lane's
/// duration); when a pair comes up the entity runs whatever of its timers
/// is due, so a pair left over from a timer since moved or cleared does
/// nothing.
#[derive(Debug)]
pub struct TimerQueue<K> {
    lanes: Vec<Lane<K>>,
}

#[derive(Debug)]
struct Lane<K> {
    duration: u64,
    queue: VecDeque<(u64, K)>,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue { lanes: Vec::new() }
    }
}

impl<K> TimerQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `key` to be due at `deadline`, armed at `now_ms`.
    pub fn arm(&mut self, now_ms: u64, deadline: u64, key: K) {
        let duration = deadline.saturating_sub(now_ms);
        let lane = match self.lanes.iter_mut().position(|l| l.duration == duration) {
            Some(i) => &mut self.lanes[i],
            None => {
                self.lanes.push(Lane {
                    duration,
                    queue: VecDeque::new(),
                });
                let last = self.lanes.len() - 1;
                &mut self.lanes[last]
            }
        };
        lane.queue.push_back((deadline, key));
    }

    /// The earliest queued deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        self.lanes
            .iter()
            .filter_map(|l| l.queue.front().map(|(t, _)| *t))
            .min()
    }

    /// Removes and returns an entry due at `now_ms`, if any. An entry
    /// further in the future than its lane's duration was armed before the
    /// clock stepped back, and counts as due, so it does not hold up the
    /// entries queued behind it.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<(u64, K)> {
        let due = |l: &Lane<K>| {
            l.queue
                .front()
                .is_some_and(|(t, _)| *t <= now_ms || *t > now_ms.saturating_add(l.duration))
        };
        let lane = self.lanes.iter_mut().find(|l| due(l))?;
        lane.queue.pop_front()
    }

    /// Number of queued entries (stale ones included).
    pub fn len(&self) -> usize {
        self.lanes.iter().map(|l| l.queue.len()).sum()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.lanes.iter().all(|l| l.queue.is_empty())
    }

    /// Gives back the memory of a burst: each lane shrinks to twice its
    /// length once less than a quarter of its capacity is in use, and
    /// empty lanes of durations no longer armed go away.
    pub fn shrink(&mut self) {
        for lane in &mut self.lanes {
            if lane.queue.len() < lane.queue.capacity() / 4 {
                lane.queue.shrink_to(lane.queue.len() * 2);
            }
        }
        self.lanes
            .retain(|l| !l.queue.is_empty() || l.queue.capacity() > 0);
    }

    /// The capacity of every lane together (for tests of [`TimerQueue::shrink`]).
    pub fn capacity(&self) -> usize {
        self.lanes.iter().map(|l| l.queue.capacity()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_64_t1_and_t4_as_rfc_3261_says() {
        assert_eq!(TIMER_J_MS, 32_000);
        assert_eq!(TIMER_B_MS, TIMER_F_MS);
        assert_eq!(TIMER_H_MS, TIMER_J_MS);
        assert_eq!(TIMER_I_MS, T4_MS);
        assert_eq!(TIMER_K_MS, T4_MS);
        assert_eq!(TIMER_D_MS, 32_000);
    }

    #[test]
    fn entries_of_all_lanes_come_out_in_deadline_order() {
        let mut q = TimerQueue::new();
        q.arm(0, 500, "a");
        q.arm(0, 32_000, "j");
        q.arm(100, 600, "b");
        q.arm(100, 1_100, "c");
        assert_eq!(q.next_deadline(), Some(500));
        assert_eq!(q.pop_due(499), None);
        let mut out = Vec::new();
        while let Some((t, k)) = q.pop_due(40_000) {
            out.push((t, k));
        }
        out.sort();
        assert_eq!(out, [(500, "a"), (600, "b"), (1_100, "c"), (32_000, "j")]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_clock_step_back_does_not_hold_later_timers() {
        let mut q = TimerQueue::new();
        q.arm(10_000_000, 10_032_000, 1);
        q.arm(1_000, 33_000, 2);
        // The first entry looks 10,000 s away from the stepped-back clock:
        // it is due, and the second behind it comes out too.
        assert_eq!(q.pop_due(33_000).map(|(_, k)| k), Some(1));
        assert_eq!(q.pop_due(33_000).map(|(_, k)| k), Some(2));
    }

    #[test]
    fn memory_of_a_burst_is_given_back() {
        let mut q = TimerQueue::new();
        for i in 0..1000 {
            q.arm(0, 32_000, i);
        }
        while q.pop_due(32_000).is_some() {}
        q.shrink();
        assert!(q.capacity() < 1000);
    }
}
