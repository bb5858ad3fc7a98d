//! Behaviour of the in-memory backend.

mod common;

use common::{binding, contacts, set_to, snapshot, ALICE, BOB};
use location::{LocationStore, MemoryStore, StoreExt, Written};

#[tokio::test]
async fn update_inserts_modifies_and_removes() {
    let store = MemoryStore::new();
    store
        .update(ALICE, 0, set_to(vec![binding(ALICE, "sip:a@h1", 100)]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contacts(&store.bindings(ALICE, 0).unwrap()), ["sip:a@h1"]);

    let seen = store
        .update(ALICE, 0, |set| {
            set[0].expires_at_ms = 200;
            set.push(binding(ALICE, "sip:a@h2", 300));
            Ok::<_, ()>(set.len())
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, 2);
    let now = store.bindings(ALICE, 0).unwrap();
    assert_eq!(contacts(&now), ["sip:a@h1", "sip:a@h2"]);
    assert_eq!(now[0].expires_at_ms, 200);

    store
        .update(ALICE, 0, |set| {
            set.retain(|b| b.contact != "sip:a@h1");
            Ok::<_, ()>(())
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contacts(&store.bindings(ALICE, 0).unwrap()), ["sip:a@h2"]);
    assert!(store.bindings(BOB, 0).unwrap().is_empty());
}

#[tokio::test]
async fn closure_error_changes_nothing() {
    let store = MemoryStore::new();
    store
        .update(ALICE, 0, set_to(vec![binding(ALICE, "sip:a@h1", 100)]))
        .await
        .unwrap()
        .unwrap();
    let before = store.bindings(ALICE, 0).unwrap();
    let outcome = store
        .update(ALICE, 0, |set| {
            set.clear();
            Err::<(), _>("interval too brief")
        })
        .await
        .unwrap();
    assert_eq!(outcome, Err("interval too brief"));
    assert_eq!(store.bindings(ALICE, 0).unwrap(), before);
    assert_eq!(store.next_expiry(), Some(999));
}

#[tokio::test]
async fn closure_sees_only_live_bindings() {
    let store = MemoryStore::new();
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
    let seen = store
        .update(ALICE, 100, |set| Ok::<_, ()>(contacts(set).join(",")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, "sip:a@h2");
}

#[tokio::test]
async fn lookup_purge_and_next_expiry_follow_the_clock() {
    let store = MemoryStore::new();
    assert_eq!(store.next_expiry(), None);
    store
        .update(
            ALICE,
            0,
            set_to(vec![
                binding(ALICE, "sip:a@h1", 1_000),
                binding(ALICE, "sip:a@h2", 3_000),
            ]),
        )
        .await
        .unwrap()
        .unwrap();
    store
        .update(BOB, 0, set_to(vec![binding(BOB, "sip:b@h1", 2_000)]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.next_expiry(), Some(1_999));
    assert_eq!(
        contacts(&store.bindings(ALICE, 999).unwrap()),
        ["sip:a@h1", "sip:a@h2"]
    );
    assert_eq!(
        contacts(&store.bindings(ALICE, 1_000).unwrap()),
        ["sip:a@h2"]
    );

    // Memory is reclaimed once the expiry's whole second has passed.
    assert!(store.purge_expired(1_998).is_empty());
    let mut removed = store.purge_expired(2_999);
    removed.sort_by(|x, y| x.contact.cmp(&y.contact));
    assert_eq!(contacts(&removed), ["sip:a@h1", "sip:b@h1"]);
    assert_eq!(store.next_expiry(), Some(3_999));
    assert_eq!(contacts(&store.bindings(ALICE, 0).unwrap()), ["sip:a@h2"]);
    assert!(store.bindings(BOB, 0).unwrap().is_empty());
    assert_eq!(contacts(&store.purge_expired(10_000)), ["sip:a@h2"]);
    assert_eq!(store.next_expiry(), None);
}

#[tokio::test]
async fn duplicate_contacts_from_a_closure_collapse_to_the_last() {
    let store = MemoryStore::new();
    let mut later = binding(ALICE, "sip:a@h1", 500);
    later.cseq = 9;
    store
        .update(
            ALICE,
            0,
            set_to(vec![binding(ALICE, "sip:a@h1", 100), later]),
        )
        .await
        .unwrap()
        .unwrap();
    let set = store.bindings(ALICE, 0).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].cseq, 9);
    assert_eq!(store.next_expiry(), Some(999));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_loses_nothing() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .update(ALICE, 0, |set| {
                        match set.first_mut() {
                            Some(b) => b.cseq += 1,
                            None => set.push(binding(ALICE, "sip:a@h1", 100)),
                        }
                        Ok::<_, ()>(())
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap().unwrap();
    }
    assert_eq!(store.bindings(ALICE, 0).unwrap()[0].cseq, 200);
}

/// The compare-and-set of the seam: of two writes decided on the same
/// snapshot, the second is refused with the AOR as the first left it, and
/// changes nothing; decided again on that, it goes through.
#[test]
fn a_write_on_a_stale_snapshot_conflicts_and_changes_nothing() {
    let store = MemoryStore::new();
    let seen = snapshot(&store, ALICE);
    assert!(seen.bindings.is_empty());
    let outcome = |store: &MemoryStore, snapshot: &location::Snapshot, contact: &str| {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut set = snapshot.bindings.clone();
        set.push(binding(ALICE, contact, 100));
        store.write(
            ALICE,
            &snapshot.version,
            set,
            0,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.try_recv()
            .expect("answered at once")
            .expect("no store error")
    };
    assert_eq!(outcome(&store, &seen, "sip:a@h1"), Written::Stored);
    let Written::Conflict(now) = outcome(&store, &seen, "sip:a@h2") else {
        panic!("the second write was decided on a stale snapshot");
    };
    assert_eq!(contacts(&now.bindings), ["sip:a@h1"]);
    assert_eq!(contacts(&store.bindings(ALICE, 0).unwrap()), ["sip:a@h1"]);
    assert_eq!(outcome(&store, &now, "sip:a@h2"), Written::Stored);
    assert_eq!(
        contacts(&store.bindings(ALICE, 0).unwrap()),
        ["sip:a@h1", "sip:a@h2"]
    );
}
