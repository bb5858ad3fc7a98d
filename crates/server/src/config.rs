//! What the shell needs to know to serve.

use location::{SqliteUsers, UserCache};
use sip_core::abuse::AbuseConfig;
use sip_core::auth::AuthConfig;
use sip_core::security::AuthMode;
use sip_core::CoreConfig;
use sip_message::Limits;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// One listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenAddr {
    /// A UDP socket.
    Udp(SocketAddr),
    /// A TCP listener.
    Tcp(SocketAddr),
}

impl ListenAddr {
    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            ListenAddr::Udp(a) | ListenAddr::Tcp(a) => *a,
        }
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Udp(a) => write!(f, "udp:{a}"),
            ListenAddr::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// Settings of the shell and the core it drives.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listeners to bind.
    pub listen: Vec<ListenAddr>,
    /// How long a TCP connection may stay idle before it is closed.
    pub tcp_idle_timeout: Duration,
    /// Core (registrar) settings.
    pub core: CoreConfig,
    /// Parser limits.
    pub limits: Limits,
    /// Extra names of this server accepted in Request-URIs (its listen
    /// addresses are always accepted).
    pub local_hosts: Vec<String>,
    /// Join the SIP multicast group, when set.
    pub multicast: Option<MulticastConfig>,
    /// Digest authentication; `None` serves without (`--auth off`).
    pub auth: Option<AuthSetup>,
    /// Brute-force and flood limits.
    pub abuse: AbuseConfig,
    /// Calls to unknown users get 480 like known users without bindings,
    /// instead of 404 (only meaningful with accounts).
    pub enumeration_protection: bool,
    /// How many endpoint instances serve (sharded by Call-ID); at least 1.
    pub shards: usize,
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

/// Serving the SIP multicast group 224.0.1.75:5060.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastConfig {
    /// Interface address to join on (0.0.0.0: chosen by the routing table).
    pub interface: std::net::Ipv4Addr,
}
