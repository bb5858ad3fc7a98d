//! Behaviour of the durable backend, against real database files.

mod common;

use std::sync::Arc;

use common::{binding, contacts, set_to, snapshot, ALICE, BOB};
use location::{
    read_bindings, Binding, LocationStore, SqliteStore, StoreError, StoreExt, Version, Written,
    DB_FILE,
};
use tempfile::TempDir;

/// Upper bound for a wait on a callback (a hang guard, not a performance
/// threshold): a callback that never runs fails the test instead of
/// hanging it.
const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

fn open(dir: &TempDir, now_ms: u64) -> SqliteStore {
    SqliteStore::open(dir.path(), now_ms).unwrap()
}

fn on_disk(dir: &TempDir, aor: &str) -> Vec<Binding> {
    read_bindings(dir.path(), Some(aor), 0).unwrap()
}

#[tokio::test]
async fn open_creates_the_directory_and_database() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("nested/data");
    let store = SqliteStore::open(&data, 0).unwrap();
    assert!(data.join(DB_FILE).is_file());
    assert!(read_bindings(&data, None, 0).unwrap().is_empty());
    store.closed().await.unwrap();
}

#[tokio::test]
async fn updates_are_on_disk_when_acknowledged() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);

    store
        .update(ALICE, 0, set_to(vec![binding(ALICE, "sip:a@h1", 100)]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(on_disk(&dir, ALICE), store.bindings(ALICE, 0).unwrap());

    store
        .update(ALICE, 0, |set| {
            set[0].expires_at_ms = 200;
            set.push(binding(ALICE, "sip:a@h2", 300));
            Ok::<_, ()>(())
        })
        .await
        .unwrap()
        .unwrap();
    let disk = on_disk(&dir, ALICE);
    assert_eq!(contacts(&disk), ["sip:a@h1", "sip:a@h2"]);
    assert_eq!(disk[0].expires_at_ms, 200);

    store
        .update(ALICE, 0, |set| {
            set.retain(|b| b.contact == "sip:a@h2");
            Ok::<_, ()>(())
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contacts(&on_disk(&dir, ALICE)), ["sip:a@h2"]);

    store
        .update(ALICE, 0, set_to(Vec::new()))
        .await
        .unwrap()
        .unwrap();
    assert!(on_disk(&dir, ALICE).is_empty());
    assert!(store.bindings(ALICE, 0).unwrap().is_empty());
    store.closed().await.unwrap();
}

#[tokio::test]
async fn closure_error_changes_neither_memory_nor_disk() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    store
        .update(ALICE, 0, set_to(vec![binding(ALICE, "sip:a@h1", 100)]))
        .await
        .unwrap()
        .unwrap();
    let before = store.bindings(ALICE, 0).unwrap();
    let outcome = store
        .update(ALICE, 0, |set| {
            set.push(binding(ALICE, "sip:a@h2", 100));
            Err::<(), _>(423)
        })
        .await
        .unwrap();
    assert_eq!(outcome, Err(423));
    assert_eq!(store.bindings(ALICE, 0).unwrap(), before);
    assert_eq!(on_disk(&dir, ALICE), before);
    store.closed().await.unwrap();
}

#[tokio::test]
async fn every_field_survives_a_restart() {
    let dir = TempDir::new().unwrap();
    let mut plain = binding(ALICE, "sip:a@h2;transport=udp", 5_000);
    plain.q = 0;
    plain.received = None;
    plain.local = None;
    plain.user_agent = None;
    plain.path = vec![String::new(), "7:x\nnewline".into()];
    plain.instance = None;
    plain.reg_id = None;
    plain.cseq = u32::MAX;
    let mut rich = binding(ALICE, "sip:a@h1", u64::MAX / 2);
    rich.q = 500;
    let set = vec![rich, plain];
    {
        let store = open(&dir, 0);
        store
            .update(ALICE, 0, set_to(set.clone()))
            .await
            .unwrap()
            .unwrap();
        store.closed().await.unwrap();
    }
    let store = open(&dir, 1);
    assert_eq!(store.bindings(ALICE, 1).unwrap(), set);
    assert_eq!(store.next_expiry(), Some(5_999));
    store.closed().await.unwrap();
}

async fn register_many(store: &SqliteStore, count: usize) -> Vec<Binding> {
    let mut all = Vec::new();
    for i in 0..count {
        let aor = format!("sip:user{i}@example.com");
        let b = binding(&aor, &format!("sip:u{i}@192.0.2.1"), 10_000 + i as u64);
        store
            .update(&aor, 0, set_to(vec![b.clone()]))
            .await
            .unwrap()
            .unwrap();
        all.push(b);
    }
    all
}

async fn assert_reloaded(dir: &TempDir, expected: &[Binding]) {
    let store = open(dir, 0);
    for b in expected {
        assert_eq!(store.bindings(&b.aor, 0).unwrap(), std::slice::from_ref(b));
    }
    store.closed().await.unwrap();
}

#[tokio::test]
async fn acknowledged_updates_survive_drop_without_close() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    let expected = register_many(&store, 50).await;
    drop(store);
    assert_reloaded(&dir, &expected).await;
}

