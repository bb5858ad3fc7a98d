//! The dedicated writer thread: group commit of journal appends, and
//! compaction.
//!
//! Every change reaches the database through one channel, sent while the
//! shard lock of its AOR is held, so the channel order is the per-AOR call
//! order. The writer takes one job, drains whatever else is queued (up to
//! [`MAX_BATCH`]), appends one journal row per changed AOR in one
//! transaction, commits (one fsync) and only then answers each job's
//! oneshot. Once the journal has grown past a threshold, the writer folds
//! its oldest rows into `aors` during the group-commit windows it would
//! otherwise sleep through, in the transaction the next batch commits (so
//! compaction neither holds a batch back nor costs a commit of its own);
//! when idle, it compacts in larger chunks.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::queries;
use crate::db_error::OrStoreError;
use crate::hot::HotTable;
use crate::{Done, StoreError};

/// Most jobs folded into one transaction.
const MAX_BATCH: usize = 4096;

/// Journal rows folded per step while the writer spends a commit window
/// compacting (it checks the clock between steps).
const WINDOW_STEP: usize = 100;

/// The default group-commit window.
pub const DEFAULT_COMMIT_WINDOW: Duration = Duration::from_millis(1);

/// A job that finds the writer idle for at least this many windows is
/// committed at once: at a load that light a window gathers nothing more,
/// and would only add its length to the answer's latency.
const QUIET_WINDOWS: u32 = 5;

/// When the writer compacts, and how much at a time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// Compact once the journal holds this many rows: a little in each
    /// commit window, or, without a window, one chunk after each commit.
    pub(crate) compact_at: usize,
    /// Journal rows folded (and `aors` rows swept for expired bindings) per
    /// compaction transaction, which bounds how long one blocks commits.
    pub(crate) chunk: usize,
    /// After this long without a job the writer counts as idle...
    pub(crate) idle: Duration,
    /// ...and compacts if the journal holds at least this many rows.
    pub(crate) idle_min: usize,
    /// After the first job of a batch, how long to wait for more before
    /// committing: one fsync then serves every registration that arrived
    /// in the window (group commit at moderate rates, not only under
    /// saturation). Zero commits at once, and so does a job that finds
    /// the writer idle for [`QUIET_WINDOWS`] windows.
    pub(crate) commit_window: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            compact_at: 50_000,
            chunk: 2_000,
            idle: Duration::from_millis(500),
            idle_min: 1_000,
            commit_window: DEFAULT_COMMIT_WINDOW,
        }
    }
}

/// Where the writer reports a job's outcome: a callback it runs itself
/// right after the commit (no task to wake: the caller's reply can leave
/// from this thread).
pub(crate) struct Ack(Box<dyn FnOnce(Result<(), StoreError>) + Send>);

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ack")
    }
}

impl Ack {
    /// An acknowledgement that calls `report` with the outcome.
    pub(crate) fn new(report: impl FnOnce(Result<(), StoreError>) + Send + 'static) -> Ack {
        Ack(Box::new(report))
    }

    /// Reports `outcome`.
    pub(crate) fn send(self, outcome: Result<(), StoreError>) {
        (self.0)(outcome)
    }
}

/// A unit of work for the writer.
#[derive(Debug)]
pub(crate) enum Job {
    /// Store `blob` as the whole set of `aor`.
    Replace {
        /// The AOR (the hot table's shared key).
        aor: Arc<str>,
        /// Its new set, encoded (an empty set: the AOR is gone).
        blob: Box<[u8]>,
        /// Answered once the set is durable (or failed).
        done: Ack,
    },
    /// Answered once everything queued before it is durable; lets an update
    /// that changed nothing avoid acknowledging state that is still in flight.
    Barrier {
        /// Answered after the preceding jobs commit (or fail).
        done: Ack,
    },
    /// Commit what precedes, then stop.
    Shutdown,
}

