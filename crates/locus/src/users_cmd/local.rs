//! The account commands on the data directory's database, when no server
//! runs.

use super::table::{Done, Row};
use super::{Account, Change};
use crate::failure::Failure;
use location::{Ha1Set, SqliteUsers, User, UserStore};
use sip_core::digest::{ha1, Algorithm};
use std::path::Path;

fn db_error(e: location::StoreError) -> Failure {
    Failure::Failed(format!("account database: {e}"))
}

/// HA1 for every algorithm.
fn ha1_set(user: &str, realm: &str, password: &str) -> Ha1Set {
    Ha1Set {
        md5: Some(ha1(Algorithm::Md5, user, realm, password)),
        sha256: Some(ha1(Algorithm::Sha256, user, realm, password)),
        sha512_256: Some(ha1(Algorithm::Sha512_256, user, realm, password)),
    }
}

/// Adds the account or changes its password (read with `password` once
/// the account is known to be as `change` needs).
pub fn set_password(
    dir: &Path,
    account: &Account,
    change: Change,
    password: impl FnOnce() -> Result<String, Failure>,
) -> Result<Done, Failure> {
    let store = SqliteUsers::open(dir).map_err(db_error)?;
    let who = account.who();
    let existing = store
        .get(&account.domain, &account.user)
        .map_err(db_error)?;
    let realm = match (&existing, change) {
        (Some(_), Change::Add) => {
            return Err(Failure::Failed(format!(
                "{who} already exists (change its password with `locus users passwd`)"
            )))
        }
        (None, Change::Passwd) => return Err(Failure::Failed(format!("no account {who}"))),
        (Some(old), Change::Passwd) => account.realm.clone().unwrap_or_else(|| old.realm.clone()),
        (None, Change::Add) => account
            .realm
            .clone()
            .unwrap_or_else(|| account.domain.clone()),
    };
    let password = password()?;
    let user = User {
        ha1: ha1_set(&account.user, &realm, &password),
        username: account.user.clone(),
        domain: account.domain.clone(),
        realm,
    };
    store.put(&user, server::now_ms()).map_err(|e| match e {
        location::StoreError::Constraint(_) if change == Change::Add => Failure::Failed(format!(
            "cannot add {who}: the name '{}' is already used in realm '{}'",
            user.username, user.realm
        )),
        e => db_error(e),
    })?;
    Ok(Done { realm: user.realm })
}

/// Removes the account.
pub fn remove(dir: &Path, account: &Account) -> Result<(), Failure> {
    let store = SqliteUsers::open(dir).map_err(db_error)?;
    if store
        .remove(&account.domain, &account.user)
        .map_err(db_error)?
    {
        Ok(())
    } else {
        Err(Failure::Failed(format!("no account {}", account.who())))
    }
}

/// The accounts (of `domain`, or all).
pub fn list(dir: &Path, domain: Option<&str>) -> Result<Vec<Row>, Failure> {
    let store = SqliteUsers::open(dir).map_err(db_error)?;
    let users = store.list(domain).map_err(db_error)?;
    Ok(users.iter().map(row).collect())
}

fn row(u: &User) -> Row {
    let algorithms = [
        (u.ha1.sha512_256.is_some(), "SHA-512-256"),
        (u.ha1.sha256.is_some(), "SHA-256"),
        (u.ha1.md5.is_some(), "MD5"),
    ]
    .into_iter()
    .filter(|(has, _)| *has)
    .map(|(_, name)| name.to_owned())
    .collect();
    Row {
        account: format!("{}@{}", u.username, u.domain),
        realm: u.realm.clone(),
        algorithms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_list_the_usable_algorithms() {
        let u = User {
            username: "alice".into(),
            domain: "example.com".into(),
            realm: "example.com".into(),
            ha1: ha1_set("alice", "example.com", "pw"),
        };
        assert_eq!(row(&u).algorithms, ["SHA-512-256", "SHA-256", "MD5"]);
        let md5_only = User {
            ha1: Ha1Set {
                sha256: None,
                sha512_256: None,
                ..u.ha1.clone()
            },
            ..u
        };
        assert_eq!(row(&md5_only).algorithms, ["MD5"]);
    }
}
