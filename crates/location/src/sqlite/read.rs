//! Reading the database from outside the server (`locus bindings`).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{queries, schema, DB_FILE};
use crate::{Binding, StoreError};

/// The bindings live at `now_ms` in `data_dir/locus.db`, of one AOR or of
/// all, sorted by aor, then q descending, then contact.
///
/// Opens the database read-only, which works while a server has it open
/// (WAL mode). A missing database file is an error,
/// [`StoreError::Missing`], so that a mistyped data directory is not
/// mistaken for "no registrations"; a database that exists but was never
/// initialised yields an empty list.
pub fn read_bindings(
    data_dir: &Path,
    aor: Option<&str>,
    now_ms: u64,
) -> Result<Vec<Binding>, StoreError> {
    let path = data_dir.join(DB_FILE);
    match std::fs::metadata(&path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Missing(path));
        }
        Err(e) => return Err(StoreError::Io(e)),
    }
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    schema::configure_reader(&conn)?;
    if schema::version(&conn)? == 0 {
        return Ok(Vec::new());
    }
    Ok(queries::list_live(&conn, aor, now_ms)?)
}
