//! The UDP transport: one receive loop per socket.

use crate::dispatch::{Responder, Shared};
use crate::shutdown::Shutdown;
use bytes::Bytes;
use location::LocationStore;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;

/// Binds a UDP socket with a large receive buffer (registration storms
/// arrive in bursts).
pub(crate) fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let std_sock = std::net::UdpSocket::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on udp:{addr}: {e}")))?;
    std_sock.set_nonblocking(true)?;
    UdpSocket::from_std(std_sock)
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
