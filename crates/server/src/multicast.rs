//! The SIP multicast group (`sip.mcast.net`, 224.0.1.75, RFC 3261 §10.2.6):
//! a UDP socket joined to it, served like any other UDP socket but with
//! requests marked as multicast.

use crate::dispatch::Shared;
use crate::shutdown::Shutdown;
use location::LocationStore;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;

/// The well-known group and port.
pub(crate) const GROUP: SocketAddr = SocketAddr::V4(SocketAddrV4::new(GROUP_IP, 5060));

/// `sip.mcast.net`.
const GROUP_IP: Ipv4Addr = Ipv4Addr::new(224, 0, 1, 75);

/// Binds port 5060 (shared with other sockets, SO_REUSEADDR) and joins the
/// group on `interface` (0.0.0.0: the interface the kernel routes the group
/// through).
pub(crate) fn bind(interface: Ipv4Addr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let fail =
        |e: io::Error| io::Error::new(e.kind(), format!("cannot join {GROUP} on {interface}: {e}"));
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(fail)?;
    sock.set_reuse_address(true).map_err(fail)?;
    sock.bind(&SocketAddr::V4(SocketAddrV4::new(GROUP_IP, GROUP.port())).into())
        .map_err(fail)?;
    sock.join_multicast_v4(&GROUP_IP, &interface)
        .map_err(fail)?;
    sock.set_multicast_loop_v4(true).map_err(fail)?;
    let sock: UdpSocket = sock.into();
    crate::udp::blocking_with_timeouts(&sock).map_err(fail)?;
    Ok(sock)
}

/// Receives datagrams sent to the group until shutdown. Answers leave from
/// a unicast socket (a socket bound to the group cannot be a source).
pub(crate) async fn serve<S: LocationStore>(
    shared: Arc<Shared<S>>,
    sock: Arc<UdpSocket>,
    shutdown: Shutdown,
) {
    let reply_from = shared
        .udp_socket_for(None, GROUP)
        .unwrap_or_else(|| sock.clone());
    crate::udp::receive_on_thread(shared, sock, GROUP, reply_from, true, shutdown).await;
}
