//! The routes and the OpenAPI document, both built from the handlers'
//! descriptions (so neither can list what the other lacks), and the
//! layers every request passes: security headers (outermost), the gate
//! (token, session, CSRF), the body limit.

use crate::api::{
    bindings, drain, events, health, pages, reload, security, session, stats, tags, users,
};
use crate::extract::BODY_LIMIT;
use crate::sessions::COOKIE;
use crate::state::Shared;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "locus admin API",
        description = "Metrics, health, the location service, accounts, stats, the live feed, \
            drain and reload of a locus SIP registrar. Every operation with a security \
            requirement needs the admin token as `Authorization: Bearer <token>`, or the \
            session cookie from `POST /api/v1/session` (then changes need `X-CSRF-Token`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(
        events::BindingEvent,
        events::ExpiredEvent,
        events::LaggedEvent,
        crate::history::Sample,
    )),
    tags(
        (name = tags::OPS, description = "Metrics, health, readiness, this document"),
        (name = tags::SESSION, description = "Sessions of the dashboard"),
        (name = tags::BINDINGS, description = "The location service"),
        (name = tags::USERS, description = "Accounts of digest authentication"),
        (name = tags::STATS, description = "Counters, history, security, the live feed"),
        (name = tags::CONTROL, description = "Drain and reload"),
        (name = tags::PAGES, description = "The dashboard"),
    ),
)]
struct ApiDoc;

/// The two ways to present the token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The admin token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                COOKIE,
                "The session cookie of POST /api/v1/session (changes need X-CSRF-Token too)",
            ))),
        );
    }
}

/// Every route with its description.
fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::metrics))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::openapi_json))
        .routes(routes!(pages::index))
        .routes(routes!(pages::dashboard_js))
        .routes(routes!(pages::login_js))
        .routes(routes!(pages::dashboard_css))
        .routes(routes!(session::login, session::current, session::logout))
        .routes(routes!(bindings::list))
        .routes(routes!(bindings::delete))
        .routes(routes!(users::list, users::add))
        .routes(routes!(users::remove))
        .routes(routes!(stats::stats))
        .routes(routes!(stats::history))
        .routes(routes!(security::security))
        .routes(routes!(events::events))
        .routes(routes!(drain::start, drain::show, drain::stop))
        .routes(routes!(reload::reload))
}

async fn not_found() -> Response {
    crate::error::ApiError::not_found("not found").into_response()
}

async fn method_not_allowed() -> Response {
    crate::error::ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        .into_response()
}

/// The router of a listener with state `app` (whose `openapi` it sets).
pub(crate) fn build(app: Shared) -> Router {
    let (router, doc) = routes().split_for_parts();
    match doc.to_json() {
        Ok(json) => {
            let _ = app.openapi.set(json);
        }
        Err(e) => tracing::error!(error = %e, "cannot encode the OpenAPI document"),
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(from_fn_with_state(app.clone(), crate::auth::gate))
        .layer(from_fn(crate::headers::secure))
        .with_state(app)
}