#[tokio::test]
async fn acknowledged_updates_survive_a_crash() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    let expected = register_many(&store, 50).await;
    // No destructor runs and the writer never learns: as if killed.
    std::mem::forget(store);
    assert_reloaded(&dir, &expected).await;
}

#[tokio::test]
async fn expired_rows_are_not_loaded_and_are_dropped() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir, 0);
        store
            .update(
                ALICE,
                0,
                set_to(vec![
                    binding(ALICE, "sip:a@h1", 100),
                    binding(ALICE, "sip:a@h2", 300),
                ]),
            )
            .await
            .unwrap()
            .unwrap();
        store
            .update(BOB, 0, set_to(vec![binding(BOB, "sip:b@h1", 150)]))
            .await
            .unwrap()
            .unwrap();
        std::mem::forget(store);
    }
    let store = open(&dir, 200);
    assert_eq!(contacts(&store.bindings(ALICE, 0).unwrap()), ["sip:a@h2"]);
    assert!(store.bindings(BOB, 0).unwrap().is_empty());
    assert_eq!(store.next_expiry(), Some(999));
    // Gone from the file too, not merely hidden.
    assert_eq!(read_bindings(dir.path(), None, 0).unwrap().len(), 1);
    store.closed().await.unwrap();
}

#[tokio::test]
async fn purge_removes_due_bindings_from_memory_and_disk_drops_them_later() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    store
        .update(
            ALICE,
            0,
            set_to(vec![
                binding(ALICE, "sip:a@h1", 100),
                binding(ALICE, "sip:a@h2", 3_000),
            ]),
        )
        .await
        .unwrap()
        .unwrap();
    store
        .update(BOB, 0, set_to(vec![binding(BOB, "sip:b@h1", 100)]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.next_expiry(), Some(999));
    let mut removed = store.purge_expired(999);
    removed.sort_by(|x, y| x.contact.cmp(&y.contact));
    assert_eq!(contacts(&removed), ["sip:a@h1", "sip:b@h1"]);
    assert_eq!(store.next_expiry(), Some(3_999));
    assert_eq!(contacts(&store.bindings(ALICE, 0).unwrap()), ["sip:a@h2"]);
    store.closed().await.unwrap();
    // Expiry writes nothing: on disk the due bindings are hidden by time...
    assert_eq!(
        contacts(&read_bindings(dir.path(), None, 100).unwrap()),
        ["sip:a@h2"]
    );
    // ...and compaction (here: on the next open) drops them from the file.
    open(&dir, 100).closed().await.unwrap();
    assert_eq!(
        contacts(&read_bindings(dir.path(), None, 0).unwrap()),
        ["sip:a@h2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_updates_are_all_durable() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(open(&dir, 0));
    let tasks: Vec<_> = (0..1_000)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let aor = format!("sip:user{}@example.com", i % 250);
                let added = binding(&aor, &format!("sip:device{i}@192.0.2.1"), 10_000);
                store
                    .update(&aor, 0, move |set| {
                        set.push(added.clone());
                        Ok::<_, ()>(())
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap().unwrap();
    }
    std::mem::forget(store);
    let on_file = read_bindings(dir.path(), None, 0).unwrap();
    assert_eq!(on_file.len(), 1_000);
    let reopened = open(&dir, 0);
    for user in 0..250 {
        assert_eq!(
            reopened
                .bindings(&format!("sip:user{user}@example.com"), 0)
                .unwrap()
                .len(),
            4
        );
    }
    reopened.closed().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn updates_to_one_aor_apply_in_call_order() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    // Issue every update before awaiting any: the last call must win.
    let pending: Vec<_> = (0..300_u32)
        .map(|i| {
            let mut b = binding(ALICE, "sip:a@h1", 1_000 + u64::from(i));
            b.cseq = i;
            store.update(ALICE, 0, set_to(vec![b]))
        })
        .collect();
    for update in pending {
        update.await.unwrap().unwrap();
    }
    assert_eq!(store.bindings(ALICE, 0).unwrap()[0].cseq, 299);
    assert_eq!(on_disk(&dir, ALICE)[0].cseq, 299);
    std::mem::forget(store);
    let reopened = open(&dir, 0);
    assert_eq!(reopened.bindings(ALICE, 0).unwrap()[0].cseq, 299);
    reopened.closed().await.unwrap();
}

#[tokio::test]
async fn read_bindings_sees_commits_while_open_in_listing_order() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    let mut low = binding(BOB, "sip:b@z", 500);
    low.q = 100;
    let mut high_b = binding(BOB, "sip:b@y", 500);
    high_b.q = 900;
    let mut high_a = binding(BOB, "sip:b@x", 500);
    high_a.q = 900;
    store
        .update(BOB, 0, set_to(vec![low, high_b, high_a]))
        .await
        .unwrap()
        .unwrap();
    store
        .update(ALICE, 0, set_to(vec![binding(ALICE, "sip:a@h1", 50)]))
        .await
        .unwrap()
        .unwrap();

    let all = read_bindings(dir.path(), None, 0).unwrap();
    assert_eq!(
        contacts(&all),
        ["sip:a@h1", "sip:b@x", "sip:b@y", "sip:b@z"]
    );
    let live = read_bindings(dir.path(), None, 50).unwrap();
    assert_eq!(contacts(&live), ["sip:b@x", "sip:b@y", "sip:b@z"]);
    assert_eq!(contacts(&on_disk(&dir, ALICE)), ["sip:a@h1"]);
    assert!(read_bindings(dir.path(), Some("sip:nobody@example.com"), 0)
        .unwrap()
        .is_empty());
    store.closed().await.unwrap();
}

#[test]
fn read_bindings_reports_a_missing_database() {
    let dir = TempDir::new().unwrap();
    match read_bindings(&dir.path().join("nowhere"), None, 0) {
        Err(StoreError::Missing(path)) => assert!(path.ends_with(DB_FILE)),
        other => panic!("expected Missing, got {other:?}"),
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = TempDir::new().unwrap();
    open(&dir, 0).closed().await.unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open(dir.path(), 0),
        Err(StoreError::UnsupportedSchema { found: 99, .. })
    ));
    assert!(matches!(
        read_bindings(dir.path(), None, 0),
        Err(StoreError::UnsupportedSchema { found: 99, .. })
    ));
}

#[tokio::test]
async fn close_is_idempotent_and_refuses_later_changes() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    store
        .update(ALICE, 0, set_to(vec![binding(ALICE, "sip:a@h1", 100)]))
        .await
        .unwrap()
        .unwrap();
    store.closed().await.unwrap();
    store.closed().await.unwrap();
    let refused = store
        .update(ALICE, 0, set_to(vec![binding(ALICE, "sip:a@h2", 100)]))
        .await;
    assert!(matches!(refused, Err(StoreError::Closed)));
    assert_eq!(contacts(&store.bindings(ALICE, 0).unwrap()), ["sip:a@h1"]);
    assert_eq!(contacts(&on_disk(&dir, ALICE)), ["sip:a@h1"]);
}

