//! Counters and histograms with stable names, and the log lines of what
//! the endpoint reports: the shell's side of [`sip_core::Event`].
//!
//! The metrics are those of the `prometheus` crate, whose counters and
//! histograms are atomics (a histogram's `observe` takes no lock; only a
//! scrape does). Every labelled child is resolved once, here, so the
//! request path never looks a label up. Gauges of what the server holds
//! (bindings, AORs, connections) are read from counters their owners keep
//! as changes happen, when a scrape asks ([`Metrics::encode`]).

use location_model::Counts;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use sip_core::abuse::{BlockEvent, BlockReason};
use sip_core::auth::AuthOutcome;
use sip_core::Event;
use sip_message::Method;
use std::time::Duration;

/// The `result` label of a final answer, by status code: `ok` (2xx),
/// `redirect` (3xx), `challenge` (401, 407), `rejected` (other 4xx),
/// `error` (5xx), `declined` (6xx).
pub const RESULTS: [&str; 6] = [
    "ok",
    "redirect",
    "challenge",
    "rejected",
    "error",
    "declined",
];

/// The index in [`RESULTS`] of status `code`.
fn result_of(code: u16) -> usize {
    match code {
        200..=299 => 0,
        300..=399 => 1,
        401 | 407 => 2,
        400..=499 => 3,
        600..=699 => 5,
        _ => 4,
    }
}

/// Upper bounds (seconds) of the latency histograms: 50 µs to 5 s.
const LATENCY_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

/// One counter per [`RESULTS`] value, resolved once.
struct ByResult([IntCounter; 6]);

impl ByResult {
    fn new(registry: &Registry, name: &str, help: &str) -> ByResult {
        let vec = IntCounterVec::new(Opts::new(name, help), &["result"]).expect("valid metric");
        registry
            .register(Box::new(vec.clone()))
            .expect("metric registered once");
        ByResult(RESULTS.map(|r| vec.with_label_values(&[r])))
    }

    fn count(&self, code: u16) {
        self.0[result_of(code)].inc();
    }

    fn get(&self, code_class: usize) -> u64 {
        self.0[code_class].get()
    }
}

/// Every metric of the server, in one registry.
pub struct Metrics {
    registry: Registry,
    register: ByResult,
    register_duration: Histogram,
    store_commit: Histogram,
    proxy: ByResult,
    auth_challenges: IntCounter,
    auth_stale: IntCounter,
    auth_failures: IntCounter,
    auth_replays: IntCounter,
    auth_forbidden: IntCounter,
    abuse_blocks: IntCounter,
    abuse_blocked_requests: IntCounter,
    abuse_throttled_requests: IntCounter,
    malformed: IntCounter,
    bindings: IntGauge,
    aors: IntGauge,
    blocked_sources: IntGauge,
    tcp_connections: IntGauge,
    draining: IntGauge,
    in_flight: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// What the gauges show, read from their owners at a scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// The store's AORs and bindings.
    pub counts: Counts,
    /// Sources the abuse guard blocks now.
    pub blocked_sources: usize,
    /// Open TCP connections.
    pub tcp_connections: usize,
    /// True while the node drains.
    pub draining: bool,
    /// Requests in flight (waiting for the store or a downstream answer).
    pub in_flight: usize,
}

