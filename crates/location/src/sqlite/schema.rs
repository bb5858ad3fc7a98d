//! Connection settings and the versioned schema of `locus.db`.

use rusqlite::Connection;
use std::time::Duration;

use crate::StoreError;

/// Schema migrations; entry `i` takes the database from `user_version = i`
/// to `i + 1`. Append new entries, never edit old ones.
///
/// The `bindings` table holds one row per (aor, contact), a column per
/// [`crate::Binding`] field (`local` is stored as `local_addr`, `path` in the
/// encoding of [`super::codec::encode_path`]) plus `position`, the index of
/// the binding within its AOR's set, so a reload restores the set in order.
///
/// Version 2 adds `action` (the RFC 2543 Contact parameter, `proxy`,
/// `redirect` or NULL); rows written by version 1 keep NULL.
///
/// The `users` table (version 3) holds one row per (domain, username) with
/// the realm its HA1 values were computed for and one HA1 column per digest
/// algorithm (NULL when unknown, e.g. for users imported from an htdigest
/// file, which carries MD5 only); passwords are never stored. Triggers bump
/// `users_version.version` on every change, so a running server notices
/// changes made by `locus users` with one cheap query.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE bindings (
        aor           TEXT    NOT NULL,
        contact       TEXT    NOT NULL,
        position      INTEGER NOT NULL,
        q             INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        call_id       TEXT    NOT NULL,
        cseq          INTEGER NOT NULL,
        received      TEXT,
        transport     TEXT    NOT NULL,
        local_addr    TEXT,
        user_agent    TEXT,
        path          TEXT    NOT NULL,
        instance      TEXT,
        reg_id        INTEGER,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (aor, contact)
    ) WITHOUT ROWID;
    CREATE INDEX bindings_by_expiry ON bindings (expires_at_ms);
",
    "
    ALTER TABLE bindings ADD COLUMN action TEXT;
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
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "location database is not in WAL mode; readers may block writes");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Settings for a reading connection.
pub(crate) fn configure_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(())
}

/// The `user_version` of the database, refusing versions newer than ours.
pub(crate) fn version(conn: &Connection) -> Result<i64, StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
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
    let tx = conn.transaction()?;
    for (sql, from) in pending {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from + 1)?;
        tracing::info!(version = from + 1, "location database schema migrated");
    }
    tx.commit()?;
    Ok(())
}
