//! The durable backend: the hot table in front of an SQLite file written by
//! one group-committing thread.

mod queries;
mod read;
pub(crate) mod schema;
#[cfg(test)]
mod tests;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use rusqlite::Connection;

use crate::codec;
use crate::db_error::OrStoreError;
use crate::hot::HotTable;
use crate::{
    Binding, Counts, Done, ListQuery, LocationStore, Page, Snapshot, StoreError, StoreObserver,
    Version, Written,
};
pub use read::read_bindings;
pub use writer::DEFAULT_COMMIT_WINDOW;
use writer::{Ack, Job, Stopped, Telemetry, Tuning};

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "locus.db";

/// The default, durable location store.
///
/// Reads and compare-and-set writes are served from an in-memory table;
/// each change is queued to a writer thread under the AOR's shard lock, and
/// its [`Done`] is called (on the writer thread) only after the transaction
/// holding it has been committed and fsynced. See the crate documentation
/// for the design.
///
/// A write that changes nothing still waits for the changes queued before
/// it, so its answer never reports state that could yet fail to commit.
/// Reads may show a change whose commit is still in flight (they are served
/// from memory); if that commit fails the change is rolled back in memory
/// too.
#[derive(Debug)]
pub struct SqliteStore {
    hot: Arc<HotTable>,
    /// `None` once closed; read-locked (shared) to send, so sending from
    /// different shards does not serialise.
    jobs: RwLock<Option<std::sync::mpsc::Sender<Job>>>,
    stopped: Arc<Stopped>,
    /// The latest `now_ms` any caller passed: the writer's notion of the
    /// time when compaction drops expired bindings (the store has no clock).
    clock: Arc<AtomicU64>,
    /// The writer's commit timings and health.
    telemetry: Arc<Telemetry>,
}

impl SqliteStore {
    /// Open (creating if needed) `data_dir/locus.db` and load it.
    ///
    /// Creates `data_dir` if missing, sets WAL and `synchronous=FULL`,
    /// migrates the schema, folds the journal into the compacted state
    /// (dropping bindings expired at `now_ms`, the caller's clock in Unix
    /// epoch milliseconds; the store keeps none), loads the live sets into
    /// memory, then starts the writer thread.
    pub fn open(data_dir: &Path, now_ms: u64) -> Result<SqliteStore, StoreError> {
        Self::open_with(data_dir, now_ms, Tuning::default())
    }

    /// [`SqliteStore::open`] with a group-commit window: after the first
    /// change of a batch the writer waits this long for more before it
    /// commits, so one fsync serves every change of the window. Longer
    /// windows cost less CPU per registration and add up to that much
    /// latency; zero commits at once (batches then form only while a
    /// commit is in progress).
    pub fn open_with_commit_window(
        data_dir: &Path,
        now_ms: u64,
        commit_window: std::time::Duration,
    ) -> Result<SqliteStore, StoreError> {
        Self::open_with(
            data_dir,
            now_ms,
            Tuning {
                commit_window,
                ..Tuning::default()
            },
        )
    }

    /// [`SqliteStore::open`] with explicit compaction settings.
    pub(crate) fn open_with(
        data_dir: &Path,
        now_ms: u64,
        tuning: Tuning,
    ) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let mut conn = Connection::open(data_dir.join(DB_FILE)).db()?;
        schema::configure_writer(&conn)?;
        schema::migrate(&mut conn)?;
        let folded = writer::compact_all(&mut conn, now_ms, tuning.chunk.max(50_000)).db()?;
        let hot = Arc::new(HotTable::default());
        let (count, dropped) = load(&mut conn, &hot, now_ms)?;
        tracing::info!(
            bindings = count,
            journal_folded = folded,
            expired_sets_rewritten = dropped,
            "location database opened"
        );
        let clock = Arc::new(AtomicU64::new(now_ms));
        let telemetry = Arc::new(Telemetry::default());
        let handle = writer::spawn(
            conn,
            Arc::clone(&hot),
            Arc::clone(&clock),
            tuning,
            Arc::clone(&telemetry),
        )?;
        Ok(SqliteStore {
            hot,
            jobs: RwLock::new(Some(handle.jobs)),
            stopped: handle.stopped,
            clock,
            telemetry,
        })
    }

    /// Note a caller's `now_ms` (the writer compacts with the latest).
    fn observe(&self, now_ms: u64) {
        if now_ms > self.clock.load(Ordering::Relaxed) {
            self.clock.fetch_max(now_ms, Ordering::Relaxed);
        }
    }

    /// Queue a job for the writer; fails if the store is closed or the
    /// writer is gone.
    /// A job that cannot be queued is finished with the error at once, so
    /// its waiter (future or callback) always hears back.
    fn send(&self, job: Job) -> Result<(), StoreError> {
        let jobs = self.jobs.read().unwrap_or_else(PoisonError::into_inner);
        let (job, closed) = match jobs.as_ref() {
            None => (job, true),
            Some(sender) => match sender.send(job) {
                Ok(()) => return Ok(()),
                Err(returned) => (returned.0, false),
            },
        };
        let error = move || {
            if closed {
                StoreError::Closed
            } else {
                StoreError::WriterGone
            }
        };
        job.finish(|| Err(error()));
        Err(error())
    }
}

