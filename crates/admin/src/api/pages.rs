//! The dashboard's pages and files, embedded in the binary (no CDN, no
//! inline script or style): `/` is the dashboard with a token and the
//! login page (401) without; the files under `/assets/` are open. The
//! pages are static: data reaches them only as JSON from the API.

use crate::api::tags;
use crate::caller::Caller;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

const INDEX: &str = include_str!("../../assets/index.html");
const LOGIN: &str = include_str!("../../assets/login.html");
const DASHBOARD_JS: &str = include_str!("../../assets/dashboard.js");
const LOGIN_JS: &str = include_str!("../../assets/login.js");
const DASHBOARD_CSS: &str = include_str!("../../assets/dashboard.css");

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

fn file(status: StatusCode, content_type: &'static str, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The dashboard, or the login page when the request has no valid token
/// or session.
#[utoipa::path(get, path = "/", tag = tags::PAGES,
    responses(
        (status = 200, description = "The dashboard", body = String, content_type = "text/html"),
        (status = 401, description = "The login page (no valid token or session)", body = String, content_type = "text/html"),
    ))]
pub(crate) async fn index(caller: Option<Extension<Caller>>) -> Response {
    match caller {
        Some(_) => file(StatusCode::OK, HTML, INDEX),
        None => file(StatusCode::UNAUTHORIZED, HTML, LOGIN),
    }
}

/// The dashboard's script.
#[utoipa::path(get, path = "/assets/dashboard.js", tag = tags::PAGES,
    responses((status = 200, description = "JavaScript", body = String, content_type = "text/javascript")))]
pub(crate) async fn dashboard_js() -> Response {
    file(StatusCode::OK, JS, DASHBOARD_JS)
}

/// The login page's script.
#[utoipa::path(get, path = "/assets/login.js", tag = tags::PAGES,
    responses((status = 200, description = "JavaScript", body = String, content_type = "text/javascript")))]
pub(crate) async fn login_js() -> Response {
    file(StatusCode::OK, JS, LOGIN_JS)
}

/// The style sheet of both pages.
#[utoipa::path(get, path = "/assets/dashboard.css", tag = tags::PAGES,
    responses((status = 200, description = "CSS", body = String, content_type = "text/css")))]
pub(crate) async fn dashboard_css() -> Response {
    file(StatusCode::OK, CSS, DASHBOARD_CSS)
}
