//! Conveniences on top of the callback seam: a read-modify-write of one AOR
//! with a closure and a plain read, for tools, examples and tests of the
//! backends here (which answer reads and conflicts at once, from memory),
//! and `close` as a future. (The server's core decides on snapshots and
//! writes through the seam itself.)

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::{Binding, LocationStore, Snapshot, StoreError, Written};

/// How often a conflicting write is retried before giving up.
const MAX_ATTEMPTS: usize = 16;

/// [`StoreExt::update`] on every store.
pub trait StoreExt: LocationStore {
    /// Runs `change` on the live bindings of `aor` at `now_ms` and writes
    /// the result as one compare-and-set, retrying `change` on a fresh
    /// snapshot after a conflict. If `change` returns `Err`, nothing
    /// changes.
    ///
    /// The change is applied when `update` is called (so updates of one
    /// AOR apply in call order); the future only reports its durability,
    /// and dropping it does not undo it. A backend that does not answer a
    /// read or a conflict before the call returns (a networked one) gets
    /// [`StoreError::Backend`].
    fn update<T, E, F>(
        &self,
        aor: &str,
        now_ms: u64,
        change: F,
    ) -> impl Future<Output = Result<Result<T, E>, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(&mut Vec<Binding>) -> Result<T, E> + Send + 'static;

    /// The live bindings of `aor` at `now_ms`, for a backend that answers
    /// reads at once ([`StoreError::Backend`] otherwise).
    fn bindings(&self, aor: &str, now_ms: u64) -> Result<Vec<Binding>, StoreError>;

    /// [`LocationStore::close`] as a future.
    fn closed(&self) -> impl Future<Output = Result<(), StoreError>> + Send + 'static;
}

/// A value a callback leaves for the caller that is still on the stack.
type Slot<V> = Arc<Mutex<Option<V>>>;

fn take<V>(slot: &Slot<V>) -> Option<V> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

fn not_at_once() -> StoreError {
    StoreError::Backend("the backend did not answer at once".into())
}

impl<S: LocationStore + ?Sized> StoreExt for S {
    fn update<T, E, F>(
        &self,
        aor: &str,
        now_ms: u64,
        mut change: F,
    ) -> impl Future<Output = Result<Result<T, E>, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(&mut Vec<Binding>) -> Result<T, E> + Send + 'static,
    {
        let outcome = (|| {
            for _ in 0..MAX_ATTEMPTS {
                let fetched: Slot<Result<Snapshot, StoreError>> = Slot::default();
                let slot = Arc::clone(&fetched);
                self.fetch(
                    aor,
                    now_ms,
                    Box::new(move |r| {
                        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(r)
                    }),
                );
                let snapshot = take(&fetched).ok_or_else(not_at_once)??;
                let mut set = snapshot.bindings;
                let value = match change(&mut set) {
                    Ok(value) => value,
                    Err(e) => return Ok(Err(e)),
                };
                // A conflict is answered before `write` returns; anything
                // else may come later, from the writer thread.
                let conflict: Slot<()> = Slot::default();
                let (durable, receipt) = oneshot::channel();
                let seen = Arc::clone(&conflict);
                self.write(
                    aor,
                    &snapshot.version,
                    set,
                    now_ms,
                    Box::new(move |r| match r {
                        Ok(Written::Conflict(_)) => {
                            *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(());
                        }
                        Ok(Written::Stored) => {
                            let _ = durable.send(Ok(()));
                        }
                        Err(e) => {
                            let _ = durable.send(Err(e));
                        }
                    }),
                );
                if take(&conflict).is_none() {
                    return Ok(Ok((value, receipt)));
                }
            }
            Err(StoreError::Backend(format!(
                "{MAX_ATTEMPTS} conflicting writes in a row"
            )))
        })();
        async move {
            let (value, receipt) = match outcome? {
                Ok(queued) => queued,
                Err(e) => return Ok(Err(e)),
            };
            receipt.await.map_err(|_| StoreError::WriterGone)??;
            Ok(Ok(value))
        }
    }

    fn bindings(&self, aor: &str, now_ms: u64) -> Result<Vec<Binding>, StoreError> {
        let read: Slot<Result<Snapshot, StoreError>> = Slot::default();
        let slot = Arc::clone(&read);
        self.fetch(
            aor,
            now_ms,
            Box::new(move |r| *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(r)),
        );
        take(&read)
            .ok_or_else(not_at_once)?
            .map(|snapshot| snapshot.bindings)
    }

    fn closed(&self) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        self.close(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        async move { rx.await.map_err(|_| StoreError::WriterGone)? }
    }
}