/// The writer job for a change: the new set of a changed AOR, or a barrier
/// (an unchanged set is acknowledged once what precedes it is durable).
fn job_for(aor: &str, changed: Option<Box<[u8]>>, done: Ack) -> Job {
    match changed {
        Some(blob) => Job::Replace {
            aor: Arc::from(aor),
            blob,
            done,
        },
        None => Job::Barrier { done },
    }
}

/// Load the compacted state (the journal was just folded into it) into
/// the hot table, dropping bindings expired at `now_ms` from memory and
/// disk. Returns the bindings loaded and the sets rewritten or deleted.
fn load(conn: &mut Connection, hot: &HotTable, now_ms: u64) -> Result<(usize, usize), StoreError> {
    let mut count = 0;
    let mut cleanup: Vec<(String, Option<Box<[u8]>>)> = Vec::new();
    queries::for_each_compacted(conn, None, |aor, blob| match codec::expiries(blob) {
        Ok(at) if !at.is_empty() && at.iter().all(|&at| at > now_ms) => {
            count += at.len();
            hot.install(aor, blob.into());
        }
        _ => {
            let live = codec::without_expired(aor, blob, now_ms).unwrap_or_else(|e| {
                tracing::warn!(error = %e, aor, "dropping unreadable set of the location database");
                None
            });
            if let Some(live) = &live {
                count += codec::expiries(live).map_or(0, |at| at.len());
                hot.install(aor, live.clone());
            }
            cleanup.push((aor.to_owned(), live));
        }
    })
    .db()?;
    if !cleanup.is_empty() {
        let tx = conn.transaction().db()?;
        for (aor, live) in &cleanup {
            queries::store_compacted(&tx, aor, live.as_deref()).db()?;
        }
        tx.commit().db()?;
    }
    Ok((count, cleanup.len()))
}

impl LocationStore for SqliteStore {
    fn fetch(&self, aor: &str, now_ms: u64, done: Done<Snapshot>) {
        self.observe(now_ms);
        done(Ok(self.hot.fetch(aor, now_ms)));
    }

    fn write(
        &self,
        aor: &str,
        expected: &Version,
        set: Vec<Binding>,
        now_ms: u64,
        done: Done<Written>,
    ) {
        self.observe(now_ms);
        // `done` goes to the writer with the job when the set is accepted;
        // otherwise it is still here and reports the conflict or the
        // failure at once.
        let mut done = Some(done);
        let written = self.hot.write(aor, expected, set, now_ms, |changed| {
            let Some(report) = done.take() else {
                return Err(StoreError::WriterGone);
            };
            let ack = Ack::new(move |outcome| report(outcome.map(|()| Written::Stored)));
            self.send(job_for(aor, changed, ack))
        });
        match (written, done.take()) {
            (Ok(Ok(())), _) | (_, None) => {}
            (Ok(Err(now)), Some(report)) => report(Ok(Written::Conflict(now))),
            (Err(e), Some(report)) => report(Err(e)),
        }
    }

    fn lookup(&self, aors: &[String], now_ms: u64, done: Done<Vec<Binding>>) {
        done(Ok(self.hot.lookup_first(aors, now_ms)));
    }

    fn purge_expired(&self, now_ms: u64) -> Vec<Binding> {
        // Memory only: expired bindings are never loaded, and compaction
        // drops them from disk, so expiry costs no write.
        self.observe(now_ms);
        self.hot.purge(now_ms)
    }

    fn next_expiry(&self) -> Option<u64> {
        self.hot.next_expiry()
    }

    fn counts(&self) -> Counts {
        self.hot.counts()
    }

    fn list(&self, query: &ListQuery, now_ms: u64, done: Done<Page>) {
        done(self.hot.list(query, now_ms));
    }

    fn probe(&self, done: Done<()>) {
        let closed = self
            .jobs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none();
        done(if closed {
            Err(StoreError::Closed)
        } else if self.stopped.ended() {
            Err(StoreError::WriterGone)
        } else if self.telemetry.failing.load(Ordering::Relaxed) {
            Err(StoreError::CommitFailed)
        } else {
            Ok(())
        });
    }

    fn set_observer(&self, observer: Arc<dyn StoreObserver>) {
        if self.telemetry.observer.set(observer).is_err() {
            tracing::warn!("location store already has a commit observer; the new one is ignored");
        }
    }

    fn close(&self, done: Done<()>) {
        let sender = self
            .jobs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            // Everything accepted so far is queued ahead of this job. If the
            // writer is already gone, the wait below reports it.
            let _ = sender.send(Job::Shutdown);
        }
        self.stopped.wait(done);
    }
}
