//! The SQL of the location database (the only SQL of locus).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::codec;

/// Append the whole new set of `aor` to the journal.
pub(crate) fn append(conn: &Connection, aor: &str, blob: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO journal (aor, bindings) VALUES (?1, ?2)")?
        .execute(params![aor, blob])?;
    Ok(())
}

/// Number of journal rows.
pub(crate) fn journal_len(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("SELECT count(*) FROM journal", [], |row| row.get(0))
}

/// Read an `(aor, bindings)` row; `None` (logged) if its values are not
/// of the right types, so one damaged row does not hide the others.
fn aor_row(row: &Row<'_>) -> rusqlite::Result<Option<(String, Vec<u8>)>> {
    let aor = row.get_ref(0)?;
    let blob = row.get_ref(1)?;
    match (aor.as_str(), blob.as_blob()) {
        (Ok(aor), Ok(blob)) => Ok(Some((aor.to_owned(), blob.to_vec()))),
        _ => {
            tracing::warn!("skipping unreadable row in location database");
            Ok(None)
        }
    }
}

/// Call `each(aor, blob)` for every row of `aors` (of one AOR if given).
pub(crate) fn for_each_compacted(
    conn: &Connection,
    aor: Option<&str>,
    mut each: impl FnMut(&str, &[u8]),
) -> rusqlite::Result<()> {
    let mut statement = match aor {
        Some(_) => conn.prepare_cached("SELECT aor, bindings FROM aors WHERE aor = ?1")?,
        None => conn.prepare_cached("SELECT aor, bindings FROM aors")?,
    };
    let mut rows = match aor {
        Some(aor) => statement.query([aor])?,
        None => statement.query([])?,
    };
    while let Some(row) = rows.next()? {
        match (row.get_ref(0)?.as_str(), row.get_ref(1)?.as_blob()) {
            (Ok(aor), Ok(blob)) => each(aor, blob),
            _ => tracing::warn!("skipping unreadable row in location database"),
        }
    }
    Ok(())
}

/// Call `each(aor, blob)` for journal rows in `seq` order (of one AOR if
/// given; the journal has no AOR index, so that is a scan).
pub(crate) fn for_each_journal(
    conn: &Connection,
    aor: Option<&str>,
    mut each: impl FnMut(String, Vec<u8>),
) -> rusqlite::Result<()> {
    let mut statement = match aor {
        Some(_) => {
            conn.prepare_cached("SELECT aor, bindings FROM journal WHERE aor = ?1 ORDER BY seq")?
        }
        None => conn.prepare_cached("SELECT aor, bindings FROM journal ORDER BY seq")?,
    };
    let mut rows = match aor {
        Some(aor) => statement.query([aor])?,
        None => statement.query([])?,
    };
    while let Some(row) = rows.next()? {
        if let Some((aor, blob)) = aor_row(row)? {
            each(aor, blob);
        }
    }
    Ok(())
}

/// The stored sets of `aors` (compacted state overlaid with the journal);
/// an AOR without bindings maps to `None`.
pub(crate) fn load_sets(
    conn: &Connection,
    aors: &BTreeSet<&str>,
) -> rusqlite::Result<HashMap<String, Option<Vec<u8>>>> {
    let mut out = HashMap::new();
    let mut one = conn.prepare_cached("SELECT bindings FROM aors WHERE aor = ?1")?;
    for aor in aors {
        let blob: Option<Vec<u8>> = one.query_row([aor], |row| row.get(0)).optional()?;
        out.insert((*aor).to_owned(), blob);
    }
    for_each_journal(conn, None, |aor, blob| {
        if aors.contains(aor.as_str()) {
            out.insert(aor, Some(blob));
        }
    })?;
    Ok(out)
}

/// Write the set of `aor` into the compacted state (`None` deletes it).
pub(crate) fn store_compacted(
    conn: &Connection,
    aor: &str,
    blob: Option<&[u8]>,
) -> rusqlite::Result<()> {
    match blob {
        Some(blob) => conn
            .prepare_cached(
                "INSERT INTO aors (aor, bindings) VALUES (?1, ?2) \
                 ON CONFLICT (aor) DO UPDATE SET bindings = excluded.bindings",
            )?
            .execute(params![aor, blob])?,
        None => conn
            .prepare_cached("DELETE FROM aors WHERE aor = ?1")?
            .execute([aor])?,
    };
    Ok(())
}

/// Fold the oldest `limit` journal rows into `aors` (latest wins, bindings
/// expired at `now_ms` dropped, empty sets deleted) and delete them from
/// the journal. Run inside a transaction; returns the rows folded.
pub(crate) fn fold(conn: &Connection, now_ms: u64, limit: usize) -> rusqlite::Result<usize> {
    let mut latest: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut last_seq: Option<i64> = None;
    let mut count = 0;
    {
        let mut statement =
            conn.prepare_cached("SELECT seq, aor, bindings FROM journal ORDER BY seq LIMIT ?1")?;
        let mut rows = statement.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
        while let Some(row) = rows.next()? {
            last_seq = Some(row.get(0)?);
            count += 1;
            let (aor, blob) = (row.get_ref(1)?, row.get_ref(2)?);
            match (aor.as_str(), blob.as_blob()) {
                (Ok(aor), Ok(blob)) => {
                    latest.insert(aor.to_owned(), blob.to_vec());
                }
                _ => tracing::warn!("dropping unreadable journal row of the location database"),
            }
        }
    }
    let Some(last_seq) = last_seq else {
        return Ok(0);
    };
    // Key order: neighbouring keys share B-tree pages.
    for (aor, blob) in &latest {
        match codec::without_expired(aor, blob, now_ms) {
            Ok(live) => store_compacted(conn, aor, live.as_deref())?,
            Err(e) => {
                tracing::warn!(error = %e, aor, "dropping unreadable journal row of the location database");
            }
        }
    }
    conn.prepare_cached("DELETE FROM journal WHERE seq <= ?1")?
        .execute([last_seq])?;
    Ok(count)
}

/// Drop expired bindings from up to `limit` rows of `aors` with keys after
/// `cursor`; returns the cursor to continue from (empty: start over).
pub(crate) fn sweep(
    conn: &Connection,
    now_ms: u64,
    cursor: &str,
    limit: usize,
) -> rusqlite::Result<String> {
    let mut changed: Vec<(String, Option<Box<[u8]>>)> = Vec::new();
    let mut last = None;
    let mut seen = 0;
    {
        let mut statement = conn.prepare_cached(
            "SELECT aor, bindings FROM aors WHERE aor > ?1 ORDER BY aor LIMIT ?2",
        )?;
        let mut rows =
            statement.query(params![cursor, i64::try_from(limit).unwrap_or(i64::MAX)])?;
        while let Some(row) = rows.next()? {
            seen += 1;
            if let Ok(aor) = row.get_ref(0)?.as_str() {
                last = Some(aor.to_owned());
            }
            let Some((aor, blob)) = aor_row(row)? else {
                continue;
            };
            match codec::expiries(&blob) {
                Ok(at) if at.iter().all(|&at| at > now_ms) => {}
                _ => {
                    let live = codec::without_expired(&aor, &blob, now_ms).unwrap_or_else(|e| {
                        tracing::warn!(error = %e, aor, "dropping unreadable set of the location database");
                        None
                    });
                    changed.push((aor, live));
                }
            }
        }
    }
    for (aor, live) in &changed {
        store_compacted(conn, aor, live.as_deref())?;
    }
    Ok(if seen < limit {
        String::new()
    } else {
        last.unwrap_or_default()
    })
}
