//! The sans-IO protocol core of locus: every decision is a function of the
//! input message, the state, and `now` (Unix milliseconds, given by the
//! caller); outputs are messages to send, store operations and timers.
//! Nothing here touches a socket, a clock, an entropy source or a database
//! handle.
//!
//! The entry point is [`Endpoint`] ([`endpoint`]): messages, timer
//! expiries and store results in; transmits, store operations and timers
//! out. Behind it:
//!
//! - [`transaction`]: server and client transactions (RFC 3261 §17, RFC
//!   6026) and their timers, one implementation per role;
//! - [`registrar`]: the decision of RFC 3261 §10.3 on one AOR's bindings;
//! - [`proxy`]: the transaction-stateful proxy of §16 (forking, CANCEL,
//!   the ACK rules) and, with [`redirect`], the redirect server of §8.3;
//! - [`auth`], [`digest`], [`abuse`] and [`security`]: digest
//!   authentication (RFC 7616, RFC 8760), brute-force and flood control,
//!   and who must authenticate;
//! - [`client`]: the registration client (RFC 3261 §10.2) for `locus
//!   register` and load tests;
//! - [`response`], [`validate`]: writing responses (§8.2.6, RFC 3581) and
//!   the checks every request passes (§8.1.1, §8.2);
//! - plain data: [`config`], [`context`], [`io`], [`reply`], [`transport`],
//!   and the seeded generator [`rng`].

pub mod abuse;
pub mod auth;
pub mod client;
pub mod config;
pub mod context;
pub mod digest;
pub mod endpoint;
pub mod io;
mod outbox;
pub mod proxy;
pub mod redirect;
pub mod registrar;
pub mod reply;
pub mod response;
pub mod rng;
pub mod security;
mod text;
pub mod transaction;
pub mod transport;
pub mod validate;

pub use config::{
    CoreConfig, Forking, Listener, Mode, MulticastRegister, ProxyConfig, RegistrarConfig,
};
pub use context::RequestContext;
pub use endpoint::{Endpoint, EndpointConfig, Inbound};
pub use io::{Event, OpId, Received, StoreOp, StoreOpKind, StoreResult, Transmit, WriteOp};
pub use reply::Reply;
pub use transport::{ConnId, Connection, Destination, HopAddr, Transport};

/// Methods the server answers itself, for `Allow` headers.
pub const ALLOW: &str = "REGISTER, OPTIONS";

/// Option-tags the server supports, for `Supported` headers and `Require` checks.
pub const SUPPORTED: &[&str] = &["path"];

/// Product token for `Server` headers.
pub const SERVER_NAME: &str = concat!("locus/", env!("CARGO_PKG_VERSION"));
