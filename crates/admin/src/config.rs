//! How the admin listener is set up: what `locus serve` reads from its
//! flags and config keys (`--admin-listen`, `--admin-token-file`,
//! `--admin-tls-cert`, `--admin-tls-key`, `--admin-insecure`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// How the admin listener is set up (from flags/config keys of `locus serve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// The address to listen on (`--admin-listen`, default `127.0.0.1:8060`).
    pub listen: SocketAddr,
    /// Where the token lives (`--admin-token-file`, default `DATA_DIR/admin-token`).
    pub token_file: PathBuf,
    /// Serve HTTPS with this certificate and key (`--admin-tls-cert`,
    /// `--admin-tls-key`); `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Allow plain HTTP on an address that is not loopback (`--admin-insecure`).
    pub insecure: bool,
    /// The audit log (JSON lines, appended, mode 0600), `DATA_DIR/audit.log`.
    pub audit_log: PathBuf,
}

/// The PEM files of the HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The private key of the leaf (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}
