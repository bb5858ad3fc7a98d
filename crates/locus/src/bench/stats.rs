//! What one worker counted, merged into the run's figures.

use hdrhistogram::Histogram;
use sip_core::client::Failure;
use std::collections::BTreeMap;
use std::time::Instant;

/// Longest latency the histogram holds exactly, in µs (larger values are
/// recorded as this); far above any timeout worth using.
const HIST_MAX_US: u64 = 3_600_000_000;

/// The kind of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// A registration with a new Call-ID.
    Register = 0,
    /// A re-registration on the Call-ID of an earlier success.
    Refresh = 1,
    /// `expires=0` for our contact.
    Remove = 2,
}

/// Counters of one worker (or, merged, of the run).
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latency of each success, first request sent to final 2xx, in µs.
    pub hist: Histogram<u64>,
    /// Operations started.
    pub started: u64,
    /// Operations that ended with a 2xx.
    pub successes: u64,
    /// Successes per [`OpKind`].
    pub by_kind: [u64; 3],
    /// Failures by status code or cause (`timeout`, `transport`, ...).
    pub failures: BTreeMap<String, u64>,
    /// Operations without a final response (Timer F, `--timeout`, or still
    /// outstanding when the drain ended); included in `failures["timeout"]`.
    pub timeouts: u64,
    /// Of those, the ones still outstanding when the drain ended.
    pub unanswered: u64,
    /// UDP retransmissions sent (Timer E).
    pub retransmissions: u64,
    /// Received messages that matched no outstanding request.
    pub stray: u64,
    /// When the last operation ended.
    pub last_end: Option<Instant>,
    /// The first transport error (a UDP send refused, e.g. ICMP port
    /// unreachable; the TCP connection lost, which stops the worker).
    pub transport_error: Option<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            hist: Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds"),
            started: 0,
            successes: 0,
            by_kind: [0; 3],
            failures: BTreeMap::new(),
            timeouts: 0,
            unanswered: 0,
            retransmissions: 0,
            stray: 0,
            last_end: None,
            transport_error: None,
        }
    }
}

impl Stats {
    /// Operations that ended, successfully or not.
    pub fn ended(&self) -> u64 {
        self.successes + self.failed()
    }

    /// Operations that failed (timeouts included).
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Records a success of `kind` after `latency_us`.
    pub fn success(&mut self, kind: OpKind, latency_us: u64, now: Instant) {
        self.successes += 1;
        self.by_kind[kind as usize] += 1;
        self.hist.saturating_record(latency_us.max(1));
        self.last_end = Some(now);
    }

    /// Records a failure under `key`.
    pub fn failure(&mut self, key: String, now: Instant) {
        if key == "timeout" {
            self.timeouts += 1;
        }
        *self.failures.entry(key).or_insert(0) += 1;
        self.last_end = Some(now);
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        let _ = self.hist.add(&other.hist);
        self.started += other.started;
        self.successes += other.successes;
        for (a, b) in self.by_kind.iter_mut().zip(other.by_kind) {
            *a += b;
        }
        for (k, v) in &other.failures {
            *self.failures.entry(k.clone()).or_insert(0) += v;
        }
        self.timeouts += other.timeouts;
        self.unanswered += other.unanswered;
        self.retransmissions += other.retransmissions;
        self.stray += other.stray;
        self.last_end = match (self.last_end, other.last_end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if self.transport_error.is_none() {
            self.transport_error.clone_from(&other.transport_error);
        }
    }
}

/// The key a failure is counted under: the status code, or the cause.
pub fn failure_key(f: &Failure) -> String {
    match f {
        Failure::Status { code, .. } => code.to_string(),
        Failure::Timeout => "timeout".into(),
        Failure::Transport(_) => "transport".into(),
        Failure::NoCredentials { code } => format!("{code} (no --password)"),
        Failure::AuthenticationFailed { code, .. } => format!("{code} (credentials refused)"),
        Failure::UnsupportedChallenge { code } => format!("{code} (unsupported challenge)"),
        Failure::IntervalTooBrief { .. } => "423".into(),
        Failure::BadRedirect(_) => "3xx".into(),
    }
}
