//! The handlers, one module per resource; each carries its OpenAPI
//! description (`#[utoipa::path]`), from which `router` builds both the
//! routes and the document.

pub(crate) mod bindings;
pub(crate) mod drain;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod pages;
pub(crate) mod reload;
pub(crate) mod security;
pub(crate) mod session;
pub(crate) mod stats;
pub(crate) mod users;

/// The tags grouping the operations in the document.
pub(crate) mod tags {
    /// Metrics, health, readiness, the document.
    pub const OPS: &str = "operations";
    /// Sessions of the dashboard.
    pub const SESSION: &str = "session";
    /// The location service.
    pub const BINDINGS: &str = "bindings";
    /// Accounts.
    pub const USERS: &str = "users";
    /// Counters and their history, the live feed, security.
    pub const STATS: &str = "stats";
    /// Drain and reload.
    pub const CONTROL: &str = "control";
    /// The dashboard's pages and files.
    pub const PAGES: &str = "pages";
}
