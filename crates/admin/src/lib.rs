//! The admin listener of locus: Prometheus metrics, health and readiness,
//! the REST API under `/api/v1` (described by its own OpenAPI document),
//! the live feed of binding changes (SSE) and the dashboard's static pages.
//!
//! `locus serve` builds an [`AdminConfig`] from its flags, loads the token
//! ([`load_or_create_token`]), [`bind`]s (which refuses a non-loopback
//! address without TLS or `--admin-insecure`), then runs
//! [`AdminListener::serve`] with an [`AdminContext`] (the running
//! [`server::Node`], the accounts, the reload) until its
//! [`server::Shutdown`] fires.
//!
//! Modules: `config` and `context` (what the caller hands in), `token`,
//! `listener`, `tls` and `peer` (sockets, certificates, client
//! addresses), `state` (what every request shares), `auth`, `caller`,
//! `sessions` and `headers` (the gate every request passes), `error` and
//! `extract` (JSON errors and the extractors that give them), `audit`,
//! `history` (the stats sampler), `store_call`, `clock`, `router` (routes
//! and the OpenAPI document) and `api/` (one module per resource).

#![warn(missing_docs)]

mod api;
mod audit;
mod auth;
mod caller;
mod clock;
mod config;
mod context;
mod error;
mod extract;
mod headers;
mod history;
mod listener;
mod peer;
mod router;
mod sessions;
mod state;
mod store_call;
mod tls;
mod token;

pub use config::{AdminConfig, TlsFiles};
pub use context::{AdminContext, Reload};
pub use listener::{bind, AdminListener};
pub use tls::TlsReloader;
pub use token::{load_or_create_token, Token};