impl Job {
    /// Tell whoever waits on this job how it went.
    pub(crate) fn finish(self, outcome: impl FnOnce() -> Result<(), StoreError>) {
        if let Job::Replace { done, .. } | Job::Barrier { done } = self {
            done.send(outcome());
        }
    }

    /// The AOR whose set this job writes, for recovery after a failure.
    fn touched_aor(&self) -> Option<&str> {
        match self {
            Job::Replace { aor, .. } => Some(aor),
            Job::Barrier { .. } | Job::Shutdown => None,
        }
    }
}

/// What the writer reports to the rest of the store as it goes: its
/// commits' timings (to an observer set at any time) and whether the last
/// commit failed (for readiness).
#[derive(Default)]
pub(crate) struct Telemetry {
    /// Told of every commit, once set.
    pub(crate) observer: std::sync::OnceLock<Arc<dyn location_model::StoreObserver>>,
    /// True from a failed commit until one succeeds.
    pub(crate) failing: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("observed", &self.observer.get().is_some())
            .field("failing", &self.failing)
            .finish()
    }
}

/// The running writer: its job channel and the signal of its end.
pub(crate) struct WriterHandle {
    /// Where jobs are sent.
    pub(crate) jobs: Sender<Job>,
    /// Raised once the writer has committed its last batch and closed the
    /// connection.
    pub(crate) stopped: Arc<Stopped>,
}

/// The end of the writer thread, which `close` callers wait for.
#[derive(Debug, Default)]
pub(crate) struct Stopped {
    state: Mutex<StopState>,
}

#[derive(Default)]
struct StopState {
    /// `Some(true)` once stopped after committing everything, `Some(false)`
    /// if the thread died (a panic).
    ended: Option<bool>,
    waiters: Vec<Done<()>>,
}

impl std::fmt::Debug for StopState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopState")
            .field("ended", &self.ended)
            .field("waiters", &self.waiters.len())
            .finish()
    }
}

impl Stopped {
    /// True once the writer has stopped (or died).
    pub(crate) fn ended(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ended
            .is_some()
    }

    /// Calls `done` once the writer has stopped (at once if it has).
    pub(crate) fn wait(&self, done: Done<()>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.ended {
            Some(clean) => {
                drop(state);
                done(outcome(clean));
            }
            None => state.waiters.push(done),
        }
    }

    /// Marks the writer stopped and tells every waiter.
    fn raise(&self, clean: bool) {
        let waiters = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.ended = Some(clean);
            std::mem::take(&mut state.waiters)
        };
        for done in waiters {
            done(outcome(clean));
        }
    }
}

/// What a waiter hears: success, or that the writer died.
fn outcome(clean: bool) -> Result<(), StoreError> {
    if clean {
        Ok(())
    } else {
        Err(StoreError::WriterGone)
    }
}

/// Raises [`Stopped`] when the writer thread ends, also by a panic.
struct RaiseOnExit(Arc<Stopped>, bool);

impl Drop for RaiseOnExit {
    fn drop(&mut self) {
        self.0.raise(self.1);
    }
}

/// Start the writer thread; it owns `conn` from now on. `clock` is the
/// latest `now_ms` callers passed (compaction drops what expired by then).
pub(crate) fn spawn(
    conn: Connection,
    hot: Arc<HotTable>,
    clock: Arc<AtomicU64>,
    tuning: Tuning,
    telemetry: Arc<Telemetry>,
) -> Result<WriterHandle, StoreError> {
    let (jobs, queue) = mpsc::channel();
    let stopped = Arc::new(Stopped::default());
    let mut writer = Writer::new(conn, queue, hot, clock, tuning);
    writer.telemetry = telemetry;
    writer.journal_rows = queries::journal_len(&writer.conn).db()?;
    let signal = RaiseOnExit(Arc::clone(&stopped), false);
    std::thread::Builder::new()
        .name("locus-location-writer".into())
        .spawn(move || {
            // Moved whole, so it is dropped (and raised) here, also when
            // `run` panics.
            let mut signal = signal;
            writer.run();
            signal.1 = true;
        })?;
    Ok(WriterHandle { jobs, stopped })
}

