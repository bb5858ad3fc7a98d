//! Reload: the configuration is read again and applied whole, or not at
//! all (the old one keeps running and the reason is answered 422).

use crate::api::tags;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::Shared;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// What a reload did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Reloaded {
    /// Always true.
    reloaded: bool,
    /// Settings changed in the file that apply only after a restart.
    #[schema(example = json!(["listen"]))]
    restart_needed: Vec<String>,
}

/// Reads the configuration again and applies it.
#[utoipa::path(post, path = "/api/v1/reload", tag = tags::CONTROL,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Applied", body = Reloaded),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A cookie request without the CSRF token", body = ErrorBody),
        (status = 422, description = "The configuration is invalid: nothing changed", body = ErrorBody),
        (status = 503, description = "The reload could not run", body = ErrorBody),
    ))]
pub(crate) async fn reload(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Reloaded>, ApiError> {
    let reload = app.ctx.reload.clone();
    let outcome = tokio::task::spawn_blocking(move || reload.reload())
        .await
        .map_err(|_| ApiError::unavailable("the reload did not complete"))?
        .map_err(ApiError::unprocessable);
    match &outcome {
        Ok(r) => app.audit(
            &caller,
            "reload",
            None,
            json!({ "restart_needed": r.restart_needed }),
            Ok(()),
        ),
        Err(e) => {
            tracing::warn!(reason = e.message(), "reload refused");
            app.audit(&caller, "reload", None, json!({}), Err(e.message()));
        }
    }
    outcome.map(|r| {
        Json(Reloaded {
            reloaded: true,
            restart_needed: r.restart_needed,
        })
    })
}
