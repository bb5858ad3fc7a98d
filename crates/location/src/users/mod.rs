//! Users of digest authentication: who may register, per domain, with the
//! HA1 of each digest algorithm (never a password).
//!
//! The model ([`crate::User`], the administration interface
//! [`crate::UserStore`] and the authenticating core's
//! [`crate::UserDirectory`]) lives in `location-model`; here are the
//! backends:
//! - [`SqliteUsers`] keeps the accounts in the same `locus.db` as the
//!   bindings.
//! - [`UserCache`] is an in-memory snapshot of a [`crate::UserStore`], reloaded
//!   when the store's change counter moves ([`UserCache::refresh`]), so a
//!   running server sees `locus users` changes without a restart and a
//!   lookup never touches the disk: known and unknown names cost the same.

mod cache;
mod sqlite;

pub use cache::UserCache;
pub use sqlite::{SqliteUsers, UsersTx};
