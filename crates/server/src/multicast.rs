//! The SIP multicast group (`sip.mcast.net`, 224.0.1.75, RFC 3261 §10.2.6):
//! a UDP socket joined to it, read like any other UDP socket but with its
//! requests marked as multicast. Answers leave from a unicast socket (a
//! socket bound to the group cannot be a source).

use sip_core::transport::MULTICAST_GROUP;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};

/// Binds the group's port (shared with other sockets, SO_REUSEADDR) and
/// joins the group on `interface` (0.0.0.0: the interface the kernel
/// routes the group through).
pub(crate) fn bind(interface: Ipv4Addr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let SocketAddr::V4(group) = MULTICAST_GROUP else {
        return Err(io::Error::other("the SIP multicast group is IPv4"));
    };
    let fail = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot join {MULTICAST_GROUP} on {interface}: {e}"),
        )
    };
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(fail)?;
    sock.set_reuse_address(true).map_err(fail)?;
    sock.bind(&SocketAddr::V4(SocketAddrV4::new(*group.ip(), group.port())).into())
        .map_err(fail)?;
    sock.join_multicast_v4(group.ip(), &interface)
        .map_err(fail)?;
    sock.set_multicast_loop_v4(true).map_err(fail)?;
    let sock: UdpSocket = sock.into();
    crate::udp::blocking_with_timeouts(&sock).map_err(fail)?;
    Ok(sock)
}
