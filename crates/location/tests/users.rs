//! The account table: administration round trips, the change counter the
//! server polls, the in-memory cache, and the migration from a database
//! written before accounts existed.

use location::{Ha1Set, SqliteUsers, StoreExt, User, UserCache, UserDirectory, UserStore};

fn user(name: &str, domain: &str, md5: &str) -> User {
    User {
        username: name.into(),
        domain: domain.into(),
        realm: domain.into(),
        ha1: Ha1Set {
            md5: Some(md5.into()),
            sha256: None,
            sha512_256: Some(format!("{md5}{md5}")),
        },
    }
}

#[test]
fn put_get_list_remove_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let users = SqliteUsers::open(dir.path()).unwrap();
    assert!(users.list(None).unwrap().is_empty());
    let v0 = users.version().unwrap();
    assert!(users.put(&user("alice", "example.com", "aa"), 1).unwrap());
    assert!(users.put(&user("bob", "example.com", "bb"), 1).unwrap());
    assert!(users.put(&user("alice", "example.org", "cc"), 1).unwrap());
    let v1 = users.version().unwrap();
    assert_ne!(v0, v1);
    // Replacing is not adding.
    assert!(!users.put(&user("alice", "example.com", "dd"), 2).unwrap());
    assert_ne!(users.version().unwrap(), v1);
    let alice = users.get("example.com", "alice").unwrap().unwrap();
    assert_eq!(alice.ha1.md5.as_deref(), Some("dd"));
    assert_eq!(alice.ha1.sha256, None);
    let names: Vec<String> = users
        .list(Some("example.com"))
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(users.list(None).unwrap().len(), 3);
    assert!(users.remove("example.com", "bob").unwrap());
    assert!(!users.remove("example.com", "bob").unwrap());
    assert_eq!(users.get("example.com", "bob").unwrap(), None);
}

#[test]
fn one_name_per_realm() {
    let dir = tempfile::tempdir().unwrap();
    let users = SqliteUsers::open(dir.path()).unwrap();
    users.put(&user("alice", "a.example", "aa"), 1).unwrap();
    let mut other = user("alice", "b.example", "bb");
    other.realm = "a.example".into();
    assert!(users.put(&other, 1).is_err());
}

#[test]
fn cache_sees_changes_from_another_connection() {
    let dir = tempfile::tempdir().unwrap();
    let cache = UserCache::new(SqliteUsers::open(dir.path()).unwrap()).unwrap();
    assert!(cache.is_empty());
    assert!(!cache.refresh().unwrap());
    // What `locus users add` does while the server runs.
    let admin = SqliteUsers::open(dir.path()).unwrap();
    admin.put(&user("alice", "example.com", "aa"), 1).unwrap();
    assert!(cache.find("example.com", "alice").is_none());
    assert!(cache.refresh().unwrap());
    let found = cache.find("example.com", "alice").unwrap();
    assert_eq!(found.ha1.md5.as_deref(), Some("aa"));
    assert!(cache.find("example.org", "alice").is_none());
    assert!(cache.find("example.com", "bob").is_none());
    assert_eq!(cache.count(), 1);
    admin.remove("example.com", "alice").unwrap();
    assert!(cache.refresh().unwrap());
    assert!(cache.find("example.com", "alice").is_none());
    assert!(cache.is_empty());
}

#[tokio::test]
async fn migration_keeps_bindings_written_by_version_1() {
    let dir = tempfile::tempdir().unwrap();
    // A version-1 database (bindings, no accounts yet): written by the
    // store, then the accounts tables of version 2 taken away again.
    let store = location::SqliteStore::open(dir.path(), 0).unwrap();
    let b = location::Binding {
        aor: "sip:alice@example.com".into(),
        contact: "sip:alice@192.0.2.1".into(),
        q: 1000,
        expires_at_ms: 9_000_000_000_000,
        call_id: "cid".into(),
        cseq: 1,
        received: None,
        transport: "udp".into(),
        local: None,
        user_agent: None,
        path: Vec::new(),
        instance: None,
        reg_id: None,
        updated_at_ms: 1,
        action: None,
    };
    store
        .update("sip:alice@example.com", 1, move |set| {
            set.push(b.clone());
            Ok::<(), ()>(())
        })
        .await
        .unwrap()
        .unwrap();
    store.closed().await.unwrap();
    drop(store);
    {
        let conn = rusqlite::Connection::open(dir.path().join(location::DB_FILE)).unwrap();
        conn.execute_batch("DROP TABLE users; DROP TABLE users_version; PRAGMA user_version = 1;")
            .unwrap();
    }
    let users = SqliteUsers::open(dir.path()).unwrap();
    assert!(users.list(None).unwrap().is_empty());
    users.put(&user("alice", "example.com", "aa"), 1).unwrap();
    let kept = location::read_bindings(dir.path(), None, 1).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].contact, "sip:alice@192.0.2.1");
}
