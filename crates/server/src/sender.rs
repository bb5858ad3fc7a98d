//! Sending what the endpoint outputs: over the UDP socket it names (or one
//! of the same address family), on the connection it names or one open to
//! the peer, or, when a name must be resolved or a connection opened, from
//! a task. A request that cannot be sent is reported back for its branch.

use crate::connections::QueueError;
use crate::tcp::{self, Streams};
use bytes::Bytes;
use sip_core::{Destination, HopAddr, Transmit, Transport};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;

/// Sends transmits; cheap to call from any thread (a receiving thread, the
/// store's writer thread, a runtime task).
pub(crate) struct Sender {
    udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    streams: Streams,
    runtime: tokio::runtime::Handle,
}

impl Sender {
    /// A sender over the unicast UDP sockets `udp` and the connections of
    /// `streams`, spawning slow sends on `runtime`.
    pub(crate) fn new(
        udp: &[Arc<UdpSocket>],
        streams: Streams,
        runtime: tokio::runtime::Handle,
    ) -> Sender {
        Sender {
            udp: udp
                .iter()
                .filter_map(|s| s.local_addr().ok().map(|a| (a, s.clone())))
                .collect(),
            streams,
            runtime,
        }
    }

    /// The UDP socket to send to `dest` from: the one bound at `local` if
    /// given, else the first of the same address family.
    fn udp_socket_for(&self, local: Option<SocketAddr>, dest: SocketAddr) -> Option<&UdpSocket> {
        local
            .and_then(|l| self.udp.iter().find(|(a, _)| *a == l))
            .or_else(|| self.udp.iter().find(|(a, _)| a.is_ipv4() == dest.is_ipv4()))
            .map(|(_, s)| s.as_ref())
    }

    /// Sends `t`: at once when its destination is a literal address or an
    /// open connection, else from a task.
    pub(crate) fn send(self: &Arc<Self>, t: Transmit) {
        match (t.dest.transport, &t.dest.addr) {
            (Transport::Udp, HopAddr::Socket(addr)) => {
                let sent = self
                    .udp_socket_for(t.dest.local, *addr)
                    .map(|sock| sock.send_to(&t.bytes, *addr));
                match sent {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        // The socket's send buffer stayed full for its write
                        // timeout: the peer's retransmission recovers it.
                        tracing::warn!(dest = %addr, error = %e, "udp send failed");
                        self.failed(t.branch);
                    }
                    None => {
                        tracing::info!(dest = %addr, "no udp socket to send from");
                        self.failed(t.branch);
                    }
                }
            }
            (Transport::Tcp, HopAddr::Socket(addr)) => {
                let open = t
                    .dest
                    .conn
                    .and_then(|id| self.streams.connections.by_id(id))
                    .or_else(|| self.streams.connections.by_peer(*addr));
                match open.map(|conn| conn.send(t.bytes.clone())) {
                    Some(Ok(())) => {}
                    // A peer that stopped reading is being cut off: the
                    // message is lost with it.
                    Some(Err(QueueError::Stalled)) => self.failed(t.branch),
                    Some(Err(QueueError::Closed)) | None => self.spawn(t),
                }
            }
            (_, HopAddr::Name(..)) => self.spawn(t),
        }
    }

    /// A send that must wait: a name to resolve or a connection to open.
    fn spawn(self: &Arc<Self>, t: Transmit) {
        let this = self.clone();
        self.runtime.spawn(async move {
            if let Err(e) = this.send_slow(&t.dest, t.bytes).await {
                tracing::info!(dest = ?t.dest.addr, error = %e, "send failed");
                this.failed(t.branch);
            }
        });
    }

    async fn send_slow(&self, dest: &Destination, bytes: Bytes) -> io::Result<()> {
        match dest.transport {
            Transport::Udp => {
                let addr = resolve(&dest.addr).await?;
                let sock = self.udp_socket_for(dest.local, addr).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "no udp socket to send from")
                })?;
                sock.send_to(&bytes, addr).map(|_| ())
            }
            Transport::Tcp => {
                // No open connection: connect to the contact (fallback) or
                // to the address itself (§18.2.2: the source of a request
                // whose connection closed).
                let target = dest.fallback.as_ref().unwrap_or(&dest.addr);
                let addr = resolve(target).await?;
                let conn = match self.streams.connections.by_peer(addr) {
                    Some(c) => c,
                    None => tcp::connect(&self.streams, addr, dest.local).await?,
                };
                conn.send(bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        format!("connection unusable: {e:?}"),
                    )
                })
            }
        }
    }

    /// Reports a request that could not be sent, for its branch.
    fn failed(&self, branch: Option<String>) {
        if let (Some(branch), Some(deliver)) = (branch, self.streams.deliver.upgrade()) {
            deliver.send_failed(branch);
        }
    }
}

/// A next hop's address: literal, or the first A/AAAA record of the name
/// (RFC 3263 §4.2 without NAPTR and SRV).
async fn resolve(addr: &HopAddr) -> io::Result<SocketAddr> {
    match addr {
        HopAddr::Socket(a) => Ok(*a),
        HopAddr::Name(host, port) => tokio::net::lookup_host((host.as_str(), *port))
            .await?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for host")),
    }
}