/// A trigger added behind the store's back makes journal appends of sets
/// holding one contact fail, which fails the writer's transaction.
fn sabotage(dir: &TempDir) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER sabotage BEFORE INSERT ON journal
         WHEN instr(NEW.bindings, CAST('sip:poison' AS BLOB)) > 0
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
    conn
}

#[tokio::test]
async fn a_failed_commit_fails_the_update_and_restores_memory() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    store
        .update(ALICE, 0, set_to(vec![binding(ALICE, "sip:a@h1", 100)]))
        .await
        .unwrap()
        .unwrap();
    let before = store.bindings(ALICE, 0).unwrap();
    let saboteur = sabotage(&dir);

    let failed = store
        .update(ALICE, 0, |set| {
            set[0].expires_at_ms = 999;
            set.push(binding(ALICE, "sip:poison@h2", 100));
            Ok::<_, ()>(())
        })
        .await;
    assert!(matches!(failed, Err(StoreError::CommitFailed)));
    assert_eq!(store.bindings(ALICE, 0).unwrap(), before);
    assert_eq!(store.next_expiry(), Some(999));
    assert_eq!(on_disk(&dir, ALICE), before);

    // The store keeps working for healthy changes.
    store
        .update(BOB, 0, set_to(vec![binding(BOB, "sip:b@h1", 100)]))
        .await
        .unwrap()
        .unwrap();
    saboteur.execute_batch("DROP TRIGGER sabotage").unwrap();
    store
        .update(ALICE, 0, set_to(vec![binding(ALICE, "sip:poison@h2", 100)]))
        .await
        .unwrap()
        .unwrap();
    store.closed().await.unwrap();
    let reopened = open(&dir, 0);
    assert_eq!(
        contacts(&reopened.bindings(ALICE, 0).unwrap()),
        ["sip:poison@h2"]
    );
    assert_eq!(contacts(&reopened.bindings(BOB, 0).unwrap()), ["sip:b@h1"]);
    reopened.closed().await.unwrap();
}

