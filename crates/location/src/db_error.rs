//! SQLite errors as the backend-neutral [`StoreError`].

use crate::StoreError;

/// The [`StoreError`] for an SQLite error: a uniqueness or other
/// constraint becomes [`StoreError::Constraint`], anything else
/// [`StoreError::Backend`], with SQLite's own text.
pub(crate) fn from_sqlite(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Constraint(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

/// `?` for SQLite results in functions that return [`StoreError`].
pub(crate) trait OrStoreError<T> {
    /// The result with an SQLite error turned into a [`StoreError`].
    fn db(self) -> Result<T, StoreError>;
}

impl<T> OrStoreError<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(from_sqlite)
    }
}
