//! The gate every request passes: which paths are open, who the caller
//! is (bearer token or session cookie), and the CSRF check of a change
//! made with the cookie. A missing or wrong token gets the same 401 for
//! every path, whether it exists or not.

use crate::caller::{Caller, PeerAddr};
use crate::error::{csrf_refused, unauthorized};
use crate::peer::Peer;
use crate::sessions::{Session, COOKIE};
use crate::state::Shared;
use crate::token::digest;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// The header a cookie-authenticated change carries its CSRF value in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// What a request needs to get through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Nothing (metrics, health, static assets, the document, the login).
    Open,
    /// Nothing, but the handler answers differently with it (`GET /`).
    Page,
    /// The token, by bearer or cookie.
    Token,
}

/// Static files served without a token.
pub(crate) const OPEN_ASSETS: [&str; 3] = [
    "/assets/dashboard.js",
    "/assets/login.js",
    "/assets/dashboard.css",
];

fn access_of(method: &Method, path: &str) -> Access {
    let read = method == Method::GET || method == Method::HEAD;
    match path {
        "/" if read => Access::Page,
        "/metrics" | "/healthz" | "/readyz" | "/api/v1/openapi.json" if read => Access::Open,
        "/api/v1/session" if method == Method::POST => Access::Open,
        p if read && OPEN_ASSETS.contains(&p) => Access::Open,
        _ => Access::Token,
    }
}

/// True for the methods that change something.
fn is_change(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// Who the request comes from, when it carries the token or a live
/// session. An `Authorization` header decides alone when present.
fn identify(app: &Shared, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<Caller> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, t)| t.trim());
        return app.is_token(presented).then_some(Caller {
            session: None,
            peer,
        });
    }
    let id = cookie(headers, COOKIE)?;
    let session = app.sessions.find(id)?;
    Some(Caller {
        session: Some(session),
        peer,
    })
}

/// True when the request carries the session's CSRF value.
fn csrf_ok(headers: &HeaderMap, session: &Session) -> bool {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    digest(presented.as_bytes())
        .ct_eq(&digest(session.csrf.as_bytes()))
        .into()
}

/// The middleware: lets open paths through, answers 401 to requests
/// without the token and 403 to cookie changes without the CSRF value,
/// and hands handlers the [`Caller`] (and every handler the [`PeerAddr`]).
pub(crate) async fn gate(State(app): State<Shared>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<Peer>>().map(|c| c.0 .0);
    req.extensions_mut().insert(PeerAddr(peer));
    let access = access_of(req.method(), req.uri().path());
    if access == Access::Open {
        return next.run(req).await;
    }
    match identify(&app, req.headers(), peer) {
        Some(caller) => {
            if let Some(session) = &caller.session {
                if is_change(req.method()) && !csrf_ok(req.headers(), session) {
                    return csrf_refused();
                }
            }
            req.extensions_mut().insert(caller);
        }
        None if access == Access::Page => {}
        None => return unauthorized(),
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_paths_are_open() {
        assert_eq!(access_of(&Method::GET, "/metrics"), Access::Open);
        assert_eq!(access_of(&Method::HEAD, "/healthz"), Access::Open);
        assert_eq!(access_of(&Method::GET, "/assets/login.js"), Access::Open);
        assert_eq!(access_of(&Method::POST, "/api/v1/session"), Access::Open);
        assert_eq!(access_of(&Method::GET, "/"), Access::Page);
        assert_eq!(access_of(&Method::POST, "/metrics"), Access::Token);
        assert_eq!(access_of(&Method::GET, "/api/v1/session"), Access::Token);
        assert_eq!(access_of(&Method::GET, "/assets/other.js"), Access::Token);
        assert_eq!(access_of(&Method::GET, "/nowhere"), Access::Token);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; locus_session=abc".parse().expect("value"),
        );
        h.append(header::COOKIE, "b=2".parse().expect("value"));
        assert_eq!(cookie(&h, "locus_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
