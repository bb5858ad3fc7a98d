//! Counting events over a sliding window of time.

use std::collections::VecDeque;

/// The instants of recent events, at most `limit` of them: enough to tell
/// whether `limit` events happened within a window.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventWindow {
    times: VecDeque<u64>,
}

impl EventWindow {
    /// Records an event at `now_ms`; true when this makes `limit` events
    /// within the last `window_ms`.
    pub(crate) fn record(&mut self, now_ms: u64, window_ms: u64, limit: u32) -> bool {
        self.forget_before(now_ms.saturating_sub(window_ms));
        self.times.push_back(now_ms);
        while self.times.len() > limit as usize {
            self.times.pop_front();
        }
        limit > 0 && self.times.len() >= limit as usize
    }

    /// Drops events older than `cutoff_ms`.
    pub(crate) fn forget_before(&mut self, cutoff_ms: u64) {
        while self.times.front().is_some_and(|&t| t < cutoff_ms) {
            self.times.pop_front();
        }
    }

    /// True when no event is remembered.
    pub(crate) fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.times.clear();
    }
}

/// A request rate estimate over a sliding window, as Kamailio's pike does
/// it cheaply: the count of the current fixed window plus the previous
/// window's count weighted by how much of it still overlaps.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RateWindow {
    start_ms: u64,
    current: u32,
    previous: u32,
}

impl RateWindow {
    /// Counts a request at `now_ms`; returns the estimated number of
    /// requests in the last `window_ms` (this one included).
    pub(crate) fn hit(&mut self, now_ms: u64, window_ms: u64) -> u64 {
        let window_ms = window_ms.max(1);
        let elapsed = now_ms.saturating_sub(self.start_ms);
        if elapsed >= 2 * window_ms {
            self.previous = 0;
            self.current = 0;
            self.start_ms = now_ms - now_ms % window_ms;
        } else if elapsed >= window_ms {
            self.previous = self.current;
            self.current = 0;
            self.start_ms += window_ms;
        }
        self.current = self.current.saturating_add(1);
        let into = now_ms.saturating_sub(self.start_ms).min(window_ms);
        let weight = window_ms - into;
        u64::from(self.previous) * weight / window_ms + u64::from(self.current)
    }

    /// True when nothing was counted within the last two windows.
    pub(crate) fn idle(&self, now_ms: u64, window_ms: u64) -> bool {
        now_ms.saturating_sub(self.start_ms) >= 2 * window_ms.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_window_slides() {
        let mut w = EventWindow::default();
        assert!(!w.record(0, 100, 3));
        assert!(!w.record(10, 100, 3));
        assert!(w.record(20, 100, 3));
        w.clear();
        assert!(!w.record(200, 100, 3));
        assert!(!w.record(250, 100, 3));
        // The event at 200 left the window.
        assert!(!w.record(301, 100, 3));
        assert!(w.record(302, 100, 3));
        w.forget_before(1000);
        assert!(w.is_empty());
        assert!(!EventWindow::default().record(0, 100, 0));
    }

    #[test]
    fn rate_window_estimates() {
        let mut r = RateWindow::default();
        for i in 0..10 {
            assert_eq!(r.hit(1000 + i, 1000), i + 1);
        }
        // Half-way into the next window, half of the previous still counts.
        assert_eq!(r.hit(2500, 1000), 5 + 1);
        assert!(!r.idle(2500, 1000));
        assert!(r.idle(4000, 1000));
        assert_eq!(r.hit(10_000, 1000), 1);
    }
}
