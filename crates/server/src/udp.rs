//! The UDP transport: one receiving thread per socket.
//!
//! Each socket is a blocking one, read by a thread of its own that sleeps
//! in `recvfrom` and hands each datagram on as it arrives: no readiness
//! poll before every read and no read that finds the socket empty, which
//! under load are most of what an async receive loop costs per datagram.
//! Datagrams are sent (by the sender) with a blocking `sendto`, bounded
//! by a write timeout; a UDP send waits only when the socket's own send
//! buffer is full.

use crate::shutdown::Shutdown;
use crate::sink::Deliver;
use bytes::Bytes;
use sip_core::{Received, Transport};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

/// Socket buffer asked for: registration storms arrive in bursts, and a
/// datagram dropped by the kernel costs the phone a retransmission. The
/// kernel caps it at `net.core.rmem_max` / `wmem_max`.
const SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// How often an idle receiving thread looks at the shutdown signal.
const SHUTDOWN_POLL: Duration = Duration::from_millis(200);

/// Longest a send may wait for room in the socket's send buffer before
/// the datagram is given up (the peer's retransmission recovers it).
const SEND_TIMEOUT: Duration = Duration::from_millis(100);

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
    let sock: UdpSocket = sock.into();
    blocking_with_timeouts(&sock)?;
    Ok(sock)
}

/// Makes `sock` blocking, with the read timeout of the shutdown poll and
/// the write timeout of a send.
pub(crate) fn blocking_with_timeouts(sock: &UdpSocket) -> io::Result<()> {
    sock.set_nonblocking(false)?;
    sock.set_read_timeout(Some(SHUTDOWN_POLL))?;
    sock.set_write_timeout(Some(SEND_TIMEOUT))
}

/// Runs the receive loop of `sock` on a blocking-pool thread until
/// shutdown, handing each datagram to `deliver` as received at `local`;
/// `multicast` marks them as sent to the SIP multicast group.
pub(crate) async fn receive_on_thread(
    deliver: Arc<dyn Deliver>,
    sock: Arc<UdpSocket>,
    local: SocketAddr,
    max_message_size: usize,
    multicast: bool,
    shutdown: Shutdown,
) {
    let thread = tokio::task::spawn_blocking(move || {
        receive_loop(
            deliver.as_ref(),
            &sock,
            local,
            max_message_size,
            multicast,
            &shutdown,
        )
    });
    if let Err(e) = thread.await {
        tracing::error!(%local, error = %e, "udp receiving thread failed");
    }
}

/// The receive loop of one UDP socket.
fn receive_loop(
    deliver: &dyn Deliver,
    sock: &UdpSocket,
    local: SocketAddr,
    max_message_size: usize,
    multicast: bool,
    shutdown: &Shutdown,
) {
    // One byte more than the limit, so an oversized datagram is seen as such.
    let mut buf = vec![0u8; max_message_size + 1];
    while !shutdown.is_triggered() {
        match sock.recv_from(&mut buf) {
            Ok((0, _)) => {}
            Ok((n, source)) => deliver.received(Received {
                transport: Transport::Udp,
                source,
                local,
                conn: None,
                multicast,
                stamp: crate::stamp_us(),
                bytes: Bytes::copy_from_slice(&buf[..n]),
            }),
            // The read timeout: time to look at the shutdown signal.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // ICMP port unreachable from an earlier send shows up here on
            // some systems; it is not a reason to stop serving.
            Err(e) => tracing::debug!(error = %e, "udp receive error"),
        }
    }
}
