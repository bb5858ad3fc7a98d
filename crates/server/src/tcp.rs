//! The TCP transport: an accept loop, and per connection a reader that
//! frames messages and a writer that sends responses on the same connection.

use crate::dispatch::{Responder, Shared};
use crate::shutdown::Shutdown;
use bytes::Bytes;
use location::LocationStore;
use sip_message::{Frame, StreamFramer};
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
                    tokio::spawn(connection(shared.clone(), stream, peer, shutdown.clone()));
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

async fn connection<S: LocationStore>(
    shared: Arc<Shared<S>>,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    shutdown: Shutdown,
) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
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
                    shared.handle(raw, peer, local, Responder::Tcp(tx.clone()));
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
    // Responses still being produced hold clones of `tx`; the writer ends
    // once they are all sent.
    drop(tx);
    let _ = writer.await;
}
