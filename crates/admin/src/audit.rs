//! The audit log: one JSON line per change made through the API (binding
//! deletes, account changes, drain, undrain, reload, session login and
//! logout), appended to a file of mode 0600 and logged at info with
//! target `audit`.
//!
//! `{"at":"<RFC 3339 UTC>","token":"<token id>","action":"bindings.delete",
//! "target":"sip:alice@example.com","detail":{...},"outcome":"ok"|"<error>",
//! "peer":"ip:port"}`

use serde::Serialize;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// The open audit log; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Audit {
    file: Arc<Mutex<File>>,
}

/// One change, as the audit log records it.
#[derive(Debug, Serialize)]
pub(crate) struct Entry<'a> {
    /// When (RFC 3339 UTC).
    pub at: String,
    /// The id of the token that made it.
    pub token: &'a str,
    /// What was done (`bindings.delete`, `users.add`, ...).
    pub action: &'static str,
    /// What it was done to (an AOR, an account), if anything.
    pub target: Option<&'a str>,
    /// The particulars.
    pub detail: serde_json::Value,
    /// `ok`, or what went wrong.
    pub outcome: &'a str,
    /// The client's address.
    pub peer: Option<String>,
}

impl Audit {
    /// Opens `path` for appending (created with mode 0600, its directory
    /// too; an existing file's mode is narrowed to 0600).
    pub(crate) fn open(path: &Path) -> io::Result<Audit> {
        let with_path = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot open the audit log {}: {e}", path.display()),
            )
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(with_path)?;
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(with_path)?;
        let mode = file.metadata().map_err(with_path)?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(with_path)?;
        }
        Ok(Audit {
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Appends `entry` and logs it (target `audit`). A failed write is
    /// logged as an error; the change it records has happened already.
    pub(crate) fn record(&self, entry: &Entry<'_>) {
        let line = match serde_json::to_string(entry) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an audit entry");
                return;
            }
        };
        tracing::info!(target: "audit", "{line}");
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = file.write_all(format!("{line}\n").as_bytes()) {
            tracing::error!(error = %e, "cannot append to the audit log");
        }
    }
}
