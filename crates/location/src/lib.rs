//! The location service of RFC 3261 §10: the bindings of each
//! address-of-record (AOR) to its contacts.
//!
//! # Design
//!
//! * **Hot table.** Every live binding is held in memory, in 64 shards keyed
//!   by a hash of the AOR, each behind its own mutex: lookups and
//!   registrations of different AORs rarely contend and there is no global
//!   lock. [`LocationStore::update`] runs the registrar's closure on a copy
//!   of the AOR's live set under the shard lock (a compare-and-set), so an
//!   `Err` from the closure changes nothing.
//! * **Expiry index.** Each shard also keeps an ordered set of
//!   `(expires_at_ms, aor, contact)`, so [`LocationStore::purge_expired`]
//!   takes only the due prefix and [`LocationStore::next_expiry`] is its
//!   first entry: no scan of the table.
//! * **Durable writer.** [`SqliteStore`] adds one writer thread (a plain OS
//!   thread, not the async runtime) owning the SQLite connection. A changed
//!   set is sent to it over a channel while the shard lock is still held, so
//!   the channel order is the per-AOR call order.
//! * **Group commit.** The writer blocks for one job, drains whatever else is
//!   queued (up to 4096), writes them all in one transaction (per AOR:
//!   delete its rows, insert the new set), commits with `synchronous=FULL`
//!   (one fsync for the whole group) and only then completes each job's
//!   oneshot, which the `update` future awaits. A 200 OK is a promise.
//! * **Failure.** If a commit fails, every job of the batch and every job
//!   queued behind it fails with [`StoreError::CommitFailed`], and the AORs
//!   they touched are reloaded from the database under all shard locks, so
//!   memory never claims what disk does not hold.
//! * **Restart.** [`SqliteStore::open`] drops expired rows and loads the rest
//!   into the hot table and its index. [`read_bindings`] reads the file
//!   read-only while a server runs (WAL mode).
//!
//! [`MemoryStore`] is the hot table alone, for tests and for running without
//! persistence. The store holds no clock: callers pass `now_ms`
//! (Unix epoch milliseconds) everywhere.

#![warn(missing_docs)]

mod binding;
mod codec;
mod error;
mod hot;
mod memory;
mod sqlite;
mod store;

pub use binding::Binding;
pub use error::StoreError;
pub use memory::MemoryStore;
pub use sqlite::{read_bindings, SqliteStore, DB_FILE};
pub use store::LocationStore;