/// State of the writer thread.
struct Writer {
    conn: Connection,
    queue: Receiver<Job>,
    hot: Arc<HotTable>,
    clock: Arc<AtomicU64>,
    tuning: Tuning,
    /// Rows in the journal.
    journal_rows: usize,
    /// Do not try compacting again before the journal holds this many rows
    /// (raised after a failed compaction, so failures are not retried on
    /// every commit).
    retry_at: usize,
    /// Where the next sweep of `aors` for expired bindings starts.
    sweep_cursor: String,
    /// Journal rows the last batch appended: a window folds twice that
    /// (at least [`WINDOW_STEP`]), so compaction outpaces the appends
    /// without loading any one commit with much more than its own batch.
    last_appended: usize,
    /// Compaction done in the transaction left open by the last commit
    /// window, which the next commit makes durable with the batch.
    window_work: Option<WindowWork>,
    /// Commit timings and health, shared with the store.
    telemetry: Arc<Telemetry>,
}

/// What compaction in a commit window did inside the open transaction.
struct WindowWork {
    /// Journal rows folded.
    folded: usize,
    /// The sweep cursor after it.
    cursor: String,
}

impl Writer {
    fn new(
        conn: Connection,
        queue: Receiver<Job>,
        hot: Arc<HotTable>,
        clock: Arc<AtomicU64>,
        tuning: Tuning,
    ) -> Writer {
        Writer {
            conn,
            queue,
            hot,
            clock,
            tuning,
            journal_rows: 0,
            retry_at: 0,
            sweep_cursor: String::new(),
            last_appended: 0,
            window_work: None,
            telemetry: Arc::default(),
        }
    }

