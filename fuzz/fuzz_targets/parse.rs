//! Fuzz target: arbitrary bytes through the datagram parser, every typed
//! parser on what it finds, and the stream framer in several chunkings.
//!
//! Run with `cargo +nightly fuzz run parse fuzz/corpus/parse` from the
//! repository root. The same checks run on the seed corpus and a fixed set
//! of mutations in `crates/sip-message/tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod check;

fuzz_target!(|data: &[u8]| check::check_input(data));
