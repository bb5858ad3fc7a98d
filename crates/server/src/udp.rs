//! The UDP transport: one receive loop per socket.

use crate::dispatch::{Responder, Shared};
use crate::shutdown::Shutdown;
use bytes::Bytes;
use location::LocationStore;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;

/// Socket buffer asked for: registration storms arrive in bursts, and a
/// datagram dropped by the kernel costs the phone a retransmission. The
/// kernel caps it at `net.core.rmem_max` / `wmem_max`.
const SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// Binds a UDP socket with large receive and send buffers.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if addr.is_ipv6() {
        // Listen on exactly the address given (no IPv4-mapped traffic).
        sock.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer than asked for is not an error.
    let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
    sock.bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on udp:{addr}: {e}")))?;
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

/// Receives datagrams until shutdown.
pub(crate) async fn serve<S: LocationStore>(
    shared: Arc<Shared<S>>,
    sock: Arc<UdpSocket>,
    shutdown: Shutdown,
) {
    let local = match sock.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "udp socket has no local address");
            return;
        }
    };
    receive_loop(shared, sock.clone(), local, sock, false, shutdown).await;
}

/// The receive loop of one UDP socket, answering from `reply_from`;
/// `multicast` marks its requests as received on the SIP multicast group.
pub(crate) async fn receive_loop<S: LocationStore>(
    shared: Arc<Shared<S>>,
    sock: Arc<UdpSocket>,
    local: SocketAddr,
    reply_from: Arc<UdpSocket>,
    multicast: bool,
    shutdown: Shutdown,
) {
    let max = shared.limits.max_message_size;
    let mut buf = vec![0u8; max + 1];
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, source)) => {
                    if n == 0 {
                        continue;
                    }
                    let raw = Bytes::copy_from_slice(&buf[..n]);
                    shared.handle(raw, source, local, Responder::Udp(reply_from.clone()), multicast);
                }
                // ICMP port unreachable from an earlier send shows up here on
                // some systems; it is not a reason to stop serving.
                Err(e) => tracing::debug!(error = %e, "udp receive error"),
            }
        }
    }
}
