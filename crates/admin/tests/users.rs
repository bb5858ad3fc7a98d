//! Accounts through the API, in a real SqliteUsers in a temp dir: added
//! (201) with HA1 for every algorithm in the domain's realm, password
//! replaced (200), listed without HA1, removed (204, then 404); invalid
//! names, domains and passwords are 422; no account database is 404.

mod common;

use common::{segment, Harness, Options};
use location::{SqliteUsers, UserStore};
use reqwest::Method;
use serde_json::{json, Value};
use sip_core::digest::{ha1, Algorithm};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_added_listed_replaced_and_removed() {
    let h = Harness::start_with(Options {
        users: true,
        ..Options::default()
    })
    .await;
    let (status, body) = h.get_json("/api/v1/users").await;
    assert_eq!((status, body), (200, json!({"users": []})));
    let new = json!({"username": "alice", "domain": "Example.COM", "password": "s3cret"});
    let (status, body) = h.send(Method::POST, "/api/v1/users", Some(new)).await;
    let alice = json!({
        "username": "alice",
        "domain": "example.com",
        "realm": "example.com",
        "algorithms": ["SHA-512-256", "SHA-256", "MD5"],
    });
    assert_eq!((status, body), (201, json!({"user": alice})));
    // The database holds the HA1 of every algorithm, for the realm.
    let db = SqliteUsers::open(h.dir.path()).expect("users db");
    let stored = db
        .get("example.com", "alice")
        .expect("read")
        .expect("alice");
    assert_eq!(
        stored.ha1.md5.as_deref(),
        Some(ha1(Algorithm::Md5, "alice", "example.com", "s3cret").as_str())
    );
    assert_eq!(
        stored.ha1.sha256.as_deref(),
        Some(ha1(Algorithm::Sha256, "alice", "example.com", "s3cret").as_str())
    );
    assert_eq!(
        stored.ha1.sha512_256.as_deref(),
        Some(ha1(Algorithm::Sha512_256, "alice", "example.com", "s3cret").as_str())
    );
    // A second time: the password is replaced (200).
    let again = json!({"username": "alice", "domain": "example.com", "password": "n3w-pa55"});
    let (status, body) = h.send(Method::POST, "/api/v1/users", Some(again)).await;
    assert_eq!((status, &body["user"]), (200, &alice));
    let stored = db
        .get("example.com", "alice")
        .expect("read")
        .expect("alice");
    assert_eq!(
        stored.ha1.md5.as_deref(),
        Some(ha1(Algorithm::Md5, "alice", "example.com", "n3w-pa55").as_str())
    );
    let bob = json!({"username": "bob", "domain": "other.org", "password": "pw"});
    assert_eq!(
        h.send(Method::POST, "/api/v1/users", Some(bob)).await.0,
        201
    );

    // Listed sorted by domain and name, never with HA1 values.
    let (status, body) = h.get_json("/api/v1/users").await;
    assert_eq!(status, 200);
    let names: Vec<&Value> = body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| &u["username"])
        .collect();
    assert_eq!(names, [&json!("alice"), &json!("bob")]);
    let text = body.to_string();
    assert!(
        !text.contains(&stored.ha1.md5.clone().expect("md5")),
        "{text}"
    );
    let (_, body) = h.get_json("/api/v1/users?domain=other.org").await;
    assert_eq!(body["users"].as_array().map(Vec::len), Some(1));
    let (status, _) = h.get_json("/api/v1/users?domain=not_a_domain!").await;
    assert_eq!(status, 422);

    // Removed once; the second time it is unknown.
    let path = format!("/api/v1/users/{}", segment("bob@other.org"));
    let (status, body) = h.send(Method::DELETE, &path, None).await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = h.send(Method::DELETE, &path, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(db.get("other.org", "bob").expect("read").is_none());
    let (status, _) = h.send(Method::DELETE, "/api/v1/users/nodomain", None).await;
    assert_eq!(status, 422);

    // Every change is in the audit log; no password is.
    let log = std::fs::read_to_string(&h.audit_log).expect("audit log");
    for secret in ["s3cret", "n3w-pa55", "\"pw\""] {
        assert!(!log.contains(secret), "{secret} in the audit log:\n{log}");
    }
    let entries: Vec<(Value, Value, Value)> = h
        .audit_entries()
        .iter()
        .map(|e| {
            (
                e["action"].clone(),
                e["target"].clone(),
                e["outcome"].clone(),
            )
        })
        .collect();
    assert_eq!(entries.len(), 5, "{entries:?}");
    assert_eq!(
        entries[0],
        (json!("users.add"), json!("alice@example.com"), json!("ok"))
    );
    assert_eq!(
        entries[3],
        (json!("users.remove"), json!("bob@other.org"), json!("ok"))
    );
    assert_eq!(entries[4].0, json!("users.remove"));
    assert_ne!(entries[4].2, json!("ok"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_accounts_are_422_and_bad_bodies_400() {
    let h = Harness::start_with(Options {
        users: true,
        ..Options::default()
    })
    .await;
    for bad in [
        json!({"username": "a b", "domain": "example.com", "password": "pw"}),
        json!({"username": "a@b", "domain": "example.com", "password": "pw"}),
        json!({"username": "", "domain": "example.com", "password": "pw"}),
        json!({"username": "x".repeat(129), "domain": "example.com", "password": "pw"}),
        json!({"username": "alice", "domain": "exa mple.com", "password": "pw"}),
        json!({"username": "alice", "domain": "example.com", "password": ""}),
        json!({"username": "alice", "domain": "example.com"}),
        json!({"username": 7, "domain": "example.com", "password": "pw"}),
        json!([]),
    ] {
        let (status, body) = h
            .send(Method::POST, "/api/v1/users", Some(bad.clone()))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["error"].is_string());
    }
    let resp = h
        .http
        .post(h.url("/api/v1/users"))
        .bearer_auth(&h.token)
        .body("{\"username\":")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let resp = h
        .http
        .post(h.url("/api/v1/users"))
        .bearer_auth(&h.token)
        .body(vec![b' '; 100 * 1024])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 413);
    let (_, body) = h.get_json("/api/v1/users").await;
    assert_eq!(body, json!({"users": []}));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_account_database_users_are_404() {
    let h = Harness::start().await;
    let (status, body) = h.get_json("/api/v1/users").await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("account")),
        "{body}"
    );
    let new = json!({"username": "alice", "domain": "example.com", "password": "pw"});
    assert_eq!(
        h.send(Method::POST, "/api/v1/users", Some(new)).await.0,
        404
    );
    assert_eq!(
        h.send(Method::DELETE, "/api/v1/users/alice@example.com", None)
            .await
            .0,
        404
    );
    h.stop().await;
}
