//! The hook the router asks before it routes a request: digest
//! authentication of callers (407 with `Proxy-Authenticate`, RFC 3261
//! §22.3) by [`CallerAuth`], or no check at all ([`AllowAll`]).

use crate::auth::{Refusal, Role};
use crate::config::CoreConfig;
use crate::context::RequestContext;
use crate::reply::Reply;
use sip_message::{HeaderName, Message, NameAddr, Uri};
use std::sync::Arc;

/// What the hook decides for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// Route the request.
    Proceed,
    /// Answer it with this reply (a 403) instead.
    Reject(Reply),
    /// Answer it with the refusal's 407 and report the refusal (failed
    /// attempts count toward blocking the caller).
    Refuse(Refusal),
}

/// A check run on every dialog-initiating or out-of-dialog request before
/// it is routed (not on ACK, CANCEL or requests inside a dialog). It must
/// be pure: the time is given, and any state (nonces) is its own.
pub trait ProxyAuth: Send + Sync + std::fmt::Debug {
    /// Decides for `req`. `local_target` tells whether the Request-URI is
    /// an AOR of a served domain (a caller from another domain may only
    /// reach those).
    fn check(
        &self,
        req: &Message,
        ctx: &RequestContext<'_>,
        local_target: bool,
        now_ms: u64,
    ) -> AuthDecision;
}

/// The hook while no authentication is configured: every request proceeds.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAll;

impl ProxyAuth for AllowAll {
    fn check(&self, _: &Message, _: &RequestContext<'_>, _: bool, _: u64) -> AuthDecision {
        AuthDecision::Proceed
    }
}

/// Authenticates callers when the server authenticates at all (the
/// `RequestContext` carries an authenticator): a request whose From claims
/// a served domain must carry `Proxy-Authorization` for that very identity
/// (else 407, or 403 when the credentials are someone else's); a request
/// from another domain is routed only to AORs of a served domain, so the
/// proxy is never an open relay.
#[derive(Debug)]
pub struct CallerAuth {
    cfg: Arc<CoreConfig>,
}

impl CallerAuth {
    /// The hook for the served domains of `cfg`.
    pub fn new(cfg: Arc<CoreConfig>) -> CallerAuth {
        CallerAuth { cfg }
    }
}

impl ProxyAuth for CallerAuth {
    fn check(
        &self,
        req: &Message,
        ctx: &RequestContext<'_>,
        local_target: bool,
        now_ms: u64,
    ) -> AuthDecision {
        let Some(auth) = ctx.auth else {
            return AuthDecision::Proceed;
        };
        let from = req
            .header(HeaderName::From)
            .and_then(|f| NameAddr::parse(f).ok())
            .and_then(|n| Uri::parse(n.uri).ok());
        let from = from.as_ref().and_then(|u| u.as_sip());
        let host = from.map(|u| u.host_lowercase());
        let ours = host
            .as_deref()
            .is_some_and(|h| self.cfg.registrar.serves(h) || ctx.is_local_host(h));
        let (Some(from), Some(host), true) = (from, host, ours) else {
            return if local_target {
                AuthDecision::Proceed
            } else {
                AuthDecision::Reject(Reply::new(403, "Relaying Forbidden"))
            };
        };
        match auth.authenticate_as(Role::Proxy, req, &host, now_ms, ctx.nonce_salt) {
            Err(refusal) => AuthDecision::Refuse(refusal),
            Ok(user) => {
                let identity = from.canonical_aor().unwrap_or_default();
                if auth.may_register(&user, &identity) {
                    AuthDecision::Proceed
                } else {
                    AuthDecision::Reject(Reply::new(403, "From Does Not Match The Credentials"))
                }
            }
        }
    }
}
