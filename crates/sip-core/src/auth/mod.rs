//! Digest authentication and authorization of the requests the server
//! answers itself (RFC 3261 §22 and §10.3 steps 3–4, RFC 7616, RFC 8760).
//!
//! [`Authenticator`] is shared by the endpoint's instances (through the
//! `security` module's state) and handed to each decision in the
//! [`crate::RequestContext`]. It holds the nonce key, the configuration,
//! the account directory (an in-memory [`UserDirectory`]) and the
//! nonce-count table; every call takes `now_ms`, nothing here reads a
//! clock or does I/O.
//!
//! Nothing to learn for an attacker: an unknown user, a wrong password, a
//! wrong realm and a user of another domain all get the same fresh 401,
//! after the same work (a dummy HA1 is verified for unknown users).

mod grants;
mod replay;

pub use grants::{aor_user_host, strip_port, Grant};
pub use replay::NonceCounts;

use crate::digest::{Algorithm, Challenge, Credentials, NonceKey, NonceStatus, Qop};
use crate::reply::Reply;
use crate::rng::Rng;
use location_model::{User, UserDirectory};
use sip_message::{HeaderName, Message};
use std::borrow::Cow;
use std::sync::Arc;

/// Authentication policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The realm of every challenge; `None`: the domain of the request.
    pub realm: Option<String>,
    /// Algorithms offered and accepted (challenges are sent strongest first).
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce is accepted, in milliseconds.
    pub nonce_lifetime_ms: u64,
    /// Third-party registration grants.
    pub grants: Vec<Grant>,
    /// About how many nonces the nc replay table remembers.
    pub nonce_table_capacity: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            realm: None,
            algorithms: Algorithm::ALL.to_vec(),
            nonce_lifetime_ms: 300_000,
            grants: Vec::new(),
            nonce_table_capacity: 100_000,
        }
    }
}

/// Who challenges (RFC 3261 §22.2 and §22.3): the registrar or any other
/// request the server answers itself (401, `WWW-Authenticate`,
/// `Authorization`), or the proxy before it routes (407,
/// `Proxy-Authenticate`, `Proxy-Authorization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The server answering the request itself.
    Server,
    /// The proxy authenticating a caller.
    Proxy,
}

impl Role {
    fn credentials(self) -> HeaderName {
        match self {
            Role::Server => HeaderName::Authorization,
            Role::Proxy => HeaderName::ProxyAuthorization,
        }
    }

    fn reply(self) -> (u16, &'static str, &'static str) {
        match self {
            Role::Server => (401, "Unauthorized", "WWW-Authenticate"),
            Role::Proxy => (407, "Proxy Authentication Required", "Proxy-Authenticate"),
        }
    }
}

/// Why a request was not let through, for counters and blocking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// No credentials for our realm: challenged (the normal first step).
    Challenged,
    /// Right credentials with an expired nonce: challenged with `stale=true`.
    Stale,
    /// Wrong credentials (unknown user, wrong password or realm, bad or
    /// foreign nonce, malformed header): counts toward blocking.
    Failed {
        /// The user name claimed, if any could be read.
        username: Option<String>,
    },
    /// A nonce count already used: counts toward blocking.
    Replayed {
        /// The user name claimed.
        username: String,
    },
    /// Authenticated, but not allowed to register this AOR (403).
    Forbidden {
        /// The authenticated user, `user@domain`.
        identity: String,
    },
}

impl AuthOutcome {
    /// True for outcomes that count as a failed attempt.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            AuthOutcome::Failed { .. } | AuthOutcome::Replayed { .. }
        )
    }

    /// The user name involved, if any.
    pub fn username(&self) -> Option<&str> {
        match self {
            AuthOutcome::Failed { username } => username.as_deref(),
            AuthOutcome::Replayed { username } => Some(username),
            _ => None,
        }
    }
}

/// A request refused by authentication or authorization: the reply to
/// send and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The 401 or 403 to send.
    pub reply: Reply,
    /// What happened.
    pub outcome: AuthOutcome,
}

