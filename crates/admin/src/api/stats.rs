//! The numbers of the running node (counters, gauges, the store's health)
//! and the last ten minutes of them.

use crate::api::tags;
use crate::error::ErrorBody;
use crate::history::{Sample, INTERVAL};
use crate::state::Shared;
use crate::store_call::call;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Final answers by result (of the status class).
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct ByResult {
    /// 2xx.
    ok: u64,
    /// 3xx.
    redirect: u64,
    /// 401 and 407.
    challenge: u64,
    /// Other 4xx.
    rejected: u64,
    /// 5xx.
    error: u64,
    /// 6xx.
    declined: u64,
}

impl ByResult {
    fn of(counts: &[(&'static str, u64)]) -> ByResult {
        let mut r = ByResult::default();
        for (name, n) in counts {
            let slot = match *name {
                "ok" => &mut r.ok,
                "redirect" => &mut r.redirect,
                "challenge" => &mut r.challenge,
                "rejected" => &mut r.rejected,
                "error" => &mut r.error,
                _ => &mut r.declined,
            };
            *slot += n;
        }
        r
    }
}

/// REGISTERs answered 200 and the sum of their latencies.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Latency {
    /// How many.
    count: u64,
    /// Their latencies added up (seconds).
    sum_seconds: f64,
}

/// Whether the location store can take changes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StoreHealth {
    /// True when it can.
    healthy: bool,
    /// Why not.
    error: Option<String>,
}

/// The numbers of the node.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Stats {
    /// The version of locus.
    #[schema(example = "0.1.0")]
    version: &'static str,
    /// Seconds since the node started serving.
    uptime_seconds: u64,
    /// True while draining.
    draining: bool,
    /// Requests in flight.
    in_flight: u64,
    /// Bindings held.
    bindings: u64,
    /// AORs with at least one binding.
    aors: u64,
    /// Open TCP connections.
    tcp_connections: u64,
    /// Sources blocked now.
    blocked_sources: u64,
    /// REGISTER final answers.
    register: ByResult,
    /// Final answers of routed requests.
    proxy: ByResult,
    /// Latency of REGISTERs answered 200.
    register_latency: Latency,
    /// Every `locus_auth_*` and `locus_abuse_*` counter.
    security: BTreeMap<String, u64>,
    /// Messages that could not be parsed.
    malformed: u64,
    /// The location store.
    store: StoreHealth,
    /// The SIP listeners (`udp:IP:PORT`, `tcp:IP:PORT`).
    listeners: Vec<String>,
}

/// The security counters by name.
pub(crate) fn counters(node: &server::Node) -> BTreeMap<String, u64> {
    node.metrics()
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The numbers of the node now.
#[utoipa::path(get, path = "/api/v1/stats", tag = tags::STATS,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The numbers", body = Stats),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ))]
pub(crate) async fn stats(State(app): State<Shared>) -> Json<Stats> {
    let node = &app.ctx.node;
    let store = node.store().clone();
    let health = match call(|done| store.probe(done)).await {
        Ok(Ok(())) => StoreHealth {
            healthy: true,
            error: None,
        },
        Ok(Err(e)) => StoreHealth {
            healthy: false,
            error: Some(e.to_string()),
        },
        Err(e) => StoreHealth {
            healthy: false,
            error: Some(e.message().to_owned()),
        },
    };
    let gauges = node.gauges();
    let totals = node.metrics().totals();
    Json(Stats {
        version: app.ctx.version,
        uptime_seconds: node.uptime().as_secs(),
        draining: gauges.draining,
        in_flight: gauges.in_flight as u64,
        bindings: gauges.counts.bindings,
        aors: gauges.counts.aors,
        tcp_connections: gauges.tcp_connections as u64,
        blocked_sources: gauges.blocked_sources as u64,
        register: ByResult::of(&totals.register),
        proxy: ByResult::of(&totals.proxy),
        register_latency: Latency {
            count: totals.register_latency.0,
            sum_seconds: totals.register_latency.1,
        },
        security: counters(node),
        malformed: totals.malformed,
        store: health,
        listeners: node.listeners().iter().map(ToString::to_string).collect(),
    })
}

/// The samples of the last ten minutes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryBody {
    /// Seconds between samples.
    #[schema(example = 2)]
    interval_seconds: u64,
    /// Oldest first: counts are of their interval, gauges at its end.
    samples: Vec<Sample>,
}

/// The last ten minutes, a sample every two seconds.
#[utoipa::path(get, path = "/api/v1/stats/history", tag = tags::STATS,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The samples", body = HistoryBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ))]
pub(crate) async fn history(State(app): State<Shared>) -> Json<HistoryBody> {
    Json(HistoryBody {
        interval_seconds: INTERVAL.as_secs(),
        samples: app.history.samples(),
    })
}
