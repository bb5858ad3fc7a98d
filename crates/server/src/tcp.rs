//! The TCP transport: an accept loop, outgoing connections, and per
//! connection a reader that frames messages and a writer task. Each
//! connection gets an identity when it opens, is registered for reuse, and
//! is reported to the endpoint opened and closed.

use crate::connections::{ConnWriter, Connections, Live};
use crate::shutdown::Shutdown;
use crate::sink::Deliver;
use bytes::Bytes;
use sip_core::{ConnId, Connection, Received, Transport};
use sip_message::{Frame, Limits, StreamFramer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

/// How long an outgoing connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one write may wait for the peer to take the bytes: a peer
/// that stopped reading is cut off after this long.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection needs: where its traffic goes, the registry, the
/// limits and the idle timeout.
#[derive(Clone)]
pub(crate) struct Streams {
    /// Where messages and connection events go (weak: the shell owns the
    /// sender that holds this, and must be freed when serving ends).
    pub(crate) deliver: Weak<dyn Deliver>,
    /// The registry of open connections.
    pub(crate) connections: Arc<Connections>,
    /// Parser limits (the framer enforces the size).
    pub(crate) limits: Limits,
    /// An idle connection is closed after this long.
    pub(crate) idle: Duration,
    /// Stops every connection.
    pub(crate) shutdown: Shutdown,
}

/// Accepts connections until shutdown.
pub(crate) async fn serve(listener: TcpListener, streams: Streams) {
    loop {
        tokio::select! {
            _ = streams.shutdown.wait() => return,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    // Its local address is the listener's, with the
                    // concrete interface address of a wildcard listener.
                    start(&streams, stream, peer, None);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "tcp accept failed");
                    // Out of file descriptors and the like: back off briefly.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Opens a connection to `peer` for an outgoing message; `local` is the
/// listener whose address the message's Via names (the connection itself
/// uses an ephemeral port).
pub(crate) async fn connect(
    streams: &Streams,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) -> std::io::Result<ConnWriter> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = stream.set_nodelay(true);
    Ok(start(streams, stream, peer, local))
}

/// Registers the connection, reports it opened, and spawns its reader and
/// writer; returns its writer handle.
fn start(
    streams: &Streams,
    stream: TcpStream,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) -> ConnWriter {
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let closing = Arc::new(Notify::new());
    let queued = Arc::new(AtomicUsize::new(0));
    let writer = ConnWriter::new(tx, queued.clone(), closing.clone());
    let (id, live) = streams.connections.open(peer, writer.clone());
    let conn = Conn {
        id,
        peer,
        local,
        writer: writer.clone(),
        queued,
        closing,
        _live: live,
    };
    tokio::spawn(connection(streams.clone(), stream, conn, rx));
    writer
}

/// One connection's identity and handles, owned by its task.
struct Conn {
    id: ConnId,
    peer: SocketAddr,
    /// The listener address its messages name, if not its own.
    local: Option<SocketAddr>,
    writer: ConnWriter,
    /// Bytes queued for the writer and not yet written.
    queued: Arc<AtomicUsize>,
    /// Notified when the connection must close: its peer stalled.
    closing: Arc<Notify>,
    /// Counts the task as running until it ends.
    _live: Live,
}

/// Reads and frames one connection until it closes, is idle too long, or
/// the server shuts down; its writer sends what is queued for it.
async fn connection(
    streams: Streams,
    stream: TcpStream,
    conn: Conn,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
) {
    let Conn {
        id,
        peer,
        local: local_override,
        writer: tx,
        queued,
        closing,
        _live,
    } = conn;
    let Ok(local) = stream.local_addr() else {
        streams.connections.close(id);
        return;
    };
    let local = local_override.unwrap_or(local);
    let Some(deliver) = streams.deliver.upgrade() else {
        streams.connections.close(id);
        return;
    };
    deliver.opened(Connection {
        id,
        transport: Transport::Tcp,
        peer,
        local,
    });
    let (mut rd, mut wr) = stream.into_split();
    let stalled = closing.clone();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&bytes)).await {
                Ok(Ok(())) => {
                    queued.fetch_sub(bytes.len(), Ordering::AcqRel);
                }
                Ok(Err(_)) => break,
                Err(_) => {
                    tracing::info!(peer = %peer, "tcp peer stopped reading: connection closed");
                    stalled.notify_one();
                    break;
                }
            }
        }
        let _ = wr.shutdown().await;
    });
    let received = |bytes: Bytes| Received {
        transport: Transport::Tcp,
        source: peer,
        local,
        conn: Some(id),
        multicast: false,
        stamp: crate::stamp_us(),
        bytes,
    };
    let mut framer = StreamFramer::new(streams.limits);
    'read: loop {
        let buf = framer.buffer_mut();
        buf.reserve(4096);
        tokio::select! {
            _ = streams.shutdown.wait() => break 'read,
            _ = closing.notified() => {
                tracing::info!(peer = %peer, "tcp peer stalled: connection closed");
                break 'read;
            }
            r = tokio::time::timeout(streams.idle, rd.read_buf(buf)) => match r {
                Ok(Ok(0)) | Ok(Err(_)) => break 'read,
                Ok(Ok(_)) => {}
                Err(_) => {
                    tracing::debug!(peer = %peer, "idle tcp connection closed");
                    break 'read;
                }
            }
        }
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(raw))) => deliver.received(received(raw)),
                // Over the size limit: answered 513 while the framer skips
                // the rest of it (RFC 3261 §21.5.14).
                Ok(Some(Frame::TooLarge(head))) => deliver.too_large(received(head)),
                // RFC 5626 §3.5.1: a CRLF pong for a double-CRLF ping.
                Ok(Some(Frame::Ping)) => {
                    let _ = tx.send(Bytes::from_static(b"\r\n"));
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(peer = %peer, defect = e.defect(), "unframeable tcp stream closed");
                    // The stream cannot be resynchronised: the endpoint
                    // answers what can be answered (513 for a message too
                    // large to skip), then it is closed.
                    let pending = received(framer.buffer_mut().split().freeze());
                    if e == sip_message::ParseError::MessageTooLarge {
                        deliver.too_large(pending);
                    } else {
                        deliver.received(pending);
                    }
                    break 'read;
                }
            }
        }
    }
    streams.connections.close(id);
    deliver.closed(id);
    drop(deliver);
    // Responses still being produced hold clones of `tx`; the writer ends
    // once they are all sent (or its peer stalls).
    drop(tx);
    let _ = writer.await;
}
