//! Sessions of the dashboard: the token is traded once for an HttpOnly,
//! SameSite=Strict cookie and a CSRF value the page sends back with every
//! change (`X-CSRF-Token`).

use crate::api::tags;
use crate::caller::{Caller, PeerAddr};
use crate::error::{unauthorized, ErrorBody};
use crate::extract::Json;
use crate::sessions::COOKIE;
use crate::state::Shared;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// The login.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct Login {
    /// The admin token.
    token: String,
}

/// The CSRF value of a session.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Csrf {
    /// What changes made with the cookie carry in `X-CSRF-Token` (empty
    /// under bearer authentication, which needs none).
    csrf: String,
}

fn set_cookie(value: String) -> Option<HeaderValue> {
    HeaderValue::from_str(&value).ok()
}

/// Trades the token for a session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = tags::SESSION, request_body = Login,
    responses(
        (status = 200, description = "Signed in: the cookie `locus_session` is set", body = Csrf,
            headers(("Set-Cookie" = String, description = "locus_session=...; HttpOnly; SameSite=Strict; Path=/"))),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Wrong token", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "The body lacks the token", body = ErrorBody),
    ))]
pub(crate) async fn login(
    State(app): State<Shared>,
    Extension(PeerAddr(peer)): Extension<PeerAddr>,
    Json(login): Json<Login>,
) -> Response {
    if !app.is_token(&login.token) {
        tracing::warn!(peer = ?peer, "admin login with a wrong token");
        return unauthorized();
    }
    let (id, csrf) = app.sessions.create();
    let secure = if app.secure { "; Secure" } else { "" };
    let Some(cookie) = set_cookie(format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}"
    )) else {
        return unauthorized();
    };
    let caller = Caller {
        session: None,
        peer,
    };
    app.audit(&caller, "session.login", None, json!({}), Ok(()));
    let mut resp = axum::Json(Csrf { csrf }).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    resp
}

/// The CSRF value of the session of the cookie.
#[utoipa::path(get, path = "/api/v1/session", tag = tags::SESSION,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The session is live", body = Csrf),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ))]
pub(crate) async fn current(Extension(caller): Extension<Caller>) -> axum::Json<Csrf> {
    axum::Json(Csrf {
        csrf: caller.session.map(|s| s.csrf).unwrap_or_default(),
    })
}

/// Signs out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = tags::SESSION,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Signed out",
            headers(("Set-Cookie" = String, description = "locus_session=; Max-Age=0"))),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A cookie request without the CSRF token", body = ErrorBody),
    ))]
pub(crate) async fn logout(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Some(session) = &caller.session {
        app.sessions.remove(&session.key);
        app.audit(&caller, "session.logout", None, json!({}), Ok(()));
    }
    let secure = if app.secure { "; Secure" } else { "" };
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = set_cookie(format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    resp
}
