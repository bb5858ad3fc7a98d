//! The durable backend: the hot table in front of an SQLite file written by
//! one group-committing thread.

mod codec;
mod queries;
mod read;
pub(crate) mod schema;
mod writer;

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rusqlite::Connection;
use tokio::sync::watch;

use crate::hot::HotTable;
use crate::{Binding, LocationStore, StoreError};
pub use read::read_bindings;
use writer::Job;

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "locus.db";

/// The default, durable location store.
///
/// Reads and `update` closures are served from an in-memory table; each
/// change is queued to a writer thread under the AOR's shard lock and the
/// `update` future resolves only after the transaction holding it has been
/// committed and fsynced. See the crate documentation for the design.
///
/// An update whose closure changes nothing still waits for the changes
/// queued before it, so its answer never reports state that could yet fail
/// to commit. [`LocationStore::lookup`] may show a change whose commit is still in
/// flight (it is read from memory); if that commit fails the change is
/// rolled back in memory too.
#[derive(Debug)]
pub struct SqliteStore {
    hot: Arc<HotTable>,
    /// `None` once closed; read-locked (shared) to send, so sending from
    /// different shards does not serialise.
    jobs: RwLock<Option<std::sync::mpsc::Sender<Job>>>,
    stopped: watch::Receiver<bool>,
}

impl SqliteStore {
    /// Open (creating if needed) `data_dir/locus.db` and load it.
    ///
    /// Creates `data_dir` if missing, sets WAL and `synchronous=FULL`,
    /// migrates the schema, deletes rows expired at `now_ms` (the caller's
    /// clock, Unix epoch milliseconds; the store keeps none) and loads the
    /// rest into memory, then starts the writer thread.
    pub fn open(data_dir: &Path, now_ms: u64) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let mut conn = Connection::open(data_dir.join(DB_FILE))?;
        schema::configure_writer(&conn)?;
        schema::migrate(&mut conn)?;
        let dropped = queries::delete_all_expired(&conn, now_ms)?;
        let live = queries::load_live(&conn, now_ms)?;
        let hot = Arc::new(HotTable::default());
        let count = live.len();
        load(&hot, live);
        tracing::info!(
            bindings = count,
            expired_dropped = dropped,
            "location database opened"
        );
        let handle = writer::spawn(conn, Arc::clone(&hot))?;
        Ok(SqliteStore {
            hot,
            jobs: RwLock::new(Some(handle.jobs)),
            stopped: handle.stopped,
        })
    }

    /// Queue a job for the writer; fails if the store is closed or the
    /// writer is gone.
    fn send(&self, job: Job) -> Result<(), StoreError> {
        let jobs = self.jobs.read().unwrap_or_else(PoisonError::into_inner);
        let sender = jobs.as_ref().ok_or(StoreError::Closed)?;
        sender.send(job).map_err(|_| StoreError::WriterGone)
    }
}

/// Install rows (sorted by AOR, in stored order) into the hot table.
fn load(hot: &HotTable, rows: Vec<Binding>) {
    let mut rows = rows.into_iter().peekable();
    while let Some(first) = rows.next() {
        let aor = first.aor.clone();
        let mut set = vec![first];
        while let Some(next) = rows.next_if(|b| b.aor == aor) {
            set.push(next);
        }
        hot.lock(&aor).replace(&aor, set);
    }
}

impl LocationStore for SqliteStore {
    fn update<T, E, F>(
        &self,
        aor: &str,
        now_ms: u64,
        change: F,
    ) -> impl Future<Output = Result<Result<T, E>, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Vec<Binding>) -> Result<T, E> + Send + 'static,
    {
        let queued = self.hot.apply(aor, now_ms, change, |changed| {
            let (done, receipt) = tokio::sync::oneshot::channel();
            let job = match changed {
                Some(set) => Job::Replace {
                    aor: aor.to_owned(),
                    bindings: set.to_vec(),
                    done,
                },
                None => Job::Barrier { done },
            };
            self.send(job)?;
            Ok(receipt)
        });
        async move {
            let (value, receipt) = match queued? {
                Ok(queued) => queued,
                Err(e) => return Ok(Err(e)),
            };
            receipt.await.map_err(|_| StoreError::WriterGone)??;
            Ok(Ok(value))
        }
    }

    fn lookup(&self, aor: &str, now_ms: u64) -> Vec<Binding> {
        self.hot.lookup(aor, now_ms)
    }

    fn purge_expired(&self, now_ms: u64) -> Vec<Binding> {
        self.hot.purge(now_ms, |removed| {
            let keys = removed
                .iter()
                .map(|b| (b.expires_at_ms, b.aor.clone(), b.contact.clone()))
                .collect();
            if let Err(e) = self.send(Job::Expire { keys }) {
                // Harmless: expired rows are never loaded and are deleted on
                // the next open.
                tracing::debug!(error = %e, "expired bindings not deleted from disk");
            }
        })
    }

    fn next_expiry(&self) -> Option<u64> {
        self.hot.next_expiry()
    }

    fn close(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
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
        let mut stopped = self.stopped.clone();
        async move {
            stopped
                .wait_for(|stopped| *stopped)
                .await
                .map(|_| ())
                .map_err(|_| StoreError::WriterGone)
        }
    }
}
