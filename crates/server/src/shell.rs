//! The driver of the endpoint instances: hands each its inputs under its
//! own lock, then (with the lock released) sends what it output, runs its
//! store operations against the location store, and feeds their results
//! back. It makes no protocol decision.
//!
//! A REGISTER's write carries its 200 OK: the store's completion (on the
//! writer thread of the durable backend, right after the commit) sends it
//! before the result reaches the endpoint, so no task is woken in between.

use crate::change::{Change, Changes};
use crate::metrics::Metrics;
use crate::sender::Sender;
use crate::shutdown::Shutdown;
use crate::sink::Deliver;
use location_model::{LocationStore, StoreError, Written};
use sip_core::{
    ConnId, Connection, Endpoint, Inbound, OpId, Received, StoreOp, StoreOpKind, StoreResult,
    Transmit, WriteOp,
};
use sip_message::Limits;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use tokio::sync::Notify;

/// The transmits of one turn of an endpoint instance, sent once its lock
/// is released; the first needs no allocation (a turn mostly sends one).
#[derive(Default)]
struct Transmits {
    first: Option<Transmit>,
    rest: Vec<Transmit>,
}

impl Transmits {
    fn push(&mut self, t: Transmit) {
        match self.first {
            None => self.first = Some(t),
            Some(_) => self.rest.push(t),
        }
    }

    fn into_iter(self) -> impl Iterator<Item = Transmit> {
        self.first.into_iter().chain(self.rest)
    }
}

/// Where a store operation's result goes: back into the turn that
/// started it, if it comes before that turn ends, else into a turn of
/// its own.
enum Answer {
    /// The turn is still waiting for it.
    Waiting,
    /// It came during the turn.
    Ready(StoreResult),
    /// The turn has ended without it; it is in flight (counted for
    /// shutdown, by this token's life) until it comes.
    Late { _in_flight: Option<InFlight> },
    /// It was taken.
    Done,
}

/// The endpoint instances and everything that serves them.
pub(crate) struct Shell {
    endpoints: Box<[Mutex<Endpoint>]>,
    limits: Limits,
    store: Arc<dyn LocationStore>,
    sender: OnceLock<Arc<Sender>>,
    metrics: Arc<Metrics>,
    /// Wakes the timer loop when an instance armed a timer earlier than the
    /// loop's planned wake-up.
    timer_wake: Notify,
    planned_wake: AtomicU64,
    /// Store operations in flight (shutdown waits for them).
    in_flight: AtomicUsize,
    idle: Notify,
    shutdown: Shutdown,
    /// Where stored changes are announced (to the admin API's live feed).
    changes: Changes,
    me: Weak<Shell>,
}

/// Counts a store operation in flight until dropped.
struct InFlight(Arc<Shell>);

