//! Who must authenticate, the abuse guard, and what the account directory
//! may tell a caller: the security state every instance of the endpoint
//! shares (each part locks internally, by shard).

use crate::abuse::{AbuseConfig, AbuseGuard, Admission, BlockEvent};
use crate::auth::{aor_user_host, strip_port, AuthOutcome, Authenticator};
use std::net::{IpAddr, SocketAddr};

/// When requests must authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Always (`--auth on`, or any listener not on loopback).
    Required,
    /// Only while at least one account exists (the first-run default on
    /// loopback: open until the first user is added).
    WhenUsersExist,
}

/// What the account directory says of the user behind an AOR that has no
/// bindings: 480 for a known user, 404 for an unknown one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscriber {
    /// Nothing is known (no accounts, or enumeration protection): 480.
    Unchecked,
    /// A known user: without bindings, 480 Temporarily Unavailable.
    Known,
    /// Not a user of this domain: 404 Not Found.
    Unknown,
}

/// Authentication, abuse control and enumeration protection.
#[derive(Debug)]
pub struct Security {
    auth: Option<(AuthMode, Authenticator)>,
    guard: AbuseGuard,
    enumeration_protection: bool,
}

impl Security {
    /// The security state: `auth` (`None` serves without authentication),
    /// the abuse limits, whether calls to unknown users get 480 like known
    /// users without bindings, and the seed of the guard's hash keys.
    pub fn new(
        auth: Option<(AuthMode, Authenticator)>,
        abuse: AbuseConfig,
        enumeration_protection: bool,
        seed: u64,
    ) -> Security {
        Security {
            auth,
            guard: AbuseGuard::new(abuse, &mut crate::rng::Rng::new(seed)),
            enumeration_protection,
        }
    }

    /// The security state a reload installs, with the settings of
    /// `self` and the state of `old`: the abuse guard's windows and
    /// blocks, and the nonce counts (a reload must not reopen a replay or
    /// lift a block).
    pub fn carrying_over(self, old: &Security) -> Security {
        let auth = self.auth.map(|(mode, a)| match &old.auth {
            Some((_, before)) => (mode, a.carrying_over(before)),
            None => (mode, a),
        });
        Security {
            auth,
            guard: old.guard.reconfigured(self.guard.config().clone()),
            enumeration_protection: self.enumeration_protection,
        }
    }

    /// The authenticator to apply to a request now, if any.
    pub fn authenticator(&self) -> Option<&Authenticator> {
        match &self.auth {
            Some((AuthMode::Required, a)) => Some(a),
            Some((AuthMode::WhenUsersExist, a)) if !a.users().is_empty() => Some(a),
            _ => None,
        }
    }

    /// The abuse guard's decision for a request from `source`.
    pub fn admit(&self, source: IpAddr, now_ms: u64) -> Admission {
        self.guard.admit(source, now_ms)
    }

    /// The guard's settings.
    pub fn abuse_config(&self) -> &AbuseConfig {
        self.guard.config()
    }

    /// Feeds a refusal to the guard: a failed attempt counts toward
    /// blocking its source. Returns the block it started, if any.
    pub fn on_refusal(
        &self,
        outcome: &AuthOutcome,
        source: SocketAddr,
        now_ms: u64,
    ) -> Option<BlockEvent> {
        if !outcome.is_failure() {
            return None;
        }
        self.guard
            .record_failure(source.ip(), outcome.username(), now_ms)
    }

    /// What the directory says of the user behind `aor`: no accounts (or
    /// enumeration protection) means no answer.
    pub fn subscriber(&self, aor: &str) -> Subscriber {
        let Some(auth) = self.authenticator() else {
            return Subscriber::Unchecked;
        };
        if self.enumeration_protection {
            return Subscriber::Unchecked;
        }
        let Some((user, host)) = aor_user_host(aor) else {
            return Subscriber::Unknown;
        };
        match auth.users().find(auth.realm_for(strip_port(host)), user) {
            Some(_) => Subscriber::Known,
            None => Subscriber::Unknown,
        }
    }

    /// True when there is state to forget now and then (authentication,
    /// or an abuse limit).
    pub fn needs_housekeeping(&self) -> bool {
        let c = self.guard.config();
        self.auth.is_some()
            || c.rate_limit > 0
            || c.source_failure_limit > 0
            || c.user_failure_limit > 0
    }

    /// Forgets abuse and nonce-count state that is old at `now_ms`.
    pub fn purge(&self, now_ms: u64) {
        self.guard.purge(now_ms);
        if let Some((_, a)) = &self.auth {
            a.purge(now_ms);
        }
    }

    /// The sources blocked at `now_ms`, each with the end of its block.
    pub fn blocked_list(&self, now_ms: u64) -> Vec<(IpAddr, u64)> {
        self.guard.blocked_list(now_ms)
    }

    /// Number of sources blocked now.
    pub fn blocked_sources(&self) -> usize {
        self.guard.blocked_sources()
    }
}
