//! A short, deterministic run of the `parse` fuzz target's checks (no
//! nightly or cargo-fuzz needed): every seed in `fuzz/corpus/parse/` plus,
//! for each, every truncation point in its first 300 bytes, byte flips at 200
//! positions from a fixed-seed xorshift (fewer for seeds over 1000 bytes, see
//! `flip_count`), and the removal of each CRLF. Any panic, or a broken
//! invariant asserted by the checks, fails the test.
//!
//! Feeding the framer one byte at a time costs time quadratic in the input
//! length in a debug build, so the seeds are shared out over the available
//! cores to keep the run near a few seconds.

#[path = "../../../fuzz/fuzz_targets/check.rs"]
mod check;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/parse"
    ))
}

/// The seed corpus, sorted by file name.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<_> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    seeds.sort();
    seeds
}

/// xorshift64: a fixed sequence, the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// How many single-byte flips a seed gets: 200, scaled down for seeds over
/// 1000 bytes (the 3.5 kB `longreq` gets 56) so that every seed costs about
/// the same.
fn flip_count(len: usize) -> usize {
    200.min(200_000 / len.max(1))
}

/// Every mutation of one seed, handed to `f` one at a time.
fn mutations(seed: &[u8], rng: &mut XorShift, mut f: impl FnMut(&[u8])) {
    f(seed);
    for n in 0..seed.len().min(300) {
        f(&seed[..n]);
    }
    if !seed.is_empty() {
        let mut flipped = seed.to_vec();
        for _ in 0..flip_count(seed.len()) {
            let pos = (rng.next() % seed.len() as u64) as usize;
            let mask = (rng.next() % 255) as u8 + 1;
            flipped[pos] ^= mask;
            f(&flipped);
            flipped[pos] = seed[pos];
        }
    }
    for (i, w) in seed.windows(2).enumerate() {
        if w == b"\r\n" {
            let mut cut = seed[..i].to_vec();
            cut.extend_from_slice(&seed[i + 2..]);
            f(&cut);
        }
    }
}

#[test]
fn corpus_holds_every_torture_message() {
    let seeds = seeds();
    let torture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/torture");
    let mut count = 0;
    for dir in ["rfc4475", "rfc5118"] {
        for e in std::fs::read_dir(format!("{torture}/{dir}")).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let data = std::fs::read(e.path()).unwrap();
            let seed = seeds.iter().find(|(n, _)| *n == name);
            assert_eq!(
                seed.map(|(_, d)| d),
                Some(&data),
                "fuzz/corpus/parse/{name} is missing or stale"
            );
            count += 1;
        }
    }
    assert_eq!(count, 61);
}

#[test]
fn short_corpus_run() {
    let mut seeds: Vec<(usize, String, Vec<u8>)> = seeds()
        .into_iter()
        .enumerate()
        .map(|(i, (name, data))| (i, name, data))
        .collect();
    // Largest first, handed out one at a time, so the workers finish together.
    seeds.sort_by_key(|(_, _, data)| std::cmp::Reverse(data.len()));
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let inputs: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (seeds, next) = (&seeds, &next);
                scope.spawn(move || {
                    let mut inputs = 0usize;
                    while let Some((i, name, seed)) =
                        seeds.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        // One fixed-seed generator per corpus file: the
                        // mutations do not depend on the scheduling.
                        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (*i as u64 + 1));
                        mutations(seed, &mut rng, |input| {
                            inputs += 1;
                            if let Err(panic) =
                                std::panic::catch_unwind(|| check::check_input(input))
                            {
                                eprintln!(
                                    "failing input (mutation of {name}): {:?}",
                                    String::from_utf8_lossy(input)
                                );
                                std::panic::resume_unwind(panic);
                            }
                        });
                    }
                    inputs
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert!(inputs > 61 * 300, "only {inputs} inputs were checked");
}