#[tokio::test]
async fn memory_matches_disk_after_a_failed_commit() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    let _saboteur = sabotage(&dir);
    // Issued before any is awaited: the second is built on the first's
    // unconfirmed state unless the failure was already handled; the third
    // may share the failing batch. Whatever the timing, an update reports
    // success exactly when its state is on disk, and memory equals disk.
    let first = store.update(ALICE, 0, set_to(vec![binding(ALICE, "sip:poison@h1", 100)]));
    let second = store.update(ALICE, 0, |set| {
        set.push(binding(ALICE, "sip:a@h2", 100));
        Ok::<_, ()>(())
    });
    let third = store.update(BOB, 0, set_to(vec![binding(BOB, "sip:b@h1", 100)]));
    assert!(matches!(first.await, Err(StoreError::CommitFailed)));
    let second = second.await;
    let third = third.await;
    for (aor, outcome) in [(ALICE, second), (BOB, third)] {
        let memory = store.bindings(aor, 0).unwrap();
        assert_eq!(memory, on_disk(&dir, aor), "{aor}");
        match outcome {
            Ok(Ok(())) => assert_eq!(memory.len(), 1, "{aor}"),
            Err(StoreError::CommitFailed) => assert!(memory.is_empty(), "{aor}"),
            other => panic!("unexpected outcome for {aor}: {other:?}"),
        }
    }
    store.closed().await.unwrap();
}

/// The RFC 2543 `action` of a binding is stored with it (in the encoded
/// set) and survives a restart; the schema is at its latest version.
#[tokio::test]
async fn the_action_of_a_binding_survives_a_restart() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, 0);
    let mut redirect = binding(ALICE, "sip:a@h2", 100);
    redirect.action = Some(location::ContactAction::Redirect);
    let mut proxy = binding(ALICE, "sip:a@h3", 100);
    proxy.action = Some(location::ContactAction::Proxy);
    store
        .update(ALICE, 0, set_to(vec![redirect, proxy]))
        .await
        .unwrap()
        .unwrap();
    drop(store);

    let store = open(&dir, 0);
    let live = store.bindings(ALICE, 0).unwrap();
    assert_eq!(contacts(&live), ["sip:a@h2", "sip:a@h3"]);
    assert_eq!(live[0].action, Some(location::ContactAction::Redirect));
    assert_eq!(live[1].action, Some(location::ContactAction::Proxy));
    store.closed().await.unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 2, "bindings (v1) then users (v2)");
    drop(conn);
    let reread = read_bindings(dir.path(), Some(ALICE), 0).unwrap();
    assert_eq!(reread[0].action, Some(location::ContactAction::Redirect));
}

/// `write` calls its callback exactly once: `Stored` once the change is on
/// disk, `Conflict` at once (with the AOR as it is now, nothing written)
/// when the version it was given is stale, and the store's error once the
/// store is closed.
#[tokio::test]
async fn write_reports_every_outcome_once() {
    let dir = TempDir::new().unwrap();
    let store =
        SqliteStore::open_with_commit_window(dir.path(), 0, std::time::Duration::from_millis(5))
            .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let path = dir.path().to_path_buf();
    let ok = tx.clone();
    let empty = snapshot(&store, ALICE);
    store.write(
        ALICE,
        &empty.version,
        vec![binding(ALICE, "sip:a@h1", 100)],
        0,
        Box::new(move |outcome| {
            // Durable before the callback runs: another connection sees it.
            let on_disk = read_bindings(&path, Some(ALICE), 0).unwrap().len();
            ok.send(format!("{outcome:?} {on_disk}")).unwrap();
        }),
    );
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "Ok(Stored) 1");
    // A write decided on the empty set, after the AOR changed: refused.
    let stale = tx.clone();
    store.write(
        ALICE,
        &empty.version,
        Vec::new(),
        0,
        Box::new(move |outcome| {
            let seen = match outcome {
                Ok(Written::Conflict(now)) => contacts(&now.bindings).join(","),
                other => format!("{other:?}"),
            };
            stale.send(seen).unwrap();
        }),
    );
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "sip:a@h1");
    assert_eq!(contacts(&store.bindings(ALICE, 0).unwrap()), ["sip:a@h1"]);
    store.closed().await.unwrap();
    store.write(
        BOB,
        &Version::default(),
        vec![binding(BOB, "sip:b@h1", 100)],
        0,
        Box::new(move |outcome| tx.send(format!("{}", outcome.is_err())).unwrap()),
    );
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "true");
    assert!(rx.try_recv().is_err(), "each callback runs once");
    assert!(on_disk(&dir, BOB).is_empty());
}
