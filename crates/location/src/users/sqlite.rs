//! Accounts in `locus.db` (table `users`, schema version 2).

use crate::db_error::OrStoreError;
use crate::sqlite::{schema, DB_FILE};
use crate::StoreError;
use crate::{Ha1Set, User, UserStore};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// The account table of the SQLite database in a data directory.
///
/// Opens its own connection, so it works beside a running server (WAL
/// mode) as well as from `locus users`.
#[derive(Debug)]
pub struct SqliteUsers {
    conn: Mutex<Connection>,
}

const COLUMNS: &str = "username, domain, realm, ha1_md5, ha1_sha256, ha1_sha512_256";

fn decode(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        username: row.get(0)?,
        domain: row.get(1)?,
        realm: row.get(2)?,
        ha1: Ha1Set {
            md5: row.get(3)?,
            sha256: row.get(4)?,
            sha512_256: row.get(5)?,
        },
    })
}

impl SqliteUsers {
    /// Opens (creating and migrating if needed) `data_dir/locus.db`.
    pub fn open(data_dir: &Path) -> Result<SqliteUsers, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let mut conn = Connection::open(data_dir.join(DB_FILE)).db()?;
        schema::configure_writer(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteUsers {
            conn: Mutex::new(conn),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&conn).db()
    }
}

/// Adds or replaces an account on `c`; true when it was added.
fn put_on(c: &Connection, user: &User, now_ms: u64) -> rusqlite::Result<bool> {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let existed: bool = c
        .prepare_cached("SELECT 1 FROM users WHERE domain = ?1 AND username = ?2")?
        .exists(params![user.domain, user.username])?;
    c.prepare_cached(
        "INSERT INTO users (domain, username, realm, ha1_md5, ha1_sha256, ha1_sha512_256, \
         updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (domain, username) DO UPDATE SET realm = excluded.realm, \
         ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256, \
         ha1_sha512_256 = excluded.ha1_sha512_256, updated_at_ms = excluded.updated_at_ms",
    )?
    .execute(params![
        user.domain,
        user.username,
        user.realm,
        user.ha1.md5,
        user.ha1.sha256,
        user.ha1.sha512_256,
        now
    ])?;
    Ok(!existed)
}

/// The account (`domain`, `username`) on `c`, if any.
fn get_on(c: &Connection, domain: &str, username: &str) -> rusqlite::Result<Option<User>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE domain = ?1 AND username = ?2"
    ))?
    .query_row(params![domain, username], decode)
    .optional()
}

/// The accounts inside one transaction of [`SqliteUsers::transaction`].
#[derive(Debug)]
pub struct UsersTx<'a>(&'a Connection);

impl UsersTx<'_> {
    /// As [`UserStore::put`], inside the transaction.
    pub fn put(&self, user: &User, now_ms: u64) -> Result<bool, StoreError> {
        put_on(self.0, user, now_ms).db()
    }

    /// As [`UserStore::get`], inside the transaction.
    pub fn get(&self, domain: &str, username: &str) -> Result<Option<User>, StoreError> {
        get_on(self.0, domain, username).db()
    }
}

impl SqliteUsers {
    /// Runs `f` in one transaction: its changes are committed together
    /// (one sync for a whole import of accounts, not one per account), or
    /// not at all when it fails.
    pub fn transaction<R>(
        &self,
        f: impl FnOnce(&UsersTx<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction().db()?;
        let out = f(&UsersTx(&tx))?;
        tx.commit().db()?;
        Ok(out)
    }
}

impl UserStore for SqliteUsers {
    fn put(&self, user: &User, now_ms: u64) -> Result<bool, StoreError> {
        self.with(|c| put_on(c, user, now_ms))
    }

    fn get(&self, domain: &str, username: &str) -> Result<Option<User>, StoreError> {
        self.with(|c| get_on(c, domain, username))
    }

    fn remove(&self, domain: &str, username: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c
                .prepare_cached("DELETE FROM users WHERE domain = ?1 AND username = ?2")?
                .execute(params![domain, username])?;
            Ok(n > 0)
        })
    }

    fn list(&self, domain: Option<&str>) -> Result<Vec<User>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM users WHERE ?1 IS NULL OR domain = ?1 \
                 ORDER BY domain, username"
            ))?;
            let rows = stmt.query_map(params![domain], decode)?;
            rows.collect()
        })
    }

    fn version(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            c.prepare_cached("SELECT version FROM users_version WHERE id = 1")?
                .query_row([], |r| r.get(0))
        })
    }
}
