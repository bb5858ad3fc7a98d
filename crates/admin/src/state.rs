//! What every request of one listener shares: the token (as its digest),
//! the context, the sessions, the audit log, the stats history.

use crate::audit::{Audit, Entry};
use crate::caller::Caller;
use crate::context::AdminContext;
use crate::history::History;
use crate::sessions::Sessions;
use crate::token::{digest, Token};
use std::sync::{Arc, OnceLock};
use subtle::ConstantTimeEq;

/// The shared state, as handlers get it.
pub(crate) type Shared = Arc<AppState>;

/// The state of one admin listener.
pub(crate) struct AppState {
    /// SHA-256 of the token.
    token_digest: [u8; 32],
    /// The token's id, for the audit log.
    pub token_id: String,
    /// What the API acts on.
    pub ctx: AdminContext,
    /// The dashboard sessions.
    pub sessions: Sessions,
    /// The audit log.
    audit: Audit,
    /// The last ten minutes of samples, and their feed.
    pub history: Arc<History>,
    /// The OpenAPI document as JSON (set when the router is built).
    pub openapi: OnceLock<String>,
    /// True under TLS (the session cookie gets `Secure`).
    pub secure: bool,
    /// Fires when the listener stops (ends event streams and waits).
    pub shutdown: server::Shutdown,
}

impl AppState {
    /// The state of a listener serving `ctx` to holders of `token`.
    pub(crate) fn new(
        token: &Token,
        ctx: AdminContext,
        audit: Audit,
        secure: bool,
        shutdown: server::Shutdown,
    ) -> AppState {
        AppState {
            token_digest: token.digest(),
            token_id: token.id(),
            ctx,
            sessions: Sessions::default(),
            audit,
            history: Arc::new(History::default()),
            openapi: OnceLock::new(),
            secure,
            shutdown,
        }
    }

    /// True when `presented` is the token (compared in constant time, as
    /// SHA-256 digests, so neither its length nor its content leaks).
    pub(crate) fn is_token(&self, presented: &str) -> bool {
        digest(presented.as_bytes())
            .ct_eq(&self.token_digest)
            .into()
    }

    /// Appends one change to the audit log.
    pub(crate) fn audit(
        &self,
        caller: &Caller,
        action: &'static str,
        target: Option<&str>,
        detail: serde_json::Value,
        outcome: Result<(), &str>,
    ) {
        self.audit.record(&Entry {
            at: crate::clock::rfc3339(crate::clock::now_ms()),
            token: &self.token_id,
            action,
            target,
            detail,
            outcome: outcome.err().unwrap_or("ok"),
            peer: caller.peer.map(|p| p.to_string()),
        });
    }
}
