//! Where a request came from and what the server knows about itself when
//! it decides on it.

use crate::auth::Authenticator;
use crate::transport::{ConnId, Transport};
use std::net::SocketAddr;

/// Where a request came from and where it arrived.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The peer's address (source of the datagram or connection).
    pub source: SocketAddr,
    /// Our socket it arrived on.
    pub local: SocketAddr,
    /// The transport.
    pub transport: Transport,
    /// The connection it arrived on (stream transports).
    pub conn: Option<ConnId>,
    /// Host names and addresses that mean "this server" in a Request-URI
    /// (lower case), besides the served domains.
    pub local_hosts: &'a [String],
    /// True when the request came to the SIP multicast group (224.0.1.75).
    pub multicast: bool,
    /// When set, REGISTER and OPTIONS must carry valid digest credentials
    /// and a REGISTER must be for an AOR the user may register; `None`
    /// serves without authentication (explicitly off, or the first-run
    /// open mode).
    pub auth: Option<&'a Authenticator>,
    /// A random value drawn for this request: the salt of any nonce its
    /// answer carries (the core has no entropy source of its own).
    pub nonce_salt: u64,
    /// The shell's arrival stamp of the request ([`crate::Received::stamp`]).
    pub stamp: u64,
}

impl RequestContext<'_> {
    /// True when `host` (lower case) names this server itself.
    pub fn is_local_host(&self, host: &str) -> bool {
        self.local_hosts.iter().any(|h| h == host)
            || crate::text::AddrText::ip(self.local.ip()).as_str() == host
            || (self.local.ip().is_unspecified()
                && host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback()))
    }

    /// The source as "ip:port" ("[v6]:port" for IPv6).
    pub fn source_text(&self) -> String {
        crate::text::AddrText::socket(self.source)
            .as_str()
            .to_string()
    }

    /// The local socket as "ip:port".
    pub fn local_text(&self) -> String {
        crate::text::AddrText::socket(self.local)
            .as_str()
            .to_string()
    }
}