/// The authenticating component (see the module documentation).
pub struct Authenticator {
    cfg: AuthConfig,
    key: NonceKey,
    users: Arc<dyn UserDirectory>,
    /// Shared with the authenticator a reload replaces
    /// ([`Authenticator::carrying_over`]).
    counts: Arc<NonceCounts>,
    /// A keyed HA1 per algorithm, verified when the user is unknown.
    dummy_ha1: [String; 3],
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

fn alg_index(a: Algorithm) -> usize {
    match a {
        Algorithm::Md5 => 0,
        Algorithm::Sha256 => 1,
        Algorithm::Sha512_256 => 2,
    }
}

fn stored_ha1(user: &User, a: Algorithm) -> Option<&str> {
    match a {
        Algorithm::Md5 => user.ha1.md5.as_deref(),
        Algorithm::Sha256 => user.ha1.sha256.as_deref(),
        Algorithm::Sha512_256 => user.ha1.sha512_256.as_deref(),
    }
}

impl Authenticator {
    /// An authenticator with the server `secret` (nonces and opaque are
    /// derived from it) and the account directory.
    pub fn new(mut cfg: AuthConfig, secret: &[u8], users: Arc<dyn UserDirectory>) -> Authenticator {
        cfg.algorithms
            .sort_by_key(|a| std::cmp::Reverse(a.strength()));
        cfg.algorithms.dedup();
        let key = NonceKey::new(secret);
        let dummy_ha1 = [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256]
            .map(|a| key.derive(a.name().as_bytes(), a.hex_len() / 2));
        // The table's hash keys derive from the secret: unknown outside,
        // the same for the same secret (tests are deterministic).
        let seed = u64::from_str_radix(&key.derive(b"nonce-count table", 8), 16).unwrap_or(1);
        Authenticator {
            counts: Arc::new(NonceCounts::new(
                cfg.nonce_table_capacity,
                &mut Rng::new(seed),
            )),
            cfg,
            key,
            users,
            dummy_ha1,
        }
    }

    /// This authenticator, remembering the nonce counts `old` has seen
    /// (for a reload: a nonce used before stays used). Kept only when the
    /// table's capacity is unchanged; a resized table starts empty.
    pub fn carrying_over(mut self, old: &Authenticator) -> Authenticator {
        if self.cfg.nonce_table_capacity == old.cfg.nonce_table_capacity {
            self.counts = old.counts.clone();
        }
        self
    }

    /// The configuration (algorithms sorted strongest first).
    pub fn config(&self) -> &AuthConfig {
        &self.cfg
    }

    /// The account directory.
    pub fn users(&self) -> &dyn UserDirectory {
        self.users.as_ref()
    }

    /// Forgets nonce counts of nonces expired at `now_ms`.
    pub fn purge(&self, now_ms: u64) {
        self.counts.purge(now_ms);
    }

    /// The realm used for a request about `domain` (host, no port).
    pub fn realm_for<'a>(&'a self, domain: &'a str) -> &'a str {
        self.cfg.realm.as_deref().unwrap_or(domain)
    }

    /// A 401 with one challenge per enabled algorithm, strongest first,
    /// sharing one fresh nonce made with `salt` (a random value of the
    /// caller's: the core draws from its own seeded generator).
    pub fn challenge(&self, realm: &str, stale: bool, now_ms: u64, salt: u64) -> Reply {
        self.challenge_as(Role::Server, realm, stale, now_ms, salt)
    }

    /// [`Authenticator::challenge`] for `role` (a 407 for the proxy).
    pub fn challenge_as(
        &self,
        role: Role,
        realm: &str,
        stale: bool,
        now_ms: u64,
        salt: u64,
    ) -> Reply {
        let nonce = self.key.issue(now_ms, salt);
        let (code, reason, header) = role.reply();
        let mut reply = Reply::new(code, reason);
        for &algorithm in &self.cfg.algorithms {
            let c = Challenge {
                realm: Cow::Borrowed(realm),
                nonce: Cow::Borrowed(&nonce),
                opaque: Some(Cow::Borrowed(self.key.opaque())),
                algorithm,
                sess: false,
                qop: vec![Qop::Auth, Qop::AuthInt],
                stale,
            };
            reply = reply.with_header(header, c.to_string());
        }
        reply
    }

