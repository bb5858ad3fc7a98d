//! The hook the router asks before it routes a request: where digest
//! authentication of callers (407 with `Proxy-Authenticate`, RFC 3261
//! §22.3) plugs in. Until then every request proceeds ([`AllowAll`]).

use crate::core::{Reply, RequestContext};
use sip_message::Message;

/// What the hook decides for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// Route the request.
    Proceed,
    /// Answer it with this reply (a 407 challenge, or a 403) instead.
    Reject(Reply),
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
