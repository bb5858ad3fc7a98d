//! Accounts of digest authentication: listed (never with their HA1),
//! added or given a new password (HA1 computed here for MD5, SHA-256 and
//! SHA-512-256 in the realm of the domain), removed. The account database
//! is synchronous (SQLite), so its calls run on the blocking pool.

use crate::api::tags;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use location_model::{Ha1Set, StoreError, User, UserStore};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sip_core::digest::{ha1, Algorithm};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// One account as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    /// The user part of the AOR it owns.
    #[schema(example = "alice")]
    username: String,
    /// The domain of that AOR.
    #[schema(example = "example.com")]
    domain: String,
    /// The realm its HA1 values were computed for.
    #[schema(example = "example.com")]
    realm: String,
    /// The digest algorithms it can authenticate with, strongest first.
    #[schema(example = json!(["SHA-512-256", "SHA-256", "MD5"]))]
    algorithms: Vec<&'static str>,
}

impl UserView {
    fn of(u: &User) -> UserView {
        let algorithms = [
            (u.ha1.sha512_256.is_some(), "SHA-512-256"),
            (u.ha1.sha256.is_some(), "SHA-256"),
            (u.ha1.md5.is_some(), "MD5"),
        ]
        .into_iter()
        .filter_map(|(has, name)| has.then_some(name))
        .collect();
        UserView {
            username: u.username.clone(),
            domain: u.domain.clone(),
            realm: u.realm.clone(),
            algorithms,
        }
    }
}

/// Every account (of a domain).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserList {
    /// The accounts, sorted by domain and name.
    users: Vec<UserView>,
}

/// One account.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OneUser {
    /// The account.
    user: UserView,
}

/// An account to add, or whose password to replace.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NewUser {
    /// The user name (no spaces, `:`, `@`, quotes or backslashes; at most 128 characters).
    #[schema(example = "alice", min_length = 1, max_length = 128)]
    username: String,
    /// The domain: a hostname or an IP address.
    #[schema(example = "example.com")]
    domain: String,
    /// The password (not empty; never stored, only its HA1 values).
    #[schema(example = "correct horse battery staple", min_length = 1)]
    password: String,
}

/// Which accounts to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsersParams {
    /// Only those of this domain.
    #[param(example = "example.com")]
    domain: Option<String>,
}

/// The account to remove.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AccountPath {
    /// `user@domain` (percent-encoded as a path segment).
    #[param(example = "alice@example.com")]
    account: String,
}

/// Lowercases a hostname or IP literal (IPv6 bracketed); `None` when it
/// is neither. The same rule as `locus users --domain`.
fn normalize_domain(raw: &str) -> Option<String> {
    let lower = raw.to_ascii_lowercase();
    if let Some(inner) = lower.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(|ip| format!("[{ip}]"));
    }
    match lower.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => Some(ip.to_string()),
        Ok(IpAddr::V6(ip)) => Some(format!("[{ip}]")),
        Err(_) => is_hostname(&lower).then_some(lower),
    }
}

/// RFC 3261 `hostname`.
fn is_hostname(host: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let top_ok = host
        .rsplit('.')
        .next()
        .is_some_and(|top| top.starts_with(|c: char| c.is_ascii_alphabetic()));
    host.len() <= 253 && host.split('.').all(label_ok) && top_ok
}

fn domain_of(raw: &str) -> Result<String, ApiError> {
    normalize_domain(raw).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "domain {raw:?} is not a valid hostname or IP address"
        ))
    })
}

/// A user name usable in a SIP URI user part and in an htdigest line.
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, ':' | '@' | '"' | '\\'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::unprocessable(format!(
            "username {name:?} is not valid (1 to 128 characters, no spaces, ':', '@', quotes or backslashes)"
        )))
    }
}

fn users_of(app: &Shared) -> Result<Arc<dyn UserStore>, ApiError> {
    app.ctx.users.clone().ok_or_else(|| {
        ApiError::not_found("no account database: this server runs without accounts")
    })
}

fn db_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Constraint(why) => ApiError::unprocessable(format!("account database: {why}")),
        e => ApiError::unavailable(format!("account database: {e}")),
    }
}

/// Runs `f` on the account database, off the async workers.
async fn blocking<T: Send + 'static>(
    users: Arc<dyn UserStore>,
    f: impl FnOnce(&dyn UserStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || f(users.as_ref()))
        .await
        .map_err(|_| ApiError::unavailable("account database: the call was cancelled"))?
        .map_err(db_error)
}

