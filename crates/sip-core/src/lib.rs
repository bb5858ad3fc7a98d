//! The sans-IO protocol core of locus: every decision is a function of the
//! input message, the state, and `now` (Unix milliseconds, given by the
//! caller); outputs are bytes to send and store changes to apply. Nothing
//! here touches a socket, a clock or a database handle.
//!
//! - [`transaction`]: non-INVITE server transactions (RFC 3261 §17.2.2).
//! - [`registrar`]: the eight steps of RFC 3261 §10.3.
//! - [`response`]: building responses from requests (§8.2.6, RFC 3581).
//! - [`client`]: the registration client (RFC 3261 §10.2) for `locus register` and load tests.
//! - [`core`]: the dispatcher that turns a parsed request into an [`core::Action`].
//! - [`proxy`]: the transaction-stateful proxy of §16 with INVITE and
//!   non-INVITE client and server transactions (§17).
//! - [`redirect`]: the 302 of a redirect server (§8.3).

pub mod abuse;
pub mod auth;
pub mod client;
pub mod core;
pub mod digest;
pub mod proxy;
pub mod redirect;
pub mod registrar;
pub mod response;
mod text;
pub mod transaction;

pub use crate::core::{Action, Core, CoreConfig, MulticastRegister, RequestContext, Transport};
pub use registrar::{PendingRegister, RegistrarConfig};
pub use transaction::{TransactionKey, TransactionTable, TxDisposition};

/// Methods the server answers itself, for `Allow` headers.
pub const ALLOW: &str = "REGISTER, OPTIONS";

/// Option-tags the server supports, for `Supported` headers and `Require` checks.
pub const SUPPORTED: &[&str] = &["path"];

/// Product token for `Server` headers.
pub const SERVER_NAME: &str = concat!("locus/", env!("CARGO_PKG_VERSION"));
