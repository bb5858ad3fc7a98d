//! The SQL statements of the location database (the only SQL of locus).

use rusqlite::{params, Connection, Params};

use super::codec::{decode_row, encode_action, encode_path, is_bad_value, sql_ms, COLUMNS};
use crate::hot::ExpiryKey;
use crate::Binding;

/// Replace every row of `aor` with `set` (which is the AOR's whole new set).
pub(crate) fn replace_aor(conn: &Connection, aor: &str, set: &[Binding]) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM bindings WHERE aor = ?1")?
        .execute([aor])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO bindings (aor, contact, position, q, expires_at_ms, call_id, cseq, \
         received, transport, local_addr, user_agent, path, instance, reg_id, updated_at_ms, \
         action) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    for (position, b) in (0_i64..).zip(set) {
        insert.execute(params![
            aor,
            b.contact,
            position,
            b.q,
            sql_ms(b.expires_at_ms),
            b.call_id,
            b.cseq,
            b.received,
            b.transport,
            b.local,
            b.user_agent,
            encode_path(&b.path),
            b.instance,
            b.reg_id,
            sql_ms(b.updated_at_ms),
            encode_action(b.action),
        ])?;
    }
    Ok(())
}

/// Delete the row of one expired binding, only if it still has that expiry.
pub(crate) fn delete_expired(conn: &Connection, key: &ExpiryKey) -> rusqlite::Result<()> {
    let (expires_at_ms, aor, contact) = key;
    conn.prepare_cached(
        "DELETE FROM bindings WHERE aor = ?1 AND contact = ?2 AND expires_at_ms = ?3",
    )?
    .execute(params![aor, contact, sql_ms(*expires_at_ms)])?;
    Ok(())
}

/// Delete every row expired at `now_ms` (through the expiry index).
pub(crate) fn delete_all_expired(conn: &Connection, now_ms: u64) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM bindings WHERE expires_at_ms <= ?1")?
        .execute([sql_ms(now_ms)])
}

/// Every stored row of `aor`, in stored order.
pub(crate) fn load_aor(conn: &Connection, aor: &str) -> rusqlite::Result<Vec<Binding>> {
    collect(
        conn,
        &format!("SELECT {COLUMNS} FROM bindings WHERE aor = ?1 ORDER BY position"),
        [aor],
    )
}

/// Every row live at `now_ms`, grouped by AOR in stored order.
pub(crate) fn load_live(conn: &Connection, now_ms: u64) -> rusqlite::Result<Vec<Binding>> {
    collect(
        conn,
        &format!("SELECT {COLUMNS} FROM bindings WHERE expires_at_ms > ?1 ORDER BY aor, position"),
        [sql_ms(now_ms)],
    )
}

/// Rows live at `now_ms`, of one AOR or all, sorted by aor, q descending,
/// contact (the listing order of `locus bindings`).
pub(crate) fn list_live(
    conn: &Connection,
    aor: Option<&str>,
    now_ms: u64,
) -> rusqlite::Result<Vec<Binding>> {
    const ORDER: &str = "ORDER BY aor, q DESC, contact";
    match aor {
        Some(aor) => collect(
            conn,
            &format!(
                "SELECT {COLUMNS} FROM bindings WHERE expires_at_ms > ?1 AND aor = ?2 {ORDER}"
            ),
            params![sql_ms(now_ms), aor],
        ),
        None => collect(
            conn,
            &format!("SELECT {COLUMNS} FROM bindings WHERE expires_at_ms > ?1 {ORDER}"),
            [sql_ms(now_ms)],
        ),
    }
}

/// Run a binding query, skipping (and logging) rows whose values cannot be
/// read back, so one damaged row does not hide the others.
fn collect(conn: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<Vec<Binding>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        match decode_row(row) {
            Ok(binding) => out.push(binding),
            Err(e) if is_bad_value(&e) => {
                tracing::warn!(error = %e, "skipping unreadable row in location database");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