/// Lists the accounts.
#[utoipa::path(get, path = "/api/v1/users", tag = tags::USERS, params(UsersParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The accounts", body = UserList),
        (status = 400, description = "A bad query", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 404, description = "This server has no account database", body = ErrorBody),
        (status = 422, description = "Not a valid domain", body = ErrorBody),
        (status = 503, description = "The account database cannot answer", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(app): State<Shared>,
    Query(q): Query<UsersParams>,
) -> Result<axum::Json<UserList>, ApiError> {
    let users = users_of(&app)?;
    let domain = q.domain.as_deref().map(domain_of).transpose()?;
    let list = blocking(users, move |u| u.list(domain.as_deref())).await?;
    Ok(axum::Json(UserList {
        users: list.iter().map(UserView::of).collect(),
    }))
}

/// Adds an account, or replaces its password.
#[utoipa::path(post, path = "/api/v1/users", tag = tags::USERS, request_body = NewUser,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The password of the account was replaced", body = OneUser),
        (status = 201, description = "The account was added", body = OneUser),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A cookie request without the CSRF token", body = ErrorBody),
        (status = 404, description = "This server has no account database", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "A bad user name, domain or password, or the name is taken in the realm", body = ErrorBody),
        (status = 503, description = "The account database cannot answer", body = ErrorBody),
    ))]
pub(crate) async fn add(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Json(new): Json<NewUser>,
) -> Result<Response, ApiError> {
    let users = users_of(&app)?;
    check_name(&new.username)?;
    let domain = domain_of(&new.domain)?;
    if new.password.is_empty() {
        return Err(ApiError::unprocessable("the password is empty"));
    }
    let realm = (app.ctx.realm_for)(&domain);
    let user = User {
        ha1: Ha1Set {
            md5: Some(ha1(Algorithm::Md5, &new.username, &realm, &new.password)),
            sha256: Some(ha1(Algorithm::Sha256, &new.username, &realm, &new.password)),
            sha512_256: Some(ha1(
                Algorithm::Sha512_256,
                &new.username,
                &realm,
                &new.password,
            )),
        },
        username: new.username,
        domain,
        realm,
    };
    let account = format!("{}@{}", user.username, user.domain);
    let view = UserView::of(&user);
    let now = crate::clock::now_ms();
    let outcome = blocking(users, move |u| u.put(&user, now)).await;
    let detail = json!({ "realm": view.realm, "added": outcome.as_ref().ok() });
    let logged = outcome.as_ref().map(|_| ()).map_err(ApiError::message);
    app.audit(&caller, "users.add", Some(&account), detail, logged);
    let status = if outcome? {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(OneUser { user: view })).into_response())
}

/// Removes an account.
#[utoipa::path(delete, path = "/api/v1/users/{account}", tag = tags::USERS, params(AccountPath),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "A bad path", body = ErrorBody),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "A cookie request without the CSRF token", body = ErrorBody),
        (status = 404, description = "No such account, or no account database", body = ErrorBody),
        (status = 422, description = "Not `user@domain` with a valid domain", body = ErrorBody),
        (status = 503, description = "The account database cannot answer", body = ErrorBody),
    ))]
pub(crate) async fn remove(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<AccountPath>,
) -> Result<StatusCode, ApiError> {
    let users = users_of(&app)?;
    let (name, raw_domain) = path
        .account
        .rsplit_once('@')
        .ok_or_else(|| ApiError::unprocessable(format!("{:?} is not user@domain", path.account)))?;
    let domain = domain_of(raw_domain)?;
    let name = name.to_owned();
    let account = format!("{name}@{domain}");
    let outcome = blocking(users, move |u| u.remove(&domain, &name))
        .await
        .and_then(|removed| {
            if removed {
                Ok(())
            } else {
                Err(ApiError::not_found(format!("no account {account}")))
            }
        });
    let logged = outcome.as_ref().map(|_| ()).map_err(ApiError::message);
    app.audit(&caller, "users.remove", Some(&account), json!({}), logged);
    outcome.map(|()| StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_domains_follow_the_cli() {
        assert!(check_name("alice").is_ok());
        assert!(check_name("+4930123").is_ok());
        for bad in ["", "a b", "a:b", "a@b", "a\"b", "a\nb", "a\\b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalize_domain("Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalize_domain("::1").as_deref(), Some("[::1]"));
        assert_eq!(normalize_domain("192.0.2.1").as_deref(), Some("192.0.2.1"));
        for bad in ["", "a..b", "-a.com", "example.123", "a b"] {
            assert!(normalize_domain(bad).is_none(), "{bad}");
        }
    }
}