/// The counters as numbers, for `GET /api/v1/stats` and the dashboard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// REGISTER final answers by [`RESULTS`] value.
    pub register: Vec<(&'static str, u64)>,
    /// Routed requests' final answers by [`RESULTS`] value.
    pub proxy: Vec<(&'static str, u64)>,
    /// REGISTERs answered 200 and the sum of their latencies (seconds).
    pub register_latency: (u64, f64),
    /// Every `locus_auth_*` and `locus_abuse_*` counter, by name.
    pub security: Vec<(&'static str, u64)>,
    /// Malformed messages received.
    pub malformed: u64,
}

impl Metrics {
    /// Every metric at zero.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("metric registered once");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("metric registered once");
            g
        };
        let histogram = |name: &str, help: &str| {
            let h = Histogram::with_opts(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
            )
            .expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("metric registered once");
            h
        };
        let tcp_connections = {
            let vec = prometheus::IntGaugeVec::new(
                Opts::new(
                    "locus_transport_connections",
                    "Open stream connections, by transport.",
                ),
                &["transport"],
            )
            .expect("valid metric");
            registry
                .register(Box::new(vec.clone()))
                .expect("metric registered once");
            vec.with_label_values(&["tcp"])
        };
        Metrics {
            register: ByResult::new(
                &registry,
                "locus_register_requests_total",
                "REGISTER requests answered, by result of the final response.",
            ),
            register_duration: histogram(
                "locus_register_duration_seconds",
                "Time from a REGISTER's arrival to its 200 OK leaving, store write included.",
            ),
            store_commit: histogram(
                "locus_store_commit_duration_seconds",
                "Time of one commit of the location store (one group of changes, sync included).",
            ),
            proxy: ByResult::new(
                &registry,
                "locus_proxy_requests_total",
                "Requests routed (proxied or redirected), by result of the final response upstream.",
            ),
            auth_challenges: counter(
                "locus_auth_challenges_total",
                "401 challenges sent to requests without credentials.",
            ),
            auth_stale: counter(
                "locus_auth_stale_total",
                "401 challenges with stale=true (an expired nonce).",
            ),
            auth_failures: counter(
                "locus_auth_failures_total",
                "Failed authentications (wrong credentials, unknown user, foreign nonce).",
            ),
            auth_replays: counter(
                "locus_auth_replays_total",
                "Requests refused for a nonce count already used.",
            ),
            auth_forbidden: counter(
                "locus_auth_forbidden_total",
                "403s: authenticated, but not allowed to register that AOR.",
            ),
            abuse_blocks: counter(
                "locus_abuse_blocks_total",
                "Blocks of a source address started.",
            ),
            abuse_blocked_requests: counter(
                "locus_abuse_blocked_requests_total",
                "Requests from blocked sources (dropped or 403).",
            ),
            abuse_throttled_requests: counter(
                "locus_abuse_throttled_requests_total",
                "Requests dropped by the per-source rate limit.",
            ),
            malformed: counter(
                "locus_malformed_messages_total",
                "Messages that could not be parsed (400, 513 or dropped).",
            ),
            bindings: gauge("locus_bindings", "Bindings in the location store."),
            aors: gauge(
                "locus_aors",
                "Addresses-of-record with at least one binding.",
            ),
            blocked_sources: gauge(
                "locus_abuse_blocked_sources",
                "Source addresses blocked now.",
            ),
            tcp_connections,
            draining: gauge(
                "locus_draining",
                "1 while the node drains (new requests get 503).",
            ),
            in_flight: gauge(
                "locus_requests_in_flight",
                "Requests waiting for the store or a downstream answer.",
            ),
            registry,
        }
    }

    /// The Prometheus text exposition of every metric, gauges set from
    /// `gauges` first.
    pub fn encode(&self, gauges: &Gauges) -> String {
        let set = |g: &IntGauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        set(&self.bindings, gauges.counts.bindings);
        set(&self.aors, gauges.counts.aors);
        set(&self.blocked_sources, gauges.blocked_sources as u64);
        set(&self.tcp_connections, gauges.tcp_connections as u64);
        set(&self.draining, u64::from(gauges.draining));
        set(&self.in_flight, gauges.in_flight as u64);
        let mut out = String::new();
        if let Err(e) =
            prometheus::TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out)
        {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }

    /// The counters as numbers.
    pub fn totals(&self) -> Totals {
        let by = |b: &ByResult| {
            RESULTS
                .iter()
                .enumerate()
                .map(|(i, r)| (*r, b.get(i)))
                .collect()
        };
        Totals {
            register: by(&self.register),
            proxy: by(&self.proxy),
            register_latency: (
                self.register_duration.get_sample_count(),
                self.register_duration.get_sample_sum(),
            ),
            security: self.snapshot(),
            malformed: self.malformed.get(),
        }
    }

    /// `(name, value)` of every `locus_auth_*` and `locus_abuse_*` counter.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("locus_auth_challenges_total", self.auth_challenges.get()),
            ("locus_auth_stale_total", self.auth_stale.get()),
            ("locus_auth_failures_total", self.auth_failures.get()),
            ("locus_auth_replays_total", self.auth_replays.get()),
            ("locus_auth_forbidden_total", self.auth_forbidden.get()),
            ("locus_abuse_blocks_total", self.abuse_blocks.get()),
            (
                "locus_abuse_blocked_requests_total",
                self.abuse_blocked_requests.get(),
            ),
            (
                "locus_abuse_throttled_requests_total",
                self.abuse_throttled_requests.get(),
            ),
        ]
    }

    /// Records one commit of the location store.
    pub(crate) fn committed(&self, took: Duration) {
        self.store_commit.observe(took.as_secs_f64());
    }

    /// Counts and logs one event of the endpoint (`now_ms`: the time it
    /// was reported).
    pub(crate) fn on_event(&self, event: Event, now_ms: u64) {
        match event {
            Event::Answered {
                method: Method::Register,
                code,
                stamp,
            } => {
                self.register.count(code);
                if (200..300).contains(&code) {
                    let micros = crate::stamp_us().saturating_sub(stamp);
                    self.register_duration.observe(micros as f64 / 1e6);
                }
            }
            Event::Answered { .. } => {}
            Event::Routed { code, .. } => self.proxy.count(code),
            Event::Refused { source, outcome } => match outcome {
                AuthOutcome::Challenged => self.auth_challenges.inc(),
                AuthOutcome::Stale => self.auth_stale.inc(),
                AuthOutcome::Failed { username } => {
                    self.auth_failures.inc();
                    tracing::info!(peer = %source, username = ?username, "authentication failed");
                }
                AuthOutcome::Replayed { username } => {
                    self.auth_replays.inc();
                    tracing::info!(peer = %source, username = ?username, "replayed nonce count refused");
                }
                AuthOutcome::Forbidden { identity } => {
                    self.auth_forbidden.inc();
                    tracing::info!(peer = %source, identity = ?identity, "registration of another AOR refused");
                }
            },
            Event::Blocked(block) => {
                self.abuse_blocks.inc();
                log_block(&block, now_ms);
            }
            Event::FromBlocked { .. } => self.abuse_blocked_requests.inc(),
            Event::Throttled { source, first } => {
                self.abuse_throttled_requests.inc();
                if first {
                    tracing::warn!(peer = %source, "request rate limit exceeded: dropping requests from this address");
                }
            }
            Event::Malformed { source, defect } => {
                self.malformed.inc();
                tracing::info!(peer = %source, defect, "malformed message");
            }
            Event::NoVia { source } => {
                self.malformed.inc();
                tracing::info!(peer = %source, "request without a valid Via dropped");
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_follow_the_status_classes() {
        let named = |code| RESULTS[result_of(code)];
        assert_eq!(named(200), "ok");
        assert_eq!(named(302), "redirect");
        assert_eq!(named(401), "challenge");
        assert_eq!(named(407), "challenge");
        assert_eq!(named(403), "rejected");
        assert_eq!(named(423), "rejected");
        assert_eq!(named(500), "error");
        assert_eq!(named(503), "error");
        assert_eq!(named(603), "declined");
    }

    #[test]
    fn the_exposition_names_every_metric_with_its_labels() {
        let m = Metrics::new();
        m.on_event(
            Event::Answered {
                method: Method::Register,
                code: 200,
                stamp: crate::stamp_us(),
            },
            0,
        );
        m.on_event(
            Event::Answered {
                method: Method::Register,
                code: 401,
                stamp: 0,
            },
            0,
        );
        m.committed(Duration::from_micros(1500));
        let text = m.encode(&Gauges {
            counts: Counts {
                aors: 2,
                bindings: 3,
            },
            tcp_connections: 4,
            ..Gauges::default()
        });
        for line in [
            "locus_register_requests_total{result=\"ok\"} 1",
            "locus_register_requests_total{result=\"challenge\"} 1",
            "locus_register_requests_total{result=\"error\"} 0",
            "locus_register_duration_seconds_count 1",
            "locus_store_commit_duration_seconds_count 1",
            "locus_store_commit_duration_seconds_bucket{le=\"0.0025\"} 1",
            "locus_store_commit_duration_seconds_bucket{le=\"0.001\"} 0",
            "locus_proxy_requests_total{result=\"ok\"} 0",
            "locus_bindings 3",
            "locus_aors 2",
            "locus_transport_connections{transport=\"tcp\"} 4",
            "locus_auth_challenges_total 0",
            "locus_abuse_blocks_total 0",
            "# TYPE locus_register_duration_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