    /// Process batches until shut down or every sender is gone (the store
    /// was dropped; what was queued is still committed).
    fn run(mut self) {
        // True when the last batch held several jobs, so more are coming:
        // the writer then sleeps through the next window before looking at
        // the queue, and senders, never finding it blocked on the queue,
        // have nothing to wake (under load a batch costs the writer the
        // window's timer only, not a wake-up by a sender as well).
        let mut busy = false;
        // When the last batch was done.
        let mut idle_since = Instant::now();
        loop {
            let window = self.tuning.commit_window;
            if busy && !window.is_zero() {
                self.spend_window(window);
            }
            let first = match self.queue.try_recv() {
                Ok(job) => job,
                Err(_) => {
                    // Nothing to commit with: make the window's compaction
                    // durable on its own before waiting.
                    self.commit_window_work();
                    match self.queue.recv_timeout(self.tuning.idle) {
                        Ok(job) => {
                            // The first job after a pause: give the window
                            // to whatever follows it, unless the pause was
                            // long enough to say that nothing will.
                            let quiet = idle_since.elapsed() >= window * QUIET_WINDOWS;
                            if !window.is_zero() && !quiet && !matches!(job, Job::Shutdown) {
                                self.spend_window(window);
                            }
                            job
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            busy = false;
                            if self.journal_rows >= self.tuning.idle_min.max(1) {
                                self.compact();
                            }
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
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
            busy = batch.len() > 1;
            if self.process(batch) || stop {
                break;
            }
            idle_since = Instant::now();
            // With a window, compaction happens in the windows (see
            // `spend_window`); without one, a step after the batch.
            if window.is_zero() && self.journal_rows >= self.tuning.compact_at.max(self.retry_at) {
                self.compact();
            }
        }
        self.commit_window_work();
        tracing::debug!("location writer stopped");
    }

    /// Fold one chunk of the journal into `aors` and sweep one chunk of
    /// `aors` for expired bindings, in one transaction.
    fn compact(&mut self) {
        let now_ms = self.clock.load(Ordering::Relaxed);
        let started = std::time::Instant::now();
        match compact_step(
            &mut self.conn,
            now_ms,
            self.tuning.chunk,
            &self.sweep_cursor,
        ) {
            Ok((folded, cursor)) => {
                self.compacted(folded, cursor);
                tracing::debug!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "location journal compacted in a step of its own"
                );
            }
            Err(e) => self.compaction_failed(&e),
        }
    }

    /// Spends a group-commit window. While the journal is due for
    /// compaction, the window folds some of it into `aors` in small steps,
    /// in a transaction left open for the batch that follows, so the fold
    /// costs no commit of its own and never holds a batch back longer than
    /// the window would have; otherwise the writer sleeps through it.
    fn spend_window(&mut self, window: Duration) {
        let deadline = Instant::now() + window;
        if self.journal_rows >= self.tuning.compact_at.max(self.retry_at) {
            let budget = (2 * self.last_appended).max(WINDOW_STEP);
            if let Err(e) = self.fold_until(deadline, budget) {
                self.abandon_window_work();
                self.compaction_failed(&e);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if !left.is_zero() {
            std::thread::sleep(left);
        }
    }

    /// Fold up to `budget` journal rows (and sweep as many of `aors`) in
    /// steps, stopping early at `deadline`.
    fn fold_until(&mut self, deadline: Instant, budget: usize) -> rusqlite::Result<()> {
        let now_ms = self.clock.load(Ordering::Relaxed);
        let mut left = budget;
        while left > 0 && Instant::now() < deadline {
            let work = match self.window_work.take() {
                Some(work) => work,
                None => {
                    self.conn.execute_batch("BEGIN")?;
                    WindowWork {
                        folded: 0,
                        cursor: self.sweep_cursor.clone(),
                    }
                }
            };
            let rows = left.min(WINDOW_STEP);
            let step = queries::fold(&self.conn, now_ms, rows);
            let cursor = step.and_then(|folded| {
                let cursor = queries::sweep(&self.conn, now_ms, &work.cursor, rows)?;
                Ok((folded, cursor))
            });
            let (folded, cursor) = match cursor {
                Ok(done) => done,
                Err(e) => {
                    self.window_work = Some(work);
                    return Err(e);
                }
            };
            self.window_work = Some(WindowWork {
                folded: work.folded + folded,
                cursor,
            });
            left = left.saturating_sub(rows);
            if folded == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Commit the window's compaction on its own (no batch to carry it).
    fn commit_window_work(&mut self) {
        let Some(work) = self.window_work.take() else {
            return;
        };
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => self.compacted(work.folded, work.cursor),
            Err(e) => {
                self.abandon_open_transaction();
                self.compaction_failed(&e);
            }
        }
    }

    /// Account for compaction that is now durable: `folded` journal rows
    /// are gone and the sweep goes on from `cursor`.
    fn compacted(&mut self, folded: usize, cursor: String) {
        self.journal_rows = self.journal_rows.saturating_sub(folded);
        self.sweep_cursor = cursor;
        self.retry_at = 0;
        tracing::debug!(
            folded,
            journal = self.journal_rows,
            "location journal compacted"
        );
    }

    /// After a failed compaction: nothing is lost (the journal still holds
    /// every change); wait for the journal to grow by a chunk before
    /// trying again, so a failure is not retried on every commit.
    fn compaction_failed(&mut self, e: &rusqlite::Error) {
        self.retry_at = self.journal_rows + self.tuning.chunk.max(1);
        tracing::error!(error = %e, "location journal compaction failed");
    }

    /// Roll back the window's compaction.
    fn abandon_window_work(&mut self) {
        if self.window_work.take().is_some() {
            self.abandon_open_transaction();
        }
    }

    /// Roll back whatever transaction is open on the connection.
    fn abandon_open_transaction(&mut self) {
        if !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "location database rollback failed");
            }
        }
    }

    /// Commit one batch and answer its jobs; true if a shutdown was seen
    /// while recovering from a failure.
    fn process(&mut self, batch: Vec<Job>) -> bool {
        let work = self.window_work.take();
        let started = Instant::now();
        let committed = commit(&mut self.conn, &batch, work.is_some());
        self.telemetry
            .failing
            .store(committed.is_err(), Ordering::Relaxed);
        match committed {
            Ok(appended) => {
                if let Some(observer) = self.telemetry.observer.get() {
                    observer.committed(started.elapsed(), batch.len());
                }
                self.journal_rows += appended;
                self.last_appended = appended;
                if let Some(work) = work {
                    self.compacted(work.folded, work.cursor);
                }
                tracing::trace!(jobs = batch.len(), appended, "location batch committed");
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
        let aors: BTreeSet<&str> = failed.iter().filter_map(Job::touched_aor).collect();
        let restored = queries::load_sets(&self.conn, &aors).unwrap_or_else(|e| {
            // Memory must never claim what disk does not hold: if the sets
            // cannot be read, forget the AORs rather than guess.
            tracing::error!(error = %e, "cannot reload AORs after failed commit; dropping them from memory");
            Default::default()
        });
        for aor in aors {
            let blob = restored
                .get(aor)
                .cloned()
                .flatten()
                .map(Vec::into_boxed_slice);
            if let Some(shard) = shards.get_mut(self.hot.shard_index(aor)) {
                shard.install(aor, blob.as_deref());
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

/// Append a batch to the journal in one transaction, one row per AOR (its
/// last set in the batch: the journal is latest-wins anyway); returns the
/// rows appended. Batches with nothing to write (only barriers or a
/// shutdown) open no transaction at all.
fn commit(conn: &mut Connection, batch: &[Job], open: bool) -> rusqlite::Result<usize> {
    let replaces = batch
        .iter()
        .filter(|job| matches!(job, Job::Replace { .. }))
        .count();
    if replaces == 0 && !open {
        return Ok(0);
    }
    if !open {
        conn.execute_batch("BEGIN")?;
    }
    let appended = append_batch(conn, batch, replaces).and_then(|appended| {
        conn.execute_batch("COMMIT")?;
        Ok(appended)
    });
    if appended.is_err() && !conn.is_autocommit() {
        // The error is what the caller reports; a failed rollback leaves
        // nothing more to do (the next BEGIN would fail and report too).
        let _ = conn.execute_batch("ROLLBACK");
    }
    appended
}

/// The appends of [`commit`], inside its transaction.
fn append_batch(tx: &Connection, batch: &[Job], replaces: usize) -> rusqlite::Result<usize> {
    let mut appended = 0;
    if replaces == 1 {
        for job in batch {
            if let Job::Replace { aor, blob, .. } = job {
                queries::append(tx, aor, blob)?;
                appended += 1;
            }
        }
    } else {
        // Later sets of an AOR replace earlier ones: write each AOR's last,
        // in the order of those last changes.
        let mut seen: HashSet<&str> = HashSet::with_capacity(replaces);
        let mut last: Vec<(&str, &[u8])> = Vec::with_capacity(replaces);
        for job in batch.iter().rev() {
            if let Job::Replace { aor, blob, .. } = job {
                if seen.insert(aor) {
                    last.push((aor, blob));
                }
            }
        }
        for (aor, blob) in last.into_iter().rev() {
            queries::append(tx, aor, blob)?;
            appended += 1;
        }
    }
    Ok(appended)
}

/// One compaction transaction: fold up to `chunk` of the oldest journal
/// rows into `aors`, then sweep up to `chunk` rows of `aors` after
/// `cursor` for expired bindings. Returns the rows folded and the next
/// sweep cursor.
pub(crate) fn compact_step(
    conn: &mut Connection,
    now_ms: u64,
    chunk: usize,
    cursor: &str,
) -> rusqlite::Result<(usize, String)> {
    let tx = conn.transaction()?;
    let folded = queries::fold(&tx, now_ms, chunk.max(1))?;
    let cursor = queries::sweep(&tx, now_ms, cursor, chunk.max(1))?;
    tx.commit()?;
    Ok((folded, cursor))
}

/// Fold the whole journal into `aors` (at open), a chunk per transaction.
pub(crate) fn compact_all(
    conn: &mut Connection,
    now_ms: u64,
    chunk: usize,
) -> rusqlite::Result<usize> {
    let mut total = 0;
    loop {
        let tx = conn.transaction()?;
        let folded = queries::fold(&tx, now_ms, chunk.max(1))?;
        tx.commit()?;
        if folded == 0 {
            return Ok(total);
        }
        total += folded;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::schema;
    use crate::{codec, Binding};

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

    /// An acknowledgement whose outcome `receipt` receives.
    fn ack() -> (Ack, mpsc::Receiver<Result<(), StoreError>>) {
        let (done, receipt) = mpsc::channel();
        let ack = Ack::new(move |outcome| {
            let _ = done.send(outcome);
        });
        (ack, receipt)
    }

    fn replace(aor: &str, set: &[Binding]) -> (Job, mpsc::Receiver<Result<(), StoreError>>) {
        let (done, receipt) = ack();
        let job = Job::Replace {
            aor: aor.into(),
            blob: codec::encode(set),
            done,
        };
        (job, receipt)
    }

    fn writer(conn: Connection, queue: Receiver<Job>, hot: Arc<HotTable>) -> Writer {
        let clock = Arc::new(AtomicU64::new(0));
        Writer::new(conn, queue, hot, clock, Tuning::default())
    }

    #[test]
    fn recovery_fails_queued_jobs_and_reloads_their_aors_from_disk() {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn).unwrap();
        let on_disk = vec![binding("a", "sip:disk")];
        queries::append(&conn, "a", &codec::encode(&on_disk)).unwrap();

        // Memory ran ahead of disk for "a" and "b": both changes unconfirmed.
        let hot = Arc::new(HotTable::default());
        hot.install("a", codec::encode(&[binding("a", "sip:memory")]));
        hot.install("b", codec::encode(&[binding("b", "sip:memory")]));
        let (failing, failing_receipt) = replace("a", &[binding("a", "sip:memory")]);
        let (queued, queued_receipt) = replace("b", &[binding("b", "sip:memory")]);

        let (jobs, queue) = mpsc::channel();
        jobs.send(queued).unwrap();
        jobs.send(Job::Shutdown).unwrap();
        let writer = writer(conn, queue, Arc::clone(&hot));
        assert!(writer.recover(vec![failing]), "the queued shutdown is seen");

        for receipt in [failing_receipt, queued_receipt] {
            assert!(matches!(
                receipt.try_recv(),
                Ok(Err(StoreError::CommitFailed))
            ));
        }
        assert_eq!(hot.lookup("a", 0), on_disk);
        assert!(hot.lookup("b", 0).is_empty());
        assert_eq!(hot.next_expiry(), Some(999));
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
            let (job, receipt) = replace(&aor, &[binding(&aor, "sip:x")]);
            jobs.send(job).unwrap();
            receipts.push(receipt);
        }
        // A later change of the same AOR in the same batch: one row, the last.
        let (job, receipt) = replace("aor0", &[]);
        jobs.send(job).unwrap();
        receipts.push(receipt);
        let (done, barrier) = ack();
        jobs.send(Job::Barrier { done }).unwrap();
        jobs.send(Job::Shutdown).unwrap();
        let mut writer = writer(conn, queue, hot);
        let batch: Vec<Job> = writer.queue.try_iter().collect();
        assert!(!writer.process(batch));
        for receipt in receipts {
            assert!(matches!(receipt.try_recv(), Ok(Ok(()))));
        }
        assert!(matches!(barrier.try_recv(), Ok(Ok(()))));
        assert_eq!(writer.journal_rows, 10);
        assert_eq!(queries::journal_len(&writer.conn).unwrap(), 10);
        let mut order = Vec::new();
        queries::for_each_journal(&writer.conn, None, |aor, blob| {
            order.push((aor, codec::expiries(&blob).unwrap().len()));
        })
        .unwrap();
        assert_eq!(order.last(), Some(&("aor0".to_string(), 0)));
        assert_eq!(order[0], ("aor1".to_string(), 1));
    }
}
