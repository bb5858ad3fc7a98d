//! Reading the database from outside the server (`locus bindings`).

use crate::db_error::OrStoreError;
use std::path::Path;

use std::collections::HashMap;

use rusqlite::{Connection, OpenFlags};

use super::{queries, schema, DB_FILE};
use crate::{codec, Binding, StoreError};

/// The bindings live at `now_ms` in `data_dir/locus.db`, of one AOR or of
/// all, sorted by aor, then q descending, then contact.
///
/// Opens the database read-only, which works while a server has it open
/// (WAL mode). A missing database file is an error,
/// [`StoreError::Missing`], so that a mistyped data directory is not
/// mistaken for "no registrations"; a database that exists but was never
/// initialised yields an empty list. The state is read as the server
/// rebuilds it: the compacted sets overlaid with the journal in `seq`
/// order, both in one read transaction (one consistent snapshot even while
/// the server appends or compacts).
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
    let mut conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .db()?;
    schema::configure_reader(&conn)?;
    if schema::version(&conn)? == 0 {
        return Ok(Vec::new());
    }
    let tx = conn.transaction().db()?;
    let mut sets: HashMap<String, Vec<u8>> = HashMap::new();
    queries::for_each_compacted(&tx, aor, |aor, blob| {
        sets.insert(aor.to_owned(), blob.to_vec());
    })
    .db()?;
    queries::for_each_journal(&tx, aor, |aor, blob| {
        sets.insert(aor, blob);
    })
    .db()?;
    drop(tx);
    let mut out = Vec::new();
    for (aor, blob) in &sets {
        match codec::decode(aor, blob, |at| at > now_ms) {
            Ok(live) => out.extend(live),
            Err(e) => {
                tracing::warn!(error = %e, aor, "skipping unreadable set in location database")
            }
        }
    }
    out.sort_by(|x, y| {
        x.aor
            .cmp(&y.aor)
            .then(y.q.cmp(&x.q))
            .then_with(|| x.contact.cmp(&y.contact))
    });
    Ok(out)
}
