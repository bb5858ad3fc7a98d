//! Tests of the log-structured layout: journal replay, compaction, expiry
//! without writes, and `read_bindings` over journal + compacted state.

use std::time::Duration;

use rusqlite::Connection;
use tempfile::TempDir;

use super::writer::{compact_step, Tuning};
use super::{queries, read_bindings, SqliteStore, DB_FILE};
use crate::{codec, Binding, LocationStore, StoreExt};

fn binding(aor: &str, contact: &str, expires_at_ms: u64) -> Binding {
    Binding {
        aor: aor.into(),
        contact: contact.into(),
        q: 1000,
        expires_at_ms,
        call_id: format!("call-{contact}"),
        cseq: 1,
        received: Some("192.0.2.4:5062".into()),
        transport: "udp".into(),
        local: Some("192.0.2.1:5060".into()),
        user_agent: Some("ua".into()),
        path: Vec::new(),
        instance: None,
        reg_id: None,
        updated_at_ms: 0,
        action: None,
    }
}

fn aor(i: usize) -> String {
    format!("sip:user{i}@example.com")
}

/// Never compacts by itself (tests drive compaction explicitly).
fn manual() -> Tuning {
    Tuning {
        compact_at: usize::MAX,
        chunk: 10_000,
        idle: Duration::from_secs(3600),
        idle_min: usize::MAX,
        commit_window: Duration::ZERO,
    }
}

fn db(dir: &TempDir) -> Connection {
    Connection::open(dir.path().join(DB_FILE)).unwrap()
}

fn counts(dir: &TempDir) -> (usize, usize) {
    let conn = db(dir);
    let aors = conn
        .query_row("SELECT count(*) FROM aors", [], |r| r.get(0))
        .unwrap();
    (aors, queries::journal_len(&conn).unwrap())
}

async fn set(store: &SqliteStore, aor: &str, now_ms: u64, set: Vec<Binding>) {
    store
        .update(aor, now_ms, move |b| {
            b.clone_from(&set);
            Ok::<_, ()>(())
        })
        .await
        .unwrap()
        .unwrap();
}

/// Register `n` AORs, then change every third one again and remove every
/// fifth, so the journal holds several rows for some AORs.
async fn churn(store: &SqliteStore, n: usize) -> Vec<Vec<Binding>> {
    let mut expected = Vec::new();
    for i in 0..n {
        let a = aor(i);
        let first = vec![binding(&a, &format!("sip:u{i}@h1"), 10_000)];
        set(store, &a, 0, first.clone()).await;
        expected.push(first);
    }
    for i in (0..n).step_by(3) {
        let a = aor(i);
        let mut next = binding(&a, &format!("sip:u{i}@h2"), 20_000 + i as u64);
        next.cseq = 2;
        let both = vec![expected[i][0].clone(), next];
        set(store, &a, 0, both.clone()).await;
        expected[i] = both;
    }
    for i in (0..n).step_by(5) {
        set(store, &aor(i), 0, Vec::new()).await;
        expected[i].clear();
    }
    expected
}

fn assert_state(store: &SqliteStore, expected: &[Vec<Binding>], now_ms: u64) {
    for (i, set) in expected.iter().enumerate() {
        let live: Vec<Binding> = set
            .iter()
            .filter(|b| b.expires_at_ms > now_ms)
            .cloned()
            .collect();
        assert_eq!(store.bindings(&aor(i), now_ms).unwrap(), live, "{}", aor(i));
    }
}

#[tokio::test]
async fn journal_replay_is_in_seq_order_latest_wins() {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open_with(dir.path(), 0, manual()).unwrap();
    let expected = churn(&store, 60).await;
    std::mem::forget(store);
    // Nothing was compacted: the whole state is in the journal.
    assert_eq!(counts(&dir), (0, 60 + 20 + 12));
    assert_eq!(
        read_bindings(dir.path(), None, 0).unwrap().len(),
        expected.iter().map(Vec::len).sum::<usize>()
    );
    let store = SqliteStore::open_with(dir.path(), 0, manual()).unwrap();
    assert_state(&store, &expected, 0);
    // Opening folded the journal.
    assert_eq!(counts(&dir), (48, 0));
    store.closed().await.unwrap();
}

