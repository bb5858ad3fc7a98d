//! The dedicated writer thread and its group commit.
//!
//! Every change reaches the database through one channel, sent while the
//! shard lock of its AOR is held, so the channel order is the per-AOR call
//! order. The writer takes one job, drains whatever else is queued (up to
//! [`MAX_BATCH`]), applies the lot in one transaction, commits (one fsync)
//! and only then answers each job's oneshot.

use std::collections::BTreeSet;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{oneshot, watch};

use super::queries;
use crate::hot::{ExpiryKey, HotTable};
use crate::{Binding, StoreError};

/// Most jobs folded into one transaction.
const MAX_BATCH: usize = 4096;

/// Where the writer reports a job's outcome.
pub(crate) type Done = oneshot::Sender<Result<(), StoreError>>;

/// A unit of work for the writer.
#[derive(Debug)]
pub(crate) enum Job {
    /// Store `bindings` as the whole set of `aor`.
    Replace {
        /// The AOR whose rows are replaced.
        aor: String,
        /// Its new set (already normalised by the hot table).
        bindings: Vec<Binding>,
        /// Answered once the set is durable (or failed).
        done: Done,
    },
    /// Answered once everything queued before it is durable; lets an update
    /// that changed nothing avoid acknowledging state that is still in flight.
    Barrier {
        /// Answered after the preceding jobs commit (or fail).
        done: Done,
    },
    /// Delete rows the hot table purged as expired; nobody waits for it.
    Expire {
        /// The removed bindings' index keys.
        keys: Vec<ExpiryKey>,
    },
    /// Commit what precedes, then stop.
    Shutdown,
}

impl Job {
    /// Tell whoever waits on this job how it went.
    fn finish(self, outcome: impl FnOnce() -> Result<(), StoreError>) {
        if let Job::Replace { done, .. } | Job::Barrier { done } = self {
            // The waiter may have dropped its future; the change stands anyway.
            let _ = done.send(outcome());
        }
    }

    /// The AOR whose rows this job touches, for recovery after a failure.
    fn touched_aors(&self) -> Vec<&str> {
        match self {
            Job::Replace { aor, .. } => vec![aor.as_str()],
            Job::Expire { keys } => keys.iter().map(|(_, aor, _)| aor.as_str()).collect(),
            Job::Barrier { .. } | Job::Shutdown => Vec::new(),
        }
    }
}

/// The running writer: its job channel and a flag raised when it has stopped.
pub(crate) struct WriterHandle {
    /// Where jobs are sent.
    pub(crate) jobs: Sender<Job>,
    /// Becomes `true` once the writer has committed its last batch and
    /// closed the connection.
    pub(crate) stopped: watch::Receiver<bool>,
}

/// Start the writer thread; it owns `conn` from now on.
pub(crate) fn spawn(conn: Connection, hot: Arc<HotTable>) -> Result<WriterHandle, StoreError> {
    let (jobs, queue) = mpsc::channel();
    let (stopped_tx, stopped) = watch::channel(false);
    let writer = Writer { conn, queue, hot };
    std::thread::Builder::new()
        .name("locus-location-writer".into())
        .spawn(move || {
            writer.run();
            stopped_tx.send_replace(true);
        })?;
    Ok(WriterHandle { jobs, stopped })
}

/// State of the writer thread.
struct Writer {
    conn: Connection,
    queue: Receiver<Job>,
    hot: Arc<HotTable>,
}

