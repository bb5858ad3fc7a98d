//! Draining for a rolling restart: new SIP requests get 503 with
//! Retry-After (and `/readyz` 503) while those in flight finish; undrain
//! serves again.

use crate::api::tags;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// The longest wait a drain may ask for (seconds).
const MAX_WAIT: u64 = 300;

/// Where draining stands.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DrainStatus {
    /// True while draining.
    draining: bool,
    /// Requests in flight.
    in_flight: u64,
    /// True when nothing is in flight.
    drained: bool,
}

fn status(node: &server::Node) -> DrainStatus {
    let in_flight = node.in_flight() as u64;
    DrainStatus {
        draining: node.draining(),
        in_flight,
        drained: in_flight == 0,
    }
}

/// How long to wait for the requests in flight.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DrainParams {
    /// Wait until nothing is in flight, at most this many seconds (0 to 300).
    #[param(minimum = 0, maximum = 300)]
    wait: Option<u64>,
}

/// Starts draining.
#[utoipa::path(post, path = "/api/v1/drain", tag = tags::CONTROL, params(DrainParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Draining, and waited (`drained` says whether nothing is left)", body = DrainStatus),
        (status = 202, description = "Draining (no wait asked)", body = DrainStatus),
        (status = 400, description = "A bad query (wait over 300)", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A cookie request without the CSRF token", body = ErrorBody),
    ))]
pub(crate) async fn start(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<DrainParams>,
) -> Result<Response, ApiError> {
    if q.wait.is_some_and(|w| w > MAX_WAIT) {
        return Err(ApiError::bad_request(format!(
            "wait is at most {MAX_WAIT} seconds"
        )));
    }
    let node = &app.ctx.node;
    node.set_draining(true);
    app.audit(&caller, "drain", None, json!({ "wait": q.wait }), Ok(()));
    let Some(wait) = q.wait else {
        return Ok((StatusCode::ACCEPTED, Json(status(node))).into_response());
    };
    tokio::select! {
        _ = node.drained(Duration::from_secs(wait)) => {}
        () = app.shutdown.wait() => {}
    }
    Ok(Json(status(node)).into_response())
}

/// Where draining stands.
#[utoipa::path(get, path = "/api/v1/drain", tag = tags::CONTROL,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Where draining stands", body = DrainStatus),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ))]
pub(crate) async fn show(State(app): State<Shared>) -> Json<DrainStatus> {
    Json(status(&app.ctx.node))
}

/// Ends draining: new requests are served again.
#[utoipa::path(delete, path = "/api/v1/drain", tag = tags::CONTROL,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Serving again", body = DrainStatus),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A cookie request without the CSRF token", body = ErrorBody),
    ))]
pub(crate) async fn stop(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Json<DrainStatus> {
    app.ctx.node.set_draining(false);
    app.audit(&caller, "undrain", None, json!({}), Ok(()));
    Json(status(&app.ctx.node))
}