#[tokio::test]
async fn compaction_keeps_the_state_and_survives_a_kill_midway() {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open_with(dir.path(), 0, manual()).unwrap();
    let expected = churn(&store, 60).await;
    store.closed().await.unwrap();
    let before = read_bindings(dir.path(), None, 0).unwrap();

    // A compaction that dies before its commit (as under kill -9): the
    // transaction rolls back and nothing changes.
    {
        let mut conn = db(&dir);
        let tx = conn.transaction().unwrap();
        assert_eq!(queries::fold(&tx, 0, 50).unwrap(), 50);
        drop(tx);
    }
    assert_eq!(counts(&dir), (0, 92));
    assert_eq!(read_bindings(dir.path(), None, 0).unwrap(), before);

    // Compaction in steps: the listing never changes.
    let mut conn = db(&dir);
    let (folded, _) = compact_step(&mut conn, 0, 50, "").unwrap();
    assert_eq!(folded, 50);
    assert_eq!(counts(&dir), (50, 42));
    assert_eq!(read_bindings(dir.path(), None, 0).unwrap(), before);
    compact_step(&mut conn, 0, 50, "").unwrap();
    assert_eq!(counts(&dir), (48, 0));
    assert_eq!(read_bindings(dir.path(), None, 0).unwrap(), before);
    drop(conn);

    let store = SqliteStore::open_with(dir.path(), 0, manual()).unwrap();
    assert_state(&store, &expected, 0);
    store.closed().await.unwrap();
}

#[tokio::test]
async fn the_writer_compacts_past_the_threshold_and_drop_loses_nothing() {
    let dir = TempDir::new().unwrap();
    let tuning = Tuning {
        compact_at: 20,
        chunk: 15,
        idle: Duration::from_secs(3600),
        idle_min: usize::MAX,
        commit_window: Duration::ZERO,
    };
    let store = SqliteStore::open_with(dir.path(), 0, tuning).unwrap();
    let expected = churn(&store, 90).await;
    // Dropped without close while compactions come and go.
    drop(store);
    let (aors, journal) = counts(&dir);
    assert!(aors > 0, "compaction ran");
    assert!(journal < 90 + 30 + 18, "journal was folded: {journal}");
    let store = SqliteStore::open_with(dir.path(), 0, tuning).unwrap();
    assert_state(&store, &expected, 0);
    std::mem::forget(store);
    let store = SqliteStore::open(dir.path(), 0).unwrap();
    assert_state(&store, &expected, 0);
    store.closed().await.unwrap();
}

#[tokio::test]
async fn with_a_commit_window_the_writer_compacts_inside_it() {
    let dir = TempDir::new().unwrap();
    let tuning = Tuning {
        compact_at: 20,
        chunk: 15,
        idle: Duration::from_secs(3600),
        idle_min: usize::MAX,
        commit_window: Duration::from_millis(1),
    };
    let store = SqliteStore::open_with(dir.path(), 0, tuning).unwrap();
    let expected = churn(&store, 90).await;
    store.closed().await.unwrap();
    let (aors, journal) = counts(&dir);
    assert!(aors > 0, "compaction ran");
    assert!(
        journal < 40,
        "the journal stays near the threshold: {journal}"
    );
    assert_eq!(
        read_bindings(dir.path(), None, 0).unwrap().len(),
        expected.iter().map(Vec::len).sum::<usize>()
    );
    let store = SqliteStore::open_with(dir.path(), 0, manual()).unwrap();
    assert_state(&store, &expected, 0);
    store.closed().await.unwrap();
}

