//! HTTPS: the certificate and key (PEM), a resolver whose certificate can
//! be swapped while serving ([`TlsReloader`]), and a listener that does
//! the handshakes beside the accept loop (a slow client holds up no other)
//! and hands axum the connections that completed one.

use crate::config::TlsFiles;
use axum::serve::Listener;
use std::io::{self, BufReader};
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to complete its handshake.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(10);

/// Most handshakes under way at once.
const HANDSHAKES: usize = 64;

/// The crypto of the workspace: *ring* (no C toolchain beyond what ring
/// needs). rustls deprecates it for lacking post-quantum key exchange,
/// which an admin listener on a trusted network can do without.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The certificate served now.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// Re-reads the certificate and key of a running HTTPS listener: the
/// handshakes after a successful reload use the new pair; a failed one
/// leaves the old pair serving and says why (so the reload can be refused).
#[derive(Debug, Clone)]
pub struct TlsReloader {
    files: TlsFiles,
    current: Arc<Current>,
}

impl TlsReloader {
    /// Loads the files again and, if they hold a matching certificate and
    /// key, serves them from the next handshake on.
    pub fn reload(&self) -> Result<(), String> {
        let key = load(&self.files).map_err(|e| e.to_string())?;
        *self
            .current
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = key;
        tracing::info!(cert = %self.files.cert.display(), "admin TLS certificate reloaded");
        Ok(())
    }
}

/// The certificate chain and key of `files`, checked to belong together.
fn load(files: &TlsFiles) -> io::Result<Arc<CertifiedKey>> {
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
    let open = |path: &std::path::Path| {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))
    };
    let certs = rustls_pemfile::certs(&mut open(&files.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("{}: bad PEM: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "{}: no certificate in it (PEM expected)",
            files.cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut open(&files.key)?)
        .map_err(|e| invalid(format!("{}: bad PEM: {e}", files.key.display())))?
        .ok_or_else(|| {
            invalid(format!(
                "{}: no private key in it (PEM expected)",
                files.key.display()
            ))
        })?;
    CertifiedKey::from_der(certs, key, &provider())
        .map(Arc::new)
        .map_err(|e| {
            invalid(format!(
                "{} and {}: {e}",
                files.cert.display(),
                files.key.display()
            ))
        })
}

/// The TLS setup of a listener: what it serves with, and its reloader.
#[derive(Debug, Clone)]
pub(crate) struct Tls {
    config: Arc<ServerConfig>,
    reloader: TlsReloader,
}

impl Tls {
    /// Loads `files` (errors name the file and what is wrong).
    pub(crate) fn load(files: &TlsFiles) -> io::Result<Tls> {
        let current = Arc::new(Current(RwLock::new(load(files)?)));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| io::Error::other(format!("TLS setup: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            reloader: TlsReloader {
                files: files.clone(),
                current,
            },
        })
    }

    /// The reloader of this setup.
    pub(crate) fn reloader(&self) -> TlsReloader {
        self.reloader.clone()
    }

    /// Serves `tcp` with TLS: a task accepts connections and runs their
    /// handshakes (at most [`HANDSHAKES`] at once, each within
    /// [`HANDSHAKE_WAIT`]) until `shutdown` fires.
    pub(crate) fn listen(
        &self,
        tcp: TcpListener,
        shutdown: server::Shutdown,
    ) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(HANDSHAKES);
        tokio::spawn(accept(
            tcp,
            TlsAcceptor::from(self.config.clone()),
            tx,
            shutdown,
        ));
        Ok(TlsListener { rx, local })
    }
}

/// Accepts connections and hands on those whose handshake completed.
async fn accept(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    shutdown: server::Shutdown,
) {
    let slots = Arc::new(Semaphore::new(HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            r = tcp.accept() => r,
            () = shutdown.wait() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: wait, then go on.
                tracing::debug!(error = %e, "admin listener cannot accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(HANDSHAKE_WAIT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => {
                    tracing::debug!(peer = %peer, error = %e, "admin TLS handshake failed")
                }
                Err(_) => tracing::debug!(peer = %peer, "admin TLS handshake timed out"),
            }
        });
    }
}

/// Connections that completed their handshake, as axum accepts them.
pub(crate) struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The acceptor stopped (shutdown): no connection comes any more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