    /// Authenticates `req`, a request about `domain`: the account whose
    /// credentials it carries, or the 401 to send (its nonce salted with
    /// `salt`, a random value of the caller's).
    pub fn authenticate(
        &self,
        req: &Message,
        domain: &str,
        now_ms: u64,
        salt: u64,
    ) -> Result<Arc<User>, Refusal> {
        self.authenticate_as(Role::Server, req, domain, now_ms, salt)
    }

    /// [`Authenticator::authenticate`] for `role`: the proxy reads
    /// `Proxy-Authorization` and challenges with 407.
    pub fn authenticate_as(
        &self,
        role: Role,
        req: &Message,
        domain: &str,
        now_ms: u64,
        salt: u64,
    ) -> Result<Arc<User>, Refusal> {
        let refuse = |realm: &str, stale: bool, outcome: AuthOutcome| Refusal {
            reply: self.challenge_as(role, realm, stale, now_ms, salt),
            outcome,
        };
        let realm = self.realm_for(domain);
        // One credentials line per realm at most is expected; prefer ours.
        let mut first_digest = None;
        let mut ours = None;
        for line in req.headers(role.credentials()) {
            match Credentials::parse(line) {
                Ok(c) if c.realm == realm => {
                    ours = Some(Ok(c));
                    break;
                }
                other => {
                    if first_digest.is_none() {
                        first_digest = Some(other);
                    }
                }
            }
        }
        let creds = match ours.or(first_digest) {
            None => return Err(refuse(realm, false, AuthOutcome::Challenged)),
            Some(Err(_)) => {
                let outcome = AuthOutcome::Failed { username: None };
                return Err(refuse(realm, false, outcome));
            }
            Some(Ok(c)) => c,
        };
        let failed = || {
            let outcome = AuthOutcome::Failed {
                username: Some(creds.username.to_string()),
            };
            Err(refuse(realm, false, outcome))
        };
        let alg = creds.algorithm;
        let user = (creds.realm == realm)
            .then(|| self.users.find(realm, &creds.username))
            .flatten();
        let known = user.as_deref().and_then(|u| stored_ha1(u, alg));
        let ha1 = known.unwrap_or(&self.dummy_ha1[alg_index(alg)]);
        // The same work whether the user exists or not. The digest `uri`
        // is not compared with the Request-URI: clients differ in what they
        // put there (SIPp puts the remote address), the response covers it,
        // and the nonce-count table already stops reuse of credentials.
        let response_ok = creds.verify(ha1, req.method_str(), req.body());
        let enabled = self.cfg.algorithms.contains(&alg);
        if !(response_ok && known.is_some() && enabled) {
            return failed();
        }
        let expires_ms = match self
            .key
            .check(&creds.nonce, now_ms, self.cfg.nonce_lifetime_ms)
        {
            NonceStatus::Fresh { expires_ms } => expires_ms,
            NonceStatus::Stale => return Err(refuse(realm, true, AuthOutcome::Stale)),
            NonceStatus::Invalid => return failed(),
        };
        // Without qop (RFC 2069) a nonce is good for one request.
        let nc = match creds.qop {
            Some(_) => creds.nc_value().unwrap_or(0),
            None => 1,
        };
        if !self.counts.advance(&creds.nonce, nc, expires_ms, now_ms) {
            let outcome = AuthOutcome::Replayed {
                username: creds.username.to_string(),
            };
            return Err(refuse(realm, false, outcome));
        }
        user.ok_or_else(|| refuse(realm, false, AuthOutcome::Challenged))
    }

    /// RFC 3261 §10.3 step 4: may `user` register `aor`? Its own AOR
    /// (`user@domain`, any port) always; others only under a grant.
    pub fn may_register(&self, user: &User, aor: &str) -> bool {
        let own =
            aor_user_host(aor).is_some_and(|(u, host)| u == user.username && host == user.domain);
        own || self.cfg.grants.iter().any(|g| g.permits(user, aor))
    }
}
