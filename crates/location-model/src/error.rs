//! The error type of every store backend.

use std::fmt;
use std::path::PathBuf;

/// Errors of a location or account backend.
///
/// No variant holds a backend's own error type, so the seam is the same
/// for every backend: a backend turns its errors into text here (never
/// with a password in it). `Display` gives a short reason fit for logs and
/// operator messages.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A file-system operation failed (creating the data directory,
    /// starting the writer thread).
    Io(std::io::Error),
    /// The backend reported an error; the text says what.
    Backend(String),
    /// The backend refused the change because it breaks a uniqueness rule
    /// (an account name already used in a realm, say); the text says which.
    Constraint(String),
    /// The transaction carrying this change failed to commit; the change
    /// was not applied (the cause is logged by the backend).
    CommitFailed,
    /// The store was closed; no further changes are accepted.
    Closed,
    /// The background writer stopped unexpectedly, so the outcome of the
    /// change is unknown.
    WriterGone,
    /// There is no database at this path (nothing was ever stored there).
    Missing(PathBuf),
    /// A listing cursor that this store did not hand out.
    InvalidCursor,
    /// The database was written by a newer version of locus.
    UnsupportedSchema {
        /// The schema version found.
        found: i64,
        /// The newest version this build understands.
        supported: i64,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io(e) => write!(f, "i/o error: {e}"),
            StoreError::Backend(e) => write!(f, "database error: {e}"),
            StoreError::Constraint(e) => write!(f, "database constraint: {e}"),
            StoreError::CommitFailed => f.write_str("location database commit failed"),
            StoreError::Closed => f.write_str("location store is closed"),
            StoreError::WriterGone => f.write_str("location database writer stopped"),
            StoreError::InvalidCursor => f.write_str("invalid listing cursor"),
            StoreError::Missing(path) => {
                write!(f, "no location database at {}", path.display())
            }
            StoreError::UnsupportedSchema { found, supported } => write!(
                f,
                "location database schema version {found} is newer than supported version {supported}"
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e)
    }
}
