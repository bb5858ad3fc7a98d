//! The TCP transport: an accept loop, outgoing connections, and per
//! connection a reader that frames messages and a writer task. Every open
//! connection is indexed by its peer address for reuse.

use crate::dispatch::{Responder, Shared};
use crate::shutdown::Shutdown;
use bytes::Bytes;
use location::LocationStore;
use sip_message::{Frame, StreamFramer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Accepts connections until shutdown.
pub(crate) async fn serve<S: LocationStore>(
    shared: Arc<Shared<S>>,
    listener: TcpListener,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    start(shared.clone(), stream, peer, None);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "tcp accept failed");
                    // Out of file descriptors and the like: back off briefly.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Opens a connection to `peer` for an outgoing message; `local` is the
/// listener whose address the message's Via names (the connection itself
/// uses an ephemeral port).
pub(crate) async fn connect<S: LocationStore>(
    shared: &Arc<Shared<S>>,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) -> std::io::Result<mpsc::UnboundedSender<Bytes>> {
    let stream = tokio::time::timeout(std::time::Duration::from_secs(5), TcpStream::connect(peer))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = stream.set_nodelay(true);
    Ok(start(shared.clone(), stream, peer, local))
}

/// Registers the connection and spawns its reader and writer.
fn start<S: LocationStore>(
    shared: Arc<Shared<S>>,
    stream: TcpStream,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) -> mpsc::UnboundedSender<Bytes> {
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    shared.connections().insert(peer, tx.clone());
    tokio::spawn(connection(shared, stream, peer, local, tx.clone(), rx));
    tx
}

async fn connection<S: LocationStore>(
    shared: Arc<Shared<S>>,
    stream: TcpStream,
    peer: SocketAddr,
    local_override: Option<SocketAddr>,
    tx: mpsc::UnboundedSender<Bytes>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
) {
    let Ok(local) = stream.local_addr() else {
        shared.connections().remove(peer, &tx);
        return;
    };
    let local = local_override.unwrap_or(local);
    let shutdown = shared.shutdown().clone();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut framer = StreamFramer::new(shared.limits);
    let idle = shared.tcp_idle_timeout;
    'read: loop {
        let buf = framer.buffer_mut();
        buf.reserve(4096);
        let n = tokio::select! {
            _ = shutdown.wait() => break 'read,
            r = tokio::time::timeout(idle, rd.read_buf(buf)) => match r {
                Ok(Ok(0)) | Ok(Err(_)) => break 'read,
                Ok(Ok(n)) => n,
                Err(_) => {
                    tracing::debug!(peer = %peer, "idle tcp connection closed");
                    break 'read;
                }
            }
        };
        debug_assert!(n > 0);
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(raw))) => {
                    shared.handle(raw, peer, local, Responder::Tcp(tx.clone()), false);
                }
                Ok(Some(Frame::Ping)) => {
                    let _ = tx.send(Bytes::from_static(b"\r\n"));
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(peer = %peer, defect = e.defect(), "unframeable tcp stream closed");
                    // Answer what can be answered, then close: the stream
                    // cannot be resynchronised.
                    let pending = framer.buffer_mut().split().freeze();
                    let tag = "0";
                    if let Some(resp) =
                        sip_core::response::fallback_error_response(&pending, e, tag)
                    {
                        let _ = tx.send(Bytes::from(resp));
                    }
                    break 'read;
                }
            }
        }
    }
    shared.connections().remove(peer, &tx);
    // Responses still being produced hold clones of `tx`; the writer ends
    // once they are all sent.
    drop(tx);
    let _ = writer.await;
}