#[tokio::test]
async fn the_idle_writer_compacts() {
    let dir = TempDir::new().unwrap();
    let tuning = Tuning {
        compact_at: usize::MAX,
        chunk: 1_000,
        idle: Duration::from_millis(20),
        idle_min: 5,
        commit_window: Duration::ZERO,
    };
    let store = SqliteStore::open_with(dir.path(), 0, tuning).unwrap();
    let expected = churn(&store, 30).await;
    let mut waited = 0;
    while counts(&dir).1 > 0 {
        assert!(waited < 500, "no idle compaction");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_state(&store, &expected, 0);
    store.closed().await.unwrap();
}

#[tokio::test]
async fn expiry_writes_nothing_and_compaction_drops_expired() {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open_with(dir.path(), 0, manual()).unwrap();
    set(
        &store,
        "a",
        0,
        vec![binding("a", "sip:1", 100), binding("a", "sip:2", 3_000)],
    )
    .await;
    set(&store, "b", 0, vec![binding("b", "sip:3", 100)]).await;
    store.closed().await.unwrap();

    let store = SqliteStore::open_with(dir.path(), 0, manual()).unwrap();
    let before = counts(&dir);
    let conn = db(&dir);
    let changes = || -> i64 {
        conn.query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap()
    };
    let version = changes();
    let mut removed = store.purge_expired(999);
    removed.sort_by(|x, y| x.contact.cmp(&y.contact));
    assert_eq!(removed.len(), 2);
    assert_eq!(store.next_expiry(), Some(3_999));
    store.closed().await.unwrap();
    // Nothing was written: no new commit, the rows are still there.
    assert_eq!(changes(), version);
    assert_eq!(counts(&dir), before);
    assert_eq!(counts(&dir), (2, 0));
    // Hidden from readers by time, then dropped by the next compaction.
    assert_eq!(read_bindings(dir.path(), None, 100).unwrap().len(), 1);
    let mut conn = db(&dir);
    compact_step(&mut conn, 100, 10, "").unwrap();
    assert_eq!(counts(&dir), (1, 0));
    let raw: Vec<u8> = conn
        .query_row("SELECT bindings FROM aors WHERE aor = 'a'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(codec::expiries(&raw).unwrap(), [3_000]);
}

#[tokio::test]
async fn read_bindings_overlays_the_journal_on_the_compacted_state() {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open_with(dir.path(), 0, manual()).unwrap();
    set(&store, "sip:a", 0, vec![binding("sip:a", "sip:old", 500)]).await;
    set(&store, "sip:b", 0, vec![binding("sip:b", "sip:b1", 500)]).await;
    set(&store, "sip:c", 0, vec![binding("sip:c", "sip:c1", 500)]).await;
    store.closed().await.unwrap();
    let mut conn = db(&dir);
    compact_step(&mut conn, 0, 100, "").unwrap();
    assert_eq!(counts(&dir), (3, 0));

    // Now in the journal only: a changed, b removed, d new.
    let store = SqliteStore::open_with(dir.path(), 0, manual()).unwrap();
    set(&store, "sip:a", 0, vec![binding("sip:a", "sip:new", 500)]).await;
    set(&store, "sip:b", 0, Vec::new()).await;
    set(&store, "sip:d", 0, vec![binding("sip:d", "sip:d1", 500)]).await;
    assert_eq!(counts(&dir), (3, 3));
    let all = read_bindings(dir.path(), None, 0).unwrap();
    let listed: Vec<(&str, &str)> = all
        .iter()
        .map(|b| (b.aor.as_str(), b.contact.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("sip:a", "sip:new"),
            ("sip:c", "sip:c1"),
            ("sip:d", "sip:d1")
        ]
    );
    assert_eq!(
        read_bindings(dir.path(), Some("sip:a"), 0).unwrap()[0].contact,
        "sip:new"
    );
    assert!(read_bindings(dir.path(), Some("sip:b"), 0)
        .unwrap()
        .is_empty());
    assert_eq!(
        read_bindings(dir.path(), Some("sip:c"), 0).unwrap().len(),
        1
    );
    store.closed().await.unwrap();
}
