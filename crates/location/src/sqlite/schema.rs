//! Connection settings and the versioned schema of `locus.db`.

use crate::db_error::OrStoreError;
use rusqlite::Connection;
use std::time::Duration;

use crate::StoreError;

/// Schema migrations; entry `i` takes the database from `user_version = i`
/// to `i + 1`. Append new entries, never edit released ones. (Version 1
/// was rewritten once before any release: the first draft kept one row per
/// binding in a `bindings` table.)
///
/// The store is log-structured: `journal` gets one appended row per changed
/// AOR per commit, holding the AOR's whole new set encoded by
/// [`crate::codec`] (an empty set means the AOR is gone); appends touch
/// only the rightmost pages. `aors` is the compacted state, one row per AOR
/// holding its encoded set; compaction folds the oldest journal rows into it
/// (latest wins) and deletes them. The current state is `aors` overlaid with
/// the journal replayed in `seq` order. The RFC 2543 `action` of a binding
/// is part of the encoded set.
///
/// The `users` table (version 2) holds one row per (domain, username) with
/// the realm its HA1 values were computed for and one HA1 column per digest
/// algorithm (NULL when unknown, e.g. for users imported from an htdigest
/// file, which carries MD5 only); passwords are never stored. Triggers bump
/// `users_version.version` on every change, so a running server notices
/// changes made by `locus users` with one cheap query.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE aors (
        aor      TEXT PRIMARY KEY,
        bindings BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE journal (
        seq      INTEGER PRIMARY KEY,
        aor      TEXT NOT NULL,
        bindings BLOB NOT NULL
    );
",
    "
    CREATE TABLE users (
        domain         TEXT    NOT NULL,
        username       TEXT    NOT NULL,
        realm          TEXT    NOT NULL,
        ha1_md5        TEXT,
        ha1_sha256     TEXT,
        ha1_sha512_256 TEXT,
        updated_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (domain, username)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX users_by_realm ON users (realm, username);
    CREATE TABLE users_version (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
    );
    INSERT INTO users_version (id, version) VALUES (1, 0);
    CREATE TRIGGER users_inserted AFTER INSERT ON users
        BEGIN UPDATE users_version SET version = version + 1; END;
    CREATE TRIGGER users_updated AFTER UPDATE ON users
        BEGIN UPDATE users_version SET version = version + 1; END;
    CREATE TRIGGER users_deleted AFTER DELETE ON users
        BEGIN UPDATE users_version SET version = version + 1; END;
",
];

/// The schema version this build writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long to wait for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings for the writing connection: WAL so readers (`locus bindings`)
/// never block the writer, `synchronous=FULL` so a commit is fsynced before
/// it is acknowledged (a 200 OK is a promise).
pub(crate) fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .db()?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "location database is not in WAL mode; readers may block writes");
    }
    conn.pragma_update(None, "synchronous", "FULL").db()?;
    Ok(())
}

/// Settings for a reading connection.
pub(crate) fn configure_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    Ok(())
}

/// The `user_version` of the database, refusing versions newer than ours.
pub(crate) fn version(conn: &Connection) -> Result<i64, StoreError> {
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .db()?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::UnsupportedSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Bring the schema up to [`SCHEMA_VERSION`], all steps in one transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = version(conn)?;
    let pending = MIGRATIONS
        .iter()
        .zip(0_i64..)
        .filter(|(_, from)| *from >= found);
    let tx = conn.transaction().db()?;
    for (sql, from) in pending {
        tx.execute_batch(sql).db()?;
        tx.pragma_update(None, "user_version", from + 1).db()?;
        tracing::info!(version = from + 1, "location database schema migrated");
    }
    tx.commit().db()?;
    Ok(())
}
