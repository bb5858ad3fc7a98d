//! What the abuse guard blocks now, and the security counters.

use crate::api::tags;
use crate::error::ErrorBody;
use crate::state::Shared;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A blocked source.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Blocked {
    /// Its IP address.
    #[schema(example = "192.0.2.7")]
    source: String,
    /// When the block ends (Unix ms).
    until: u64,
}

/// The blocks and counters.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecurityBody {
    /// The sources blocked now, soonest unblocked first.
    blocked: Vec<Blocked>,
    /// Every `locus_auth_*` and `locus_abuse_*` counter.
    counters: BTreeMap<String, u64>,
}

/// The sources blocked now and the security counters.
#[utoipa::path(get, path = "/api/v1/security", tag = tags::STATS,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Blocks and counters", body = SecurityBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ))]
pub(crate) async fn security(State(app): State<Shared>) -> Json<SecurityBody> {
    let node = &app.ctx.node;
    Json(SecurityBody {
        blocked: node
            .blocked_sources()
            .into_iter()
            .map(|(ip, until)| Blocked {
                source: ip.to_string(),
                until,
            })
            .collect(),
        counters: crate::api::stats::counters(node),
    })
}
