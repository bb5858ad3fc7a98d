//! Authentication and abuse control in the shell: which requests must
//! authenticate, the abuse guard, the counters, and the housekeeping task
//! that reloads changed accounts and forgets old state.

use crate::shutdown::Shutdown;
use location::{SqliteUsers, UserCache, UserDirectory};
use sip_core::abuse::{AbuseConfig, AbuseGuard, BlockEvent, BlockReason};
use sip_core::auth::{AuthConfig, AuthOutcome, Authenticator};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often changed accounts are picked up.
const USERS_REFRESH: Duration = Duration::from_secs(1);
/// How often old abuse and nonce-count state is forgotten.
const PURGE_EVERY: Duration = Duration::from_secs(10);

/// When requests must authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Always (`--auth on`, or any listener not on loopback).
    Required,
    /// Only while at least one account exists (the first-run default on
    /// loopback: open until the first user is added).
    WhenUsersExist,
}

/// What the shell needs to authenticate.
#[derive(Debug, Clone)]
pub struct AuthSetup {
    /// When to require authentication.
    pub mode: AuthMode,
    /// The policy.
    pub config: AuthConfig,
    /// The server secret (nonces and opaque derive from it).
    pub secret: Vec<u8>,
    /// The accounts, reloaded when they change.
    pub users: Arc<UserCache<SqliteUsers>>,
}

/// Counters with stable names (exported by the admin API once it exists;
/// logged at shutdown).
#[derive(Debug, Default)]
pub struct Metrics {
    /// 401s sent to requests without credentials.
    pub auth_challenges: AtomicU64,
    /// 401s with `stale=true`.
    pub auth_stale: AtomicU64,
    /// Failed authentications (any reason but replay).
    pub auth_failures: AtomicU64,
    /// Replayed nonce counts.
    pub auth_replays: AtomicU64,
    /// 403s: authenticated but not allowed.
    pub auth_forbidden: AtomicU64,
    /// Blocks started.
    pub abuse_blocks: AtomicU64,
    /// Requests from blocked sources (dropped or 403).
    pub abuse_blocked_requests: AtomicU64,
    /// Requests dropped by the rate limit.
    pub abuse_throttled_requests: AtomicU64,
}

impl Metrics {
    /// `(name, value)` of every counter.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("locus_auth_challenges_total", get(&self.auth_challenges)),
            ("locus_auth_stale_total", get(&self.auth_stale)),
            ("locus_auth_failures_total", get(&self.auth_failures)),
            ("locus_auth_replays_total", get(&self.auth_replays)),
            ("locus_auth_forbidden_total", get(&self.auth_forbidden)),
            ("locus_abuse_blocks_total", get(&self.abuse_blocks)),
            (
                "locus_abuse_blocked_requests_total",
                get(&self.abuse_blocked_requests),
            ),
            (
                "locus_abuse_throttled_requests_total",
                get(&self.abuse_throttled_requests),
            ),
        ]
    }

    /// Counts one.
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Authentication and abuse state of a running server.
pub(crate) struct Security {
    auth: Option<(AuthMode, Authenticator, Arc<UserCache<SqliteUsers>>)>,
    pub(crate) guard: AbuseGuard,
    pub(crate) metrics: Arc<Metrics>,
}

impl Security {
    pub(crate) fn new(
        auth: Option<&AuthSetup>,
        abuse: &AbuseConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        Security {
            auth: auth.map(|a| {
                let users: Arc<dyn UserDirectory> = a.users.clone();
                (
                    a.mode,
                    Authenticator::new(a.config.clone(), &a.secret, users),
                    a.users.clone(),
                )
            }),
            guard: AbuseGuard::new(abuse.clone()),
            metrics,
        }
    }

    /// The authenticator to apply to a request now, if any.
    pub(crate) fn authenticator(&self) -> Option<&Authenticator> {
        match &self.auth {
            Some((AuthMode::Required, a, _)) => Some(a),
            Some((AuthMode::WhenUsersExist, a, users)) if !users.is_empty() => Some(a),
            _ => None,
        }
    }

    /// Counts a refusal, and feeds failures to the guard; a block that
    /// starts is logged (once).
    pub(crate) fn on_refusal(
        &self,
        outcome: &AuthOutcome,
        source: std::net::SocketAddr,
        now_ms: u64,
    ) {
        let m = &self.metrics;
        match outcome {
            AuthOutcome::Challenged => Metrics::inc(&m.auth_challenges),
            AuthOutcome::Stale => Metrics::inc(&m.auth_stale),
            AuthOutcome::Failed { username } => {
                Metrics::inc(&m.auth_failures);
                tracing::info!(peer = %source, username = ?username, "authentication failed");
            }
            AuthOutcome::Replayed { username } => {
                Metrics::inc(&m.auth_replays);
                tracing::info!(peer = %source, username = ?username, "replayed nonce count refused");
            }
            AuthOutcome::Forbidden { identity } => {
                Metrics::inc(&m.auth_forbidden);
                tracing::info!(peer = %source, identity = ?identity, "registration of another AOR refused");
            }
        }
        if outcome.is_failure() {
            if let Some(ev) = self
                .guard
                .record_failure(source.ip(), outcome.username(), now_ms)
            {
                Metrics::inc(&m.abuse_blocks);
                log_block(&ev, now_ms);
            }
        }
    }

    /// Forgets old state.
    fn purge(&self, now_ms: u64) {
        self.guard.purge(now_ms);
        if let Some((_, a, _)) = &self.auth {
            a.purge(now_ms);
        }
    }

    fn users(&self) -> Option<Arc<UserCache<SqliteUsers>>> {
        self.auth.as_ref().map(|(_, _, u)| u.clone())
    }
}

fn log_block(ev: &BlockEvent, now_ms: u64) {
    let why = match ev.reason {
        BlockReason::SourceFailures => "too many failed authentications from this address",
        BlockReason::UserFailures => "too many failed authentications for the user name it tried",
    };
    tracing::warn!(
        source = %ev.source,
        seconds = ev.until_ms.saturating_sub(now_ms) / 1000,
        reason = why,
        "source blocked"
    );
}

/// Reloads changed accounts every second and purges old state every ten,
/// until shutdown.
pub(crate) async fn housekeeping(security: Arc<Security>, shutdown: Shutdown) {
    let mut refresh = tokio::time::interval(USERS_REFRESH);
    let mut purge = tokio::time::interval(PURGE_EVERY);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let users = security.users();
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = refresh.tick(), if users.is_some() => {
                let Some(users) = users.clone() else { continue };
                match tokio::task::spawn_blocking(move || users.refresh().map(|changed| (changed, users.count()))).await {
                    Ok(Ok((true, count))) => tracing::info!(users = count, "accounts reloaded"),
                    Ok(Ok((false, _))) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot reload accounts"),
                    Err(e) => tracing::warn!(error = %e, "account reload task failed"),
                }
            }
            _ = purge.tick() => security.purge(crate::now_ms()),
        }
    }
}
