//! Settings of the protocol core: registrar policy, router policy (proxy
//! or redirect per domain, forking, timers, Record-Route, relaying, the
//! sockets it may send from), and what a REGISTER on the multicast group
//! gets. Plain data, imported by the modules that decide.

use crate::transport::Transport;
use std::collections::HashMap;
use std::net::SocketAddr;

/// What a REGISTER received on the multicast group gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MulticastRegister {
    /// 302 pointing at this server's unicast address (RFC 3261 §10.3).
    #[default]
    Redirect,
    /// Processed like any REGISTER.
    Process,
}

/// Settings of the core.
#[derive(Debug, Clone, Default)]
pub struct CoreConfig {
    /// Registrar policy.
    pub registrar: RegistrarConfig,
    /// Router (proxy and redirect server) policy.
    pub proxy: ProxyConfig,
    /// REGISTERs arriving on the multicast group.
    pub multicast_register: MulticastRegister,
    /// Send responses to requests received on the multicast group to the
    /// group itself (RFC 2543 §1.4.3) rather than back to the sender.
    pub multicast_reply_to_group: bool,
    /// Host names and addresses that mean "this server" in a Request-URI
    /// (lower case), besides the served domains: the listeners' addresses,
    /// `localhost` on a loopback listener, and any configured names.
    pub local_hosts: Vec<String>,
}

/// Registrar policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Domains served (lower case); empty means every domain.
    pub domains: Vec<String>,
    /// Expiry used when the request gives none (or an invalid one), seconds.
    pub default_expires: u32,
    /// Shortest non-zero expiry accepted; shorter ones get 423.
    pub min_expires: u32,
    /// Longest expiry granted; longer ones are clamped to it.
    pub max_expires: u32,
    /// Most bindings one AOR may hold.
    pub max_contacts: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            domains: Vec::new(),
            default_expires: 3600,
            min_expires: 60,
            max_expires: 86_400,
            max_contacts: 10,
        }
    }
}

impl RegistrarConfig {
    /// True when `host` (lower case) is a domain this registrar serves.
    pub fn serves(&self, host: &str) -> bool {
        self.domains.is_empty() || self.domains.iter().any(|d| d == host)
    }
}

/// What the server does with a request for a registered AOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward it to the AOR's contacts (RFC 3261 §16).
    Proxy,
    /// Answer 302 listing the AOR's contacts (RFC 3261 §8.3, §21.3).
    Redirect,
}

/// How the contacts of one AOR are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forking {
    /// Contacts of equal q in parallel, lower-q groups after the higher
    /// group failed (RFC 3261 §16.6 with the q text of §8.3).
    ByQ,
    /// Every contact at once, whatever its q.
    Parallel,
    /// One contact at a time, highest q first.
    Sequential,
}

/// One socket the server listens on (and may send from).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// Its transport.
    pub transport: Transport,
    /// Its bound address.
    pub addr: SocketAddr,
}

/// Settings of the router.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The mode of domains without an entry in `domain_modes`.
    pub mode: Mode,
    /// Per-domain modes (lower-case domain → mode).
    pub domain_modes: HashMap<String, Mode>,
    /// How contacts are forked.
    pub forking: Forking,
    /// Timer C of RFC 3261 §16.8: how long one INVITE branch may ring (reset
    /// by each provisional response) before it is cancelled; in ms.
    pub branch_timeout_ms: u64,
    /// Add Record-Route to dialog-initiating requests, so in-dialog requests
    /// come back through this server (needed behind NAT and for TCP flows).
    pub record_route: bool,
    /// Forward requests for domains this server does not serve (RFC 3263
    /// address resolution done by the shell). Off: such requests are refused.
    pub relay: bool,
    /// Status used to refuse a request for a foreign domain when relaying is
    /// off: 403 or 404.
    pub relay_denied_status: u16,
    /// The sockets of this server, filled in by the shell once bound.
    pub listeners: Vec<Listener>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            mode: Mode::Proxy,
            domain_modes: HashMap::new(),
            forking: Forking::ByQ,
            branch_timeout_ms: 180_000,
            record_route: true,
            relay: false,
            relay_denied_status: 403,
            listeners: Vec::new(),
        }
    }
}

impl ProxyConfig {
    /// The mode of `domain` (lower case).
    pub fn mode_for(&self, domain: &str) -> Mode {
        self.domain_modes.get(domain).copied().unwrap_or(self.mode)
    }

    /// True when `port` (the default 5060 when absent) is one of the ports
    /// this server listens on.
    pub fn listens_on_port(&self, port: Option<u16>) -> bool {
        let port = port.unwrap_or(5060);
        self.listeners.is_empty() || self.listeners.iter().any(|l| l.addr.port() == port)
    }

    /// The socket to send from over `transport` towards `dest` (its address
    /// family), preferring `preferred` (the socket a binding registered on).
    pub fn listener_for(
        &self,
        transport: Transport,
        dest: Option<SocketAddr>,
        preferred: Option<SocketAddr>,
    ) -> Option<Listener> {
        let of_transport = || self.listeners.iter().filter(|l| l.transport == transport);
        if let Some(p) = preferred {
            if let Some(l) = of_transport().find(|l| l.addr == p) {
                return Some(*l);
            }
        }
        if let Some(d) = dest {
            if let Some(l) = of_transport().find(|l| l.addr.is_ipv4() == d.is_ipv4()) {
                return Some(*l);
            }
        }
        of_transport().next().copied()
    }
}