impl Writer {
    /// Process batches until shut down or every sender is gone (the store
    /// was dropped; what was queued is still committed).
    fn run(mut self) {
        while let Ok(first) = self.queue.recv() {
            let mut stop = matches!(first, Job::Shutdown);
            let mut batch = vec![first];
            while !stop && batch.len() < MAX_BATCH {
                match self.queue.try_recv() {
                    Ok(job) => {
                        stop = matches!(job, Job::Shutdown);
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            if self.process(batch) || stop {
                break;
            }
        }
        tracing::debug!("location writer stopped");
    }

    /// Commit one batch and answer its jobs; true if a shutdown was seen
    /// while recovering from a failure.
    fn process(&mut self, batch: Vec<Job>) -> bool {
        match commit(&mut self.conn, &batch) {
            Ok(()) => {
                tracing::trace!(jobs = batch.len(), "location batch committed");
                for job in batch {
                    job.finish(|| Ok(()));
                }
                false
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    jobs = batch.len(),
                    "location database commit failed; failing the batch and everything queued"
                );
                self.recover(batch)
            }
        }
    }

    /// After a failed commit: fail the batch and everything queued behind it
    /// (those changes were built on state that never reached disk), and
    /// reload every AOR they touched from the database, all under every
    /// shard lock so no new change can slip in meanwhile. Returns true if a
    /// shutdown was among the failed jobs.
    fn recover(&self, mut failed: Vec<Job>) -> bool {
        let mut shards = self.hot.lock_all();
        failed.extend(self.queue.try_iter());
        let aors: BTreeSet<&str> = failed.iter().flat_map(Job::touched_aors).collect();
        for aor in aors {
            let restored = queries::load_aor(&self.conn, aor).unwrap_or_else(|e| {
                // Memory must never claim what disk does not hold: if the
                // rows cannot be read, forget the AOR rather than guess.
                tracing::error!(error = %e, aor, "cannot reload AOR after failed commit; dropping it from memory");
                Vec::new()
            });
            if let Some(shard) = shards.get_mut(self.hot.shard_index(aor)) {
                shard.replace(aor, restored);
            }
        }
        drop(shards);
        let stop = failed.iter().any(|job| matches!(job, Job::Shutdown));
        for job in failed {
            job.finish(|| Err(StoreError::CommitFailed));
        }
        stop
    }
}

/// Apply a batch in one transaction; batches with nothing to write (only
/// barriers or a shutdown) open no transaction at all.
fn commit(conn: &mut Connection, batch: &[Job]) -> rusqlite::Result<()> {
    let writes = batch
        .iter()
        .any(|job| matches!(job, Job::Replace { .. } | Job::Expire { .. }));
    if !writes {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for job in batch {
        match job {
            Job::Replace { aor, bindings, .. } => queries::replace_aor(&tx, aor, bindings)?,
            Job::Expire { keys } => {
                for key in keys {
                    queries::delete_expired(&tx, key)?;
                }
            }
            Job::Barrier { .. } | Job::Shutdown => {}
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::schema;

    fn binding(aor: &str, contact: &str) -> Binding {
        Binding {
            aor: aor.into(),
            contact: contact.into(),
            q: 1000,
            expires_at_ms: 100,
            call_id: "c".into(),
            cseq: 1,
            received: None,
            transport: "udp".into(),
            local: None,
            user_agent: None,
            path: Vec::new(),
            instance: None,
            reg_id: None,
            action: None,
            updated_at_ms: 0,
        }
    }

    fn replace(aor: &str, set: Vec<Binding>) -> (Job, oneshot::Receiver<Result<(), StoreError>>) {
        let (done, receipt) = oneshot::channel();
        let job = Job::Replace {
            aor: aor.into(),
            bindings: set,
            done,
        };
        (job, receipt)
    }

    #[test]
    fn recovery_fails_queued_jobs_and_reloads_their_aors_from_disk() {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn).unwrap();
        let on_disk = vec![binding("a", "sip:disk")];
        queries::replace_aor(&conn, "a", &on_disk).unwrap();

        // Memory ran ahead of disk for "a" and "b": both changes unconfirmed.
        let hot = Arc::new(HotTable::default());
        hot.lock("a").replace("a", vec![binding("a", "sip:memory")]);
        hot.lock("b").replace("b", vec![binding("b", "sip:memory")]);
        let (failing, failing_receipt) = replace("a", vec![binding("a", "sip:memory")]);
        let (queued, queued_receipt) = replace("b", vec![binding("b", "sip:memory")]);

        let (jobs, queue) = mpsc::channel();
        jobs.send(queued).unwrap();
        jobs.send(Job::Shutdown).unwrap();
        let writer = Writer {
            conn,
            queue,
            hot: Arc::clone(&hot),
        };
        assert!(writer.recover(vec![failing]), "the queued shutdown is seen");

        for mut receipt in [failing_receipt, queued_receipt] {
            assert!(matches!(
                receipt.try_recv(),
                Ok(Err(StoreError::CommitFailed))
            ));
        }
        assert_eq!(hot.lookup("a", 0), on_disk);
        assert!(hot.lookup("b", 0).is_empty());
        assert_eq!(hot.next_expiry(), Some(100));
    }

    #[test]
    fn a_batch_is_committed_before_it_is_acknowledged() {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn).unwrap();
        let hot = Arc::new(HotTable::default());
        let (jobs, queue) = mpsc::channel();
        let mut receipts = Vec::new();
        for i in 0..10 {
            let aor = format!("aor{i}");
            let (job, receipt) = replace(&aor, vec![binding(&aor, "sip:x")]);
            jobs.send(job).unwrap();
            receipts.push(receipt);
        }
        let (done, mut barrier) = oneshot::channel();
        jobs.send(Job::Barrier { done }).unwrap();
        jobs.send(Job::Expire {
            keys: vec![(100, "aor0".into(), "sip:x".into())],
        })
        .unwrap();
        jobs.send(Job::Shutdown).unwrap();
        let mut writer = Writer { conn, queue, hot };
        let batch: Vec<Job> = writer.queue.try_iter().collect();
        assert!(!writer.process(batch));
        for mut receipt in receipts {
            assert!(matches!(receipt.try_recv(), Ok(Ok(()))));
        }
        assert!(matches!(barrier.try_recv(), Ok(Ok(()))));
        let rows = queries::load_live(&writer.conn, 0).unwrap();
        assert_eq!(rows.len(), 9);
        assert!(rows.iter().all(|b| b.aor != "aor0"));
    }
}
