//! Open to everyone: the Prometheus metrics, liveness, readiness and the
//! OpenAPI document.

use crate::api::tags;
use crate::state::Shared;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The content type of the Prometheus text exposition, version 0.0.4.
pub(crate) const METRICS_TYPE: &str = "text/plain; version=0.0.4";

/// Every metric in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = tags::OPS,
    responses((status = 200, description = "The Prometheus text exposition (format 0.0.4)",
        body = String, content_type = "text/plain")))]
pub(crate) async fn metrics(State(app): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, METRICS_TYPE)],
        app.ctx.node.encode_metrics(),
    )
        .into_response()
}

/// Liveness and readiness.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Status {
    /// `ok`, `ready` or `not ready`.
    #[schema(example = "ok")]
    status: &'static str,
    /// Why not ready: `draining`, or `location store: ...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = tags::OPS,
    responses((status = 200, description = "Alive", body = Status)))]
pub(crate) async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok",
        reason: None,
    })
}

/// Whether the node should get traffic: not draining, and its store can
/// take changes.
#[utoipa::path(get, path = "/readyz", tag = tags::OPS,
    responses(
        (status = 200, description = "Ready", body = Status),
        (status = 503, description = "Draining, or the location store cannot take changes", body = Status),
    ))]
pub(crate) async fn readyz(State(app): State<Shared>) -> Response {
    match app.ctx.node.ready().await {
        Ok(()) => Json(Status {
            status: "ready",
            reason: None,
        })
        .into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Status {
                status: "not ready",
                reason: Some(reason),
            }),
        )
            .into_response(),
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = tags::OPS,
    responses((status = 200, description = "The OpenAPI document of this API", body = Object)))]
pub(crate) async fn openapi_json(State(app): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.openapi.get().cloned().unwrap_or_default(),
    )
        .into_response()
}
