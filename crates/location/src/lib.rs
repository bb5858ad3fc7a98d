//! The location service of RFC 3261 §10: the bindings of each
//! address-of-record (AOR) to its contacts, behind the store seam of
//! `location-model` ([`LocationStore`]: a snapshot read and a versioned
//! compare-and-set per AOR), and the account database of digest
//! authentication.
//!
//! # Design
//!
//! * **Encoded sets.** An AOR's whole binding set is kept as one compact
//!   byte string (`codec.rs`: a format version byte, then varints and
//!   length-prefixed text; the AOR is the key, not repeated). The same
//!   bytes are the in-memory value and the database value, so a change is
//!   encoded once. They are decoded to `Vec<Binding>` only when read
//!   ([`LocationStore::fetch`], [`LocationStore::lookup`]).
//! * **Hot table.** Every stored set is held in memory, in 64 shards keyed
//!   by a hash of the AOR, each behind its own mutex: lookups and
//!   registrations of different AORs rarely contend and there is no global
//!   lock. In a shard, each AOR is one heap block holding the AOR and its
//!   encoded set, in a slot vector indexed by a `hashbrown` table of slot
//!   numbers (16 bytes of slot and 4 of index per AOR).
//! * **Versions are the sets themselves.** A fetch returns the live
//!   bindings and, as their [`Version`], a copy of the stored encoded set;
//!   [`LocationStore::write`] compares it with the stored set under the
//!   shard lock and installs the new set only if they are equal, otherwise
//!   answers [`Written::Conflict`] with the AOR as it is. Two states that
//!   encode alike are the same state, so the comparison is exact, and it
//!   costs no memory per AOR.
//! * **Expiry index.** Each shard keeps a coarse expiry wheel: one-second
//!   buckets (a `BTreeMap` from bucket to slot numbers), each AOR listed in
//!   the buckets of its bindings' expiries. A refresh leaves the AOR's old
//!   bucket stale rather than searching for it; a purge visits only the
//!   due buckets, re-checks those AORs and skips stale entries, so expired
//!   bindings leave memory within a second without a scan of the table,
//!   and [`LocationStore::next_expiry`] is the first bucket's end. Readers
//!   never see an expired binding: every read filters by time.
//! * **Durable writer.** [`SqliteStore`] adds one writer thread (a plain OS
//!   thread, not the async runtime) owning the SQLite connection. A changed
//!   set is sent to it over a channel while the shard lock is still held, so
//!   the channel order is the per-AOR call order.
//! * **Log-structured file.** The database has two tables: `journal(seq,
//!   aor, bindings)`, to which every commit appends one row per changed AOR
//!   holding its whole new encoded set (empty: the AOR is gone), and
//!   `aors(aor, bindings)`, the compacted state. Appends touch only the
//!   journal's rightmost pages instead of random B-tree pages. The state is
//!   `aors` overlaid with the journal replayed in `seq` order (latest wins).
//! * **Group commit.** The writer blocks for one job, drains whatever else is
//!   queued (up to 4096) or arrives within the commit window (1 ms by
//!   default, slept through so queued jobs cost no wake-up), appends them
//!   all in one transaction (one row per AOR: its last set in the batch),
//!   commits with `synchronous=FULL` (one fsync for the whole group) and
//!   only then completes each job: it calls the write's [`Done`] on the
//!   writer thread, so the caller's answer (the 200 OK) can leave from
//!   there with no task to wake. A 200 OK is a promise.
//! * **Compaction.** When the journal passes 50,000 rows (after a commit) or
//!   holds 1,000 and the writer has been idle for 500 ms, the writer folds
//!   the oldest 2,000 journal rows into `aors` in key order (latest wins,
//!   expired bindings and empty sets dropped), deletes them from the
//!   journal and sweeps the next 2,000 `aors` rows for expired bindings,
//!   all in one transaction: a kill at any point leaves either the old or
//!   the new layout, both describing the same state. Chunks bound how long
//!   one compaction holds up commits (10,000-row chunks made p99 latency at
//!   10,000 REGISTER/s 15 ms; 2,000-row chunks, 5 ms).
//! * **Expiry writes nothing.** [`LocationStore::purge_expired`] is memory
//!   only. Expired bindings are filtered out on load and by readers, and
//!   dropped from the file by compaction, which uses the latest `now_ms` any
//!   caller passed (the store still holds no clock).
//! * **Failure.** If a commit fails, every job of the batch and every job
//!   queued behind it fails with [`StoreError::CommitFailed`], and the AORs
//!   they touched are reloaded from the database under all shard locks, so
//!   memory never claims what disk does not hold. A failed compaction loses
//!   nothing (the journal still holds every change) and is retried later.
//! * **Restart.** [`SqliteStore::open`] folds the whole journal into `aors`,
//!   then loads `aors` into the hot table, dropping (in memory and on disk)
//!   what expired. [`read_bindings`] reads `aors` and the journal in one
//!   read transaction, read-only, while a server runs (WAL mode).
//!
//! # Cost
//!
//! Current figures (memory per binding, warm restart, CPU per registration
//! under load) are in `docs/PERFORMANCE.md`. The table below is the
//! measurement that chose the log-structured file over a row per binding
//! (`examples/load.rs`, release build, 2 vCPU VM, ext4 on virtio; the hot
//! table has since shrunk to about 200 B per binding):
//! 1,000,000 AORs with one typical binding each (~40 B contact and
//! Call-ID, received and local addresses, a 20 B User-Agent), 64 updates
//! in flight, then 200,000 refreshes of random AORs:
//!
//! | | first design (row per binding) | log-structured file |
//! |---|---|---|
//! | resident memory per binding | 935 B | 375 B |
//! | CPU per insert (whole process) | 22.4 µs | 10.5 µs |
//! | CPU per refresh of a random AOR | 52.3 µs | 20.4 µs |
//! | warm restart, 1M bindings | 3.04 s | 2.68 s |
//! | database file | 344 MB | 240 MB |
//!
//! With 4 updates in flight per commit (200,000 AORs), CPU per insert went
//! from 40 to 27 µs and per refresh from 69 to 32 µs: at small batches the
//! fixed cost of a commit (fsync, WAL header, wake-ups) dominates. The hot
//! table alone ([`MemoryStore`]) costs 2.4 µs per insert, 4.2 µs per
//! refresh and 366 B per binding.
//!
//! * **Users.** The accounts of digest authentication live in the same
//!   database (table `users`); see [`SqliteUsers`] (a [`UserStore`]) and
//!   the in-memory [`UserCache`] (a [`UserDirectory`]) the server
//!   authenticates from.
//!
//! [`MemoryStore`] is the hot table alone, for tests and for running without
//! persistence. The store holds no clock: callers pass `now_ms`
//! (Unix epoch milliseconds) everywhere.

#![warn(missing_docs)]

mod codec;
mod db_error;
mod hot;
mod memory;
mod sqlite;
mod update;
mod users;

pub use location_model::{
    Binding, ContactAction, Counts, Done, Ha1Set, ListQuery, LocationStore, Page, Snapshot,
    StoreError, StoreObserver, User, UserDirectory, UserStore, Version, Written,
};
pub use memory::MemoryStore;
pub use sqlite::{read_bindings, SqliteStore, DB_FILE, DEFAULT_COMMIT_WINDOW};
pub use update::StoreExt;
pub use users::{SqliteUsers, UserCache, UsersTx};