impl InFlight {
    /// Counts one more operation of `shell` in flight.
    fn enter(shell: &Shell) -> Option<InFlight> {
        let me = shell.me.upgrade()?;
        shell.in_flight.fetch_add(1, Ordering::AcqRel);
        Some(InFlight(me))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Shell {
    /// A shell over `endpoints` (one per shard, in shard order) and
    /// `store`; [`Shell::set_sender`] completes it.
    pub(crate) fn new(
        endpoints: Vec<Endpoint>,
        limits: Limits,
        store: Arc<dyn LocationStore>,
        metrics: Arc<Metrics>,
        shutdown: Shutdown,
    ) -> Arc<Shell> {
        Arc::new_cyclic(|me| Shell {
            endpoints: endpoints.into_iter().map(Mutex::new).collect(),
            limits,
            store,
            sender: OnceLock::new(),
            metrics,
            timer_wake: Notify::new(),
            planned_wake: AtomicU64::new(u64::MAX),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            shutdown,
            changes: Changes::default(),
            me: me.clone(),
        })
    }

    /// Installs the sender (built after the shell, since its connections
    /// deliver to it).
    pub(crate) fn set_sender(&self, sender: Arc<Sender>) {
        let _ = self.sender.set(sender);
    }

    /// This shell as the transports' sink (weak: see `tcp::Streams`).
    pub(crate) fn sink(&self) -> Weak<dyn Deliver> {
        self.me.clone()
    }

    /// The location store.
    pub(crate) fn store(&self) -> &Arc<dyn LocationStore> {
        &self.store
    }

    /// The shutdown signal.
    pub(crate) fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Where stored changes are announced.
    pub(crate) fn changes(&self) -> &Changes {
        &self.changes
    }

    /// The metrics.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Runs `f` on every endpoint instance, one after the other.
    pub(crate) fn each_endpoint(&self, mut f: impl FnMut(&mut Endpoint)) {
        for i in 0..self.endpoints.len() {
            self.drive(i, &mut f);
        }
    }

    /// Requests in flight: those the instances wait on, and store
    /// operations not answered yet.
    pub(crate) fn busy(&self) -> usize {
        let waiting: usize = (0..self.endpoints.len()).map(|i| self.lock(i).busy()).sum();
        waiting + self.in_flight.load(Ordering::Acquire)
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Endpoint> {
        self.endpoints[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives instance `i` one input with `f`, then acts on what it output;
    /// returns when it next has a timer.
    ///
    /// Store operations are started while the instance's lock is held, and
    /// one the store answers at once (a read from memory, a conflict) is
    /// fed back in the same turn; one answered later (a write made durable
    /// by the writer thread, a networked store) comes back through
    /// [`Shell::complete`] in a turn of its own.
    fn drive(&self, i: usize, f: impl FnOnce(&mut Endpoint)) -> Option<u64> {
        let mut transmits = Transmits::default();
        let next = {
            let mut ep = self.lock(i);
            f(&mut ep);
            while let Some(op) = ep.poll_store_op() {
                if let Some((id, result)) = self.start(i, op) {
                    ep.handle_store_result(crate::now_ms(), id, result);
                }
            }
            while let Some(t) = ep.poll_transmit() {
                transmits.push(t);
            }
            // Counting is atomic and logging rare: done under the lock,
            // so a turn's events need no buffer.
            if let Some(first) = ep.poll_event() {
                let now = crate::now_ms();
                self.metrics.on_event(first, now);
                while let Some(e) = ep.poll_event() {
                    self.metrics.on_event(e, now);
                }
            }
            ep.poll_timeout()
        };
        if let Some(sender) = self.sender.get() {
            for t in transmits.into_iter() {
                sender.send(t);
            }
        }
        if let Some(t) = next {
            if t < self.planned_wake.load(Ordering::Relaxed) {
                self.timer_wake.notify_one();
            }
        }
        next
    }

    /// Starts a store operation of instance `i` (whose lock the caller
    /// holds): its result if the store answered at once, else `None` (the
    /// result then comes back to the instance later).
    fn start(&self, i: usize, op: StoreOp) -> Option<(OpId, StoreResult)> {
        let me = self.me.upgrade()?;
        let id = op.id;
        let now = crate::now_ms();
        let slot = Arc::new(Mutex::new(Answer::Waiting));
        let back = {
            let slot = slot.clone();
            move |result: StoreResult| {
                let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
                if matches!(*s, Answer::Waiting) {
                    *s = Answer::Ready(result);
                    return;
                }
                // The turn has moved on: a turn of its own, after which
                // the operation is no longer in flight.
                let in_flight = std::mem::replace(&mut *s, Answer::Done);
                drop(s);
                me.complete(i, id, result);
                drop(in_flight);
            }
        };
        match op.kind {
            StoreOpKind::Fetch { aor } => self.store.fetch(
                &aor,
                now,
                Box::new(move |r| back(r.map_or_else(StoreResult::Failed, StoreResult::Fetched))),
            ),
            StoreOpKind::Lookup { aors } => self.store.lookup(
                &aors,
                now,
                Box::new(move |r| back(r.map_or_else(StoreResult::Failed, StoreResult::Bindings))),
            ),
            StoreOpKind::Write(w) => {
                let WriteOp {
                    aor,
                    expected,
                    bindings,
                    on_success,
                    on_failure,
                } = *w;
                let sender = self.sender.get().cloned();
                // Announced once stored, only while someone listens.
                let announce = match self.changes.listened() {
                    true => self.me.upgrade().map(|shell| {
                        let change = Change::Stored {
                            aor: aor.clone(),
                            bindings: bindings.clone(),
                        };
                        (shell, change)
                    }),
                    false => None,
                };
                self.store.write(
                    &aor,
                    &expected,
                    bindings,
                    now,
                    Box::new(move |r: Result<Written, StoreError>| {
                        // The answer leaves from here, the moment the
                        // outcome is known (the writer thread, after the
                        // commit); the endpoint records it after.
                        let answer = match &r {
                            Ok(Written::Stored) => on_success,
                            Err(_) => on_failure,
                            Ok(Written::Conflict(_)) => None,
                        };
                        if let (Some(t), Some(sender)) = (answer, sender) {
                            sender.send(t);
                        }
                        if let (Ok(Written::Stored), Some((shell, change))) = (&r, announce) {
                            shell.changes.send(change);
                        }
                        back(r.map_or_else(StoreResult::Failed, StoreResult::Written));
                    }),
                );
            }
        }
        let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *s, Answer::Done) {
            Answer::Ready(result) => Some((id, result)),
            _ => {
                // Not answered yet: counted in flight until it is.
                *s = Answer::Late {
                    _in_flight: InFlight::enter(self),
                };
                None
            }
        }
    }

    /// A store result for instance `i`, answered after its turn.
    fn complete(&self, i: usize, id: OpId, result: StoreResult) {
        let now = crate::now_ms();
        self.drive(i, |ep| ep.handle_store_result(now, id, result));
    }

    /// Runs every instance's timers due at `now_ms`; returns the earliest
    /// next deadline.
    pub(crate) fn run_timers(&self, now_ms: u64) -> Option<u64> {
        (0..self.endpoints.len())
            .filter_map(|i| self.drive(i, |ep| ep.handle_timeout(now_ms)))
            .min()
    }

    /// Records when the timer loop plans to wake next.
    pub(crate) fn plan_wake(&self, at_ms: u64) {
        self.planned_wake.store(at_ms, Ordering::Relaxed);
    }

    /// Resolves when an instance armed a timer earlier than planned.
    pub(crate) async fn timers_woken(&self) {
        self.timer_wake.notified().await;
    }

    /// Waits until no store operation is in flight.
    pub(crate) async fn wait_in_flight(&self) {
        loop {
            let notified = self.idle.notified();
            if self.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// The instance a connection's events go to.
    fn shard_of_conn(&self, id: ConnId) -> usize {
        (id.0 % self.endpoints.len() as u64) as usize
    }
}

impl Deliver for Shell {
    fn received(&self, message: Received) {
        let now = crate::now_ms();
        let inbound = Inbound::parse(message, &self.limits);
        let i = inbound.shard(self.endpoints.len());
        self.drive(i, |ep| ep.handle_inbound(now, inbound));
    }

    fn too_large(&self, head: Received) {
        let now = crate::now_ms();
        let i = self.shard_of_conn(head.conn.unwrap_or(ConnId(0)));
        self.drive(i, |ep| ep.handle_too_large(now, head));
    }

    fn opened(&self, connection: Connection) {
        let i = self.shard_of_conn(connection.id);
        self.drive(i, |ep| ep.handle_connection_opened(connection));
    }

    fn closed(&self, id: ConnId) {
        let i = self.shard_of_conn(id);
        self.drive(i, |ep| ep.handle_connection_closed(id));
    }

    fn send_failed(&self, branch: String) {
        let now = crate::now_ms();
        let i = sip_core::proxy::shard_of_branch(&branch)
            .map_or(0, |s| usize::from(s) % self.endpoints.len());
        self.drive(i, |ep| ep.handle_send_failure(now, &branch));
    }
}
