//! The account commands through the running server's admin API
//! (`/api/v1/users`).

use super::table::{Done, Row};
use super::{Account, Change};
use crate::api_client::{Answer, ApiError, Session};
use crate::failure::Failure;
use serde::Deserialize;
use serde_json::json;

/// An account as the API lists it (never its HA1).
#[derive(Debug, Deserialize)]
struct ApiUser {
    username: String,
    domain: String,
    realm: String,
    algorithms: Vec<String>,
}

/// `{"users": [...]}`.
#[derive(Debug, Deserialize)]
struct Users {
    users: Vec<ApiUser>,
}

/// `{"user": {...}}`.
#[derive(Debug, Deserialize)]
struct OneUser {
    user: ApiUser,
}

/// The failure of an answer the command did not expect: 400 and 422 are
/// invalid input, the rest a failed operation.
fn unexpected(session: &Session, answer: &Answer) -> ApiError {
    let message = format!(
        "the server at {} answered {}: {}",
        session.base(),
        answer.status,
        answer.error()
    );
    ApiError::Failed(match answer.status {
        400 | 422 => Failure::Invalid(message),
        _ => Failure::Failed(message),
    })
}

/// The accounts (of `domain`, or all).
fn fetch(session: &Session, domain: Option<&str>) -> Result<Vec<ApiUser>, ApiError> {
    let mut url = session.url(&["api", "v1", "users"]);
    if let Some(domain) = domain {
        url.query_pairs_mut().append_pair("domain", domain);
    }
    let answer = session.get(url)?;
    if answer.status != 200 {
        return Err(unexpected(session, &answer));
    }
    let users: Users = serde_json::from_value(answer.body)
        .map_err(|e| Failure::Failed(format!("the server's list of accounts: {e}")))?;
    Ok(users.users)
}

/// Adds the account or changes its password (read with `password` once
/// the account is known to be as `change` needs). The server computes the
/// hashes for its own realm.
pub fn set_password(
    session: &Session,
    account: &Account,
    change: Change,
    password: impl FnOnce() -> Result<String, Failure>,
) -> Result<Done, ApiError> {
    let who = account.who();
    let exists = fetch(session, Some(&account.domain))?
        .iter()
        .any(|u| u.username == account.user);
    match (exists, change) {
        (true, Change::Add) => {
            return Err(ApiError::Failed(Failure::Failed(format!(
                "{who} already exists (change its password with `locus users passwd`)"
            ))))
        }
        (false, Change::Passwd) => {
            return Err(ApiError::Failed(Failure::Failed(format!(
                "no account {who}"
            ))))
        }
        _ => {}
    }
    let body = json!({
        "username": account.user,
        "domain": account.domain,
        "password": password()?,
    });
    let answer = session.post(session.url(&["api", "v1", "users"]), &body)?;
    if !matches!(answer.status, 200 | 201) {
        return Err(unexpected(session, &answer));
    }
    let user: OneUser = serde_json::from_value(answer.body)
        .map_err(|e| Failure::Failed(format!("the server's answer: {e}")))?;
    if let Some(asked) = account.realm.as_deref().filter(|r| *r != user.user.realm) {
        eprintln!(
            "locus: note: the running server computed the hashes for its realm \"{}\", not \
             \"{asked}\" (--realm applies without a server; the server's is its own --realm)",
            user.user.realm
        );
    }
    Ok(Done {
        realm: user.user.realm,
    })
}

/// Removes the account.
pub fn remove(session: &Session, account: &Account) -> Result<(), ApiError> {
    let url = session.url(&["api", "v1", "users", &account.who()]);
    let answer = session.delete(url)?;
    match answer.status {
        200 | 204 => Ok(()),
        404 => Err(ApiError::Failed(Failure::Failed(format!(
            "no account {}",
            account.who()
        )))),
        _ => Err(unexpected(session, &answer)),
    }
}

/// The accounts (of `domain`, or all).
pub fn list(session: &Session, domain: Option<&str>) -> Result<Vec<Row>, ApiError> {
    let users = fetch(session, domain)?;
    Ok(users
        .into_iter()
        .map(|u| Row {
            account: format!("{}@{}", u.username, u.domain),
            realm: u.realm,
            algorithms: u.algorithms,
        })
        .collect())
}
