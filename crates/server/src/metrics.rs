//! Counters with stable names, and the log lines of what the endpoint
//! reports: the shell's side of [`sip_core::Event`].

use sip_core::abuse::{BlockEvent, BlockReason};
use sip_core::auth::AuthOutcome;
use sip_core::Event;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters with stable names (exported by the admin API once it exists;
/// logged at shutdown).
#[derive(Debug, Default)]
pub struct Metrics {
    /// 401s sent to requests without credentials.
    pub auth_challenges: AtomicU64,
    /// 401s with `stale=true`.
    pub auth_stale: AtomicU64,
    /// Failed authentications (any reason but replay).
    pub auth_failures: AtomicU64,
    /// Replayed nonce counts.
    pub auth_replays: AtomicU64,
    /// 403s: authenticated but not allowed.
    pub auth_forbidden: AtomicU64,
    /// Blocks started.
    pub abuse_blocks: AtomicU64,
    /// Requests from blocked sources (dropped or 403).
    pub abuse_blocked_requests: AtomicU64,
    /// Requests dropped by the rate limit.
    pub abuse_throttled_requests: AtomicU64,
}

impl Metrics {
    /// `(name, value)` of every counter.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("locus_auth_challenges_total", get(&self.auth_challenges)),
            ("locus_auth_stale_total", get(&self.auth_stale)),
            ("locus_auth_failures_total", get(&self.auth_failures)),
            ("locus_auth_replays_total", get(&self.auth_replays)),
            ("locus_auth_forbidden_total", get(&self.auth_forbidden)),
            ("locus_abuse_blocks_total", get(&self.abuse_blocks)),
            (
                "locus_abuse_blocked_requests_total",
                get(&self.abuse_blocked_requests),
            ),
            (
                "locus_abuse_throttled_requests_total",
                get(&self.abuse_throttled_requests),
            ),
        ]
    }

    fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts and logs one event of the endpoint (`now_ms`: the time it
    /// was reported).
    pub(crate) fn on_event(&self, event: Event, now_ms: u64) {
        match event {
            Event::Refused { source, outcome } => match outcome {
                AuthOutcome::Challenged => Self::inc(&self.auth_challenges),
                AuthOutcome::Stale => Self::inc(&self.auth_stale),
                AuthOutcome::Failed { username } => {
                    Self::inc(&self.auth_failures);
                    tracing::info!(peer = %source, username = ?username, "authentication failed");
                }
                AuthOutcome::Replayed { username } => {
                    Self::inc(&self.auth_replays);
                    tracing::info!(peer = %source, username = ?username, "replayed nonce count refused");
                }
                AuthOutcome::Forbidden { identity } => {
                    Self::inc(&self.auth_forbidden);
                    tracing::info!(peer = %source, identity = ?identity, "registration of another AOR refused");
                }
            },
            Event::Blocked(block) => {
                Self::inc(&self.abuse_blocks);
                log_block(&block, now_ms);
            }
            Event::FromBlocked { .. } => Self::inc(&self.abuse_blocked_requests),
            Event::Throttled { source, first } => {
                Self::inc(&self.abuse_throttled_requests);
                if first {
                    tracing::warn!(peer = %source, "request rate limit exceeded: dropping requests from this address");
                }
            }
            Event::Malformed { source, defect } => {
                tracing::info!(peer = %source, defect, "malformed message");
            }
            Event::NoVia { source } => {
                tracing::info!(peer = %source, "request without a valid Via dropped");
            }
            // Counted and timed once the metrics registry exists.
            Event::Answered { .. } | Event::Routed { .. } => {}
            Event::StrayResponse => tracing::debug!("response not for one of our branches dropped"),
            Event::StoreFailed { aor, error } => {
                tracing::error!(aor = %aor, error = %error, "location store operation failed");
            }
        }
    }
}

fn log_block(ev: &BlockEvent, now_ms: u64) {
    let why = match ev.reason {
        BlockReason::SourceFailures => "too many failed authentications from this address",
        BlockReason::UserFailures => "too many failed authentications for the user name it tried",
    };
    tracing::warn!(
        source = %ev.source,
        seconds = ev.until_ms.saturating_sub(now_ms) / 1000,
        reason = why,
        "source blocked"
    );
}
