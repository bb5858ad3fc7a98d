//! Counts and paged listings, as the admin API sees them: on both
//! backends, kept up to date by writes and purges.

mod common;

use common::{binding, set_to};
use location::{
    Counts, ListQuery, LocationStore, MemoryStore, Page, SqliteStore, StoreError, StoreExt,
};
use std::collections::BTreeSet;

fn aor(i: usize) -> String {
    format!("sip:user{i}@example.com")
}

fn list(store: &dyn LocationStore, query: &ListQuery, now_ms: u64) -> Result<Page, StoreError> {
    let (tx, rx) = std::sync::mpsc::channel();
    store.list(query, now_ms, Box::new(move |r| tx.send(r).unwrap()));
    rx.try_recv().expect("the hot table answers at once")
}

/// Every page from the start with `limit` and `search`: the AORs seen.
fn walk(store: &dyn LocationStore, limit: usize, search: Option<&str>) -> Vec<String> {
    let mut query = ListQuery {
        cursor: None,
        limit,
        search: search.map(str::to_string),
    };
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let page = list(store, &query, 0).unwrap();
        let aors: BTreeSet<&str> = page.bindings.iter().map(|b| b.aor.as_str()).collect();
        assert!(
            aors.len() <= limit,
            "{} AORs on a page of {limit}",
            aors.len()
        );
        seen.extend(aors.into_iter().map(str::to_string));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return seen,
        }
    }
    panic!("the listing did not end");
}

async fn fill(store: &impl LocationStore, n: usize) {
    for i in 0..n {
        let a = aor(i);
        let mut set = vec![binding(&a, &format!("sip:u{i}@192.0.2.1"), 10_000)];
        if i % 3 == 0 {
            set.push(binding(&a, &format!("sip:u{i}@192.0.2.2"), 20_000));
        }
        store.update(&a, 0, set_to(set)).await.unwrap().unwrap();
    }
}

async fn counts_and_listing(store: impl LocationStore) {
    assert_eq!(store.counts(), Counts::default());
    fill(&store, 500).await;
    assert_eq!(
        store.counts(),
        Counts {
            aors: 500,
            bindings: 500 + 167
        }
    );
    let all = walk(&store, 37, None);
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 500, "each AOR once");
    assert_eq!(distinct.len(), 500);

    // A search matches AOR, contact or User-Agent, ignoring case.
    assert_eq!(walk(&store, 10, Some("USER42@")), vec![aor(42)]);
    assert_eq!(walk(&store, 10, Some("sip:u7@192.0.2.1")).len(), 1);
    assert_eq!(walk(&store, 1000, Some("192.0.2.2")).len(), 167);
    assert!(walk(&store, 10, Some("nobody")).is_empty());

    // A refresh changes nothing; removing a contact and an AOR counts.
    store
        .update(&aor(0), 0, |set| {
            set.retain(|b| b.contact.ends_with(".1"));
            Ok::<_, ()>(())
        })
        .await
        .unwrap()
        .unwrap();
    store
        .update(&aor(1), 0, set_to(Vec::new()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.counts(),
        Counts {
            aors: 499,
            bindings: 500 + 167 - 2
        }
    );
    // Purging what expired at 15 s leaves the second contacts.
    while store.next_expiry().is_some_and(|at| at <= 15_000) {
        store.purge_expired(15_000);
    }
    assert_eq!(
        store.counts(),
        Counts {
            aors: 166,
            bindings: 166
        }
    );
    // Expired bindings are never listed, purged or not.
    assert!(walk(&store, 1000, Some("192.0.2.1")).is_empty());

    let bad = ListQuery {
        cursor: Some("not a cursor".into()),
        limit: 10,
        search: None,
    };
    assert!(matches!(
        list(&store, &bad, 0),
        Err(StoreError::InvalidCursor)
    ));
    let out_of_range = ListQuery {
        cursor: Some("9999.0".into()),
        ..bad
    };
    assert!(matches!(
        list(&store, &out_of_range, 0),
        Err(StoreError::InvalidCursor)
    ));
}

#[tokio::test]
async fn memory_store_counts_and_lists() {
    counts_and_listing(MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_counts_and_lists_and_counts_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), 0).unwrap();
    fill(&store, 50).await;
    store.closed().await.unwrap();
    drop(store);
    let reopened = SqliteStore::open(dir.path(), 0).unwrap();
    assert_eq!(
        reopened.counts(),
        Counts {
            aors: 50,
            bindings: 50 + 17
        }
    );
    reopened.closed().await.unwrap();
    drop(reopened);
    let other = tempfile::tempdir().unwrap();
    counts_and_listing(SqliteStore::open(other.path(), 0).unwrap()).await;
}

#[tokio::test]
async fn sqlite_store_reports_its_commits_and_its_health() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    struct Count(AtomicUsize);
    impl location::StoreObserver for Count {
        fn committed(&self, _took: std::time::Duration, changes: usize) {
            self.0.fetch_add(changes, Ordering::Relaxed);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), 0).unwrap();
    let seen = Arc::new(Count(AtomicUsize::new(0)));
    store.set_observer(seen.clone());
    fill(&store, 5).await;
    assert_eq!(seen.0.load(Ordering::Relaxed), 5);
    let probe = |store: &SqliteStore| {
        let (tx, rx) = std::sync::mpsc::channel();
        store.probe(Box::new(move |r| tx.send(r).unwrap()));
        rx.try_recv().expect("the probe answers at once")
    };
    assert!(probe(&store).is_ok());
    store.closed().await.unwrap();
    assert!(matches!(probe(&store), Err(StoreError::Closed)));
}
