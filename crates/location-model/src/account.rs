//! Accounts of digest authentication: who may register, per domain, with
//! the HA1 of each digest algorithm (never a password).

use crate::StoreError;
use std::sync::Arc;

/// HA1 values (`H(username:realm:password)`, lower-case hex) of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ha1Set {
    /// For `MD5`.
    pub md5: Option<String>,
    /// For `SHA-256`.
    pub sha256: Option<String>,
    /// For `SHA-512-256`.
    pub sha512_256: Option<String>,
}

/// One account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user part of the address-of-record this account owns.
    pub username: String,
    /// The domain of that address-of-record (lower case).
    pub domain: String,
    /// The realm the HA1 values were computed for (the domain unless
    /// configured otherwise).
    pub realm: String,
    /// The HA1 values.
    pub ha1: Ha1Set,
}

/// Account administration, implemented by each backend.
pub trait UserStore: Send + Sync + 'static {
    /// Adds or replaces the account (`domain`, `username`). Returns true
    /// when it was added, false when it replaced one.
    fn put(&self, user: &User, now_ms: u64) -> Result<bool, StoreError>;
    /// The account (`domain`, `username`), if any.
    fn get(&self, domain: &str, username: &str) -> Result<Option<User>, StoreError>;
    /// Removes an account; false when there was none.
    fn remove(&self, domain: &str, username: &str) -> Result<bool, StoreError>;
    /// Every account (of one domain, or all), sorted by domain and name.
    fn list(&self, domain: Option<&str>) -> Result<Vec<User>, StoreError>;
    /// A counter that changes whenever an account changes.
    fn version(&self) -> Result<i64, StoreError>;
}

/// Account lookup for authentication, from memory: what the
/// authenticating core asks ("who is `alice` in realm `example.com`?").
pub trait UserDirectory: Send + Sync {
    /// The account named `username` whose HA1 values were computed for
    /// `realm`.
    fn find(&self, realm: &str, username: &str) -> Option<Arc<User>>;
    /// True when there are no accounts at all.
    fn is_empty(&self) -> bool;
}
