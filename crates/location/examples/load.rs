//! Hand-run measurement of the embedded store (not a test).
//!
//! ```text
//! cargo run --release -p location --example load -- fill   DIR [AORS] [BATCH] [REFRESHES]
//! cargo run --release -p location --example load -- reopen DIR
//! cargo run --release -p location --example load -- memory [AORS]
//! ```
//!
//! `fill` deletes `DIR/locus.db*`, opens a [`SqliteStore`] there and inserts
//! AORS AORs (default 1,000,000) with one typical binding each through
//! `update`, BATCH updates in flight at a time (default 64, so the writer
//! group-commits), then refreshes REFRESHES random AORs (default 200,000).
//! It reports resident memory growth per binding (VmRSS) and process CPU
//! time (all threads, writer included) per update, then exits without
//! closing (as if killed; everything reported was acknowledged, so durable).
//! `reopen` times `SqliteStore::open` on that directory (warm restart) and
//! reports the memory it took per binding. `memory` does the insert into a
//! `MemoryStore`, for the hot table alone.

use std::path::Path;
use std::time::Instant;

use location::{Binding, LocationStore, MemoryStore, SqliteStore, StoreExt};

/// Fixed "now" so runs are comparable; bindings expire an hour later.
const NOW_MS: u64 = 1_700_000_000_000;

fn binding(i: usize, cseq: u32, now_ms: u64) -> Binding {
    Binding {
        aor: aor(i),
        contact: format!("sip:user{i}@192.0.2.{}:5060;transport=udp", i % 250 + 1),
        q: 1000,
        expires_at_ms: now_ms + 3_600_000 + (i % 3_600) as u64 * 1_000,
        call_id: format!("{i:08x}-5f3c9a1e-42d1-4b7e-9c1a-{i:012x}"),
        cseq,
        received: Some(format!("198.51.100.{}:{}", i % 250 + 1, 5060 + i % 1000)),
        transport: "udp".into(),
        local: Some("203.0.113.1:5060".into()),
        user_agent: Some("Linphone/5.2.0 (x86)".into()),
        path: Vec::new(),
        instance: None,
        reg_id: None,
        updated_at_ms: now_ms,
        action: None,
    }
}

fn aor(i: usize) -> String {
    format!("sip:user{i}@example.com")
}

/// VmRSS of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// User + system CPU time of the whole process (all threads), in seconds.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

async fn insert<S: LocationStore>(store: &S, aors: usize, batch: usize) {
    let mut i = 0;
    while i < aors {
        let end = (i + batch).min(aors);
        let keys: Vec<String> = (i..end).map(aor).collect();
        let pending: Vec<_> = (i..end)
            .zip(&keys)
            .map(|(n, key)| {
                let b = binding(n, 1, NOW_MS);
                store.update(key, NOW_MS, move |set| {
                    set.clear();
                    set.push(b.clone());
                    Ok::<_, ()>(())
                })
            })
            .collect();
        for p in pending {
            p.await.unwrap().unwrap();
        }
        i = end;
    }
}

async fn refresh<S: LocationStore>(store: &S, aors: usize, count: usize, batch: usize) {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut done = 0;
    while done < count {
        let end = (done + batch).min(count);
        let keys: Vec<String> = (done..end)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                aor((state >> 33) as usize % aors)
            })
            .collect();
        let pending: Vec<_> = keys
            .iter()
            .map(|key| {
                let now = NOW_MS + 1_000;
                store.update(key, now, move |set| {
                    for b in set.iter_mut() {
                        b.cseq += 1;
                        b.expires_at_ms = now + 3_600_000;
                        b.updated_at_ms = now;
                    }
                    Ok::<_, ()>(())
                })
            })
            .collect();
        for p in pending {
            p.await.unwrap().unwrap();
        }
        done = end;
    }
}

fn report(what: &str, count: usize, cpu_s: f64, wall_s: f64) {
    println!(
        "{what}: {count} updates, wall {wall_s:.2} s ({:.0}/s), CPU {cpu_s:.2} s = {:.2} µs/update",
        count as f64 / wall_s,
        cpu_s * 1e6 / count as f64
    );
}

async fn fill(dir: &Path, aors: usize, batch: usize, refreshes: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{}{suffix}", location::DB_FILE)));
    }
    let rss0 = rss();
    let store = SqliteStore::open(dir, NOW_MS).unwrap();
    let (c0, t0) = (cpu(), Instant::now());
    insert(&store, aors, batch).await;
    let (c1, t1) = (cpu(), Instant::now());
    report("insert", aors, c1 - c0, (t1 - t0).as_secs_f64());
    let rss1 = rss();
    println!(
        "RSS growth: {:.1} MiB = {:.0} bytes/binding",
        (rss1 - rss0) as f64 / 1048576.0,
        (rss1 - rss0) as f64 / aors as f64
    );
    refresh(&store, aors, refreshes, batch).await;
    let (c2, t2) = (cpu(), Instant::now());
    report("refresh", refreshes, c2 - c1, (t2 - t1).as_secs_f64());
    println!("RSS after refresh: {:.1} MiB", rss() as f64 / 1048576.0);
    // As if killed: no close, no destructor.
    std::mem::forget(store);
}

async fn reopen(dir: &Path) {
    let rss0 = rss();
    let (c0, t0) = (cpu(), Instant::now());
    let store = SqliteStore::open(dir, NOW_MS + 2_000).unwrap();
    let (c1, t1) = (cpu(), Instant::now());
    let rss1 = rss();
    let count = (0..)
        .map(aor)
        .take_while(|a| !store.bindings(a, NOW_MS + 2_000).unwrap().is_empty())
        .count();
    println!(
        "reopen: {count} bindings in {:.2} s wall, {:.2} s CPU; RSS growth {:.0} bytes/binding",
        (t1 - t0).as_secs_f64(),
        c1 - c0,
        (rss1 - rss0) as f64 / count.max(1) as f64
    );
    let t2 = Instant::now();
    store.closed().await.unwrap();
    println!("close: {:.2} s", t2.elapsed().as_secs_f64());
}

async fn memory(aors: usize) {
    let rss0 = rss();
    let store = MemoryStore::new();
    let (c0, t0) = (cpu(), Instant::now());
    insert(&store, aors, 64).await;
    let (c1, t1) = (cpu(), Instant::now());
    report("memory insert", aors, c1 - c0, (t1 - t0).as_secs_f64());
    println!(
        "RSS growth: {:.0} bytes/binding",
        (rss() - rss0) as f64 / aors as f64
    );
    refresh(&store, aors, 200_000, 64).await;
    report(
        "memory refresh",
        200_000,
        cpu() - c1,
        t1.elapsed().as_secs_f64(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: usize| {
        args.get(i)
            .map(|v| v.parse().expect("a number"))
            .unwrap_or(default)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("fill") => runtime.block_on(fill(
            Path::new(&args[1]),
            arg(2, 1_000_000),
            arg(3, 64),
            arg(4, 200_000),
        )),
        Some("reopen") => runtime.block_on(reopen(Path::new(&args[1]))),
        Some("memory") => runtime.block_on(memory(arg(1, 1_000_000))),
        _ => eprintln!(
            "usage: load fill DIR [AORS] [BATCH] [REFRESHES] | reopen DIR | memory [AORS]"
        ),
    }
}
