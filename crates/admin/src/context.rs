//! What the API acts on: the running server, the accounts, the realm of
//! new accounts and the reload, handed in by `locus serve`.

use std::sync::Arc;

/// What the API acts on.
#[derive(Clone)]
pub struct AdminContext {
    /// The running SIP server.
    pub node: server::Node,
    /// The accounts; `None`: `/api/v1/users` answers 404 with a JSON error.
    pub users: Option<Arc<dyn location_model::UserStore>>,
    /// The digest realm of a domain (the HA1 of new accounts is computed for it).
    pub realm_for: Arc<dyn Fn(&str) -> String + Send + Sync>,
    /// What `POST /api/v1/reload` (and SIGHUP in locus) calls.
    pub reload: Arc<dyn Reload>,
    /// The version of locus, shown by `/api/v1/stats` and the OpenAPI document.
    pub version: &'static str,
}

impl std::fmt::Debug for AdminContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminContext")
            .field("node", &self.node)
            .field("users", &self.users.is_some())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Re-reads the configuration and applies it.
pub trait Reload: Send + Sync + 'static {
    /// Re-reads the config file and applies it (the whole of it, or
    /// nothing). `Err` carries the reason: it is logged and answered 422.
    fn reload(&self) -> Result<server::Reloaded, String>;
}
