//! Transports, connections and destinations: how the core names where a
//! message came from and where one goes, without touching a socket.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The SIP multicast group and port (`sip.mcast.net`, RFC 3261 §10.2.6):
/// where a registrar may listen, and where answers to requests received
/// there go when configured so (RFC 2543 §1.4.3).
pub const MULTICAST_GROUP: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(224, 0, 1, 75), 5060));

/// Transport a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, so transactions retransmit.
    Udp,
    /// TCP: reliable, responses sent on the same connection.
    Tcp,
}

impl Transport {
    /// Lower-case name, as stored in bindings.
    pub fn as_str(&self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }

    /// Upper-case name, as written in a Via (`SIP/2.0/UDP`).
    pub fn via_name(&self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    /// True for transports that retransmit by themselves (§17: timers are 0).
    pub fn is_reliable(&self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

/// The identity of one connection (a TCP stream today; TLS and WebSocket
/// later), given by the shell when the connection opens and named again in
/// every message received on it. Flows (RFC 5626) are connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A connection the shell opened or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// Its identity.
    pub id: ConnId,
    /// Its transport.
    pub transport: Transport,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The local address of the listener it belongs to.
    pub local: SocketAddr,
}

/// The address of a next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HopAddr {
    /// A socket address, ready to use.
    Socket(SocketAddr),
    /// A host name and port the shell resolves (A/AAAA, RFC 3263 §4.2
    /// without NAPTR/SRV).
    Name(String, u16),
}

/// Where the shell sends one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Transport to use.
    pub transport: Transport,
    /// The address: for a stream transport, a connection open to it is
    /// reused (§18.1.1).
    pub addr: HopAddr,
    /// The connection to send on, when the message answers one received
    /// on it; if it is gone, the shell falls back to `addr`.
    pub conn: Option<ConnId>,
    /// The local socket to send from (UDP) or that the connection was
    /// accepted on, when known.
    pub local: Option<SocketAddr>,
    /// For a stream transport, where to connect when no connection to
    /// `addr` is open (the registered contact URI, when `addr` is the
    /// address a REGISTER came from).
    pub fallback: Option<HopAddr>,
}

impl Destination {
    /// A literal socket address over `transport`, from `local`.
    pub fn socket(
        transport: Transport,
        addr: SocketAddr,
        local: Option<SocketAddr>,
    ) -> Destination {
        Destination {
            transport,
            addr: HopAddr::Socket(addr),
            conn: None,
            local,
            fallback: None,
        }
    }
}
