//! An in-memory snapshot of a [`UserStore`], for lookups on the hot path.

use crate::StoreError;
use crate::{User, UserDirectory, UserStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// Accounts by realm, then by name.
type Snapshot = HashMap<String, HashMap<String, Arc<User>>>;

/// Every account of a [`UserStore`], held in memory and reloaded as a
/// whole when the store's [`UserStore::version`] changes.
///
/// Lookups take a read lock only long enough to clone an `Arc`; the
/// reload builds the new snapshot outside the lock and swaps it in.
#[derive(Debug)]
pub struct UserCache<S> {
    store: S,
    snapshot: RwLock<Arc<Snapshot>>,
    /// The store version the snapshot was loaded at; `None` before the first load.
    loaded: Mutex<Option<i64>>,
}

impl<S: UserStore> UserCache<S> {
    /// A cache of `store`, loaded now.
    pub fn new(store: S) -> Result<UserCache<S>, StoreError> {
        let cache = UserCache {
            store,
            snapshot: RwLock::new(Arc::new(Snapshot::new())),
            loaded: Mutex::new(None),
        };
        cache.refresh()?;
        Ok(cache)
    }

    /// The store behind the cache.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Reloads the accounts if the store changed since the last load;
    /// returns true when it reloaded. One small query when nothing changed.
    pub fn refresh(&self) -> Result<bool, StoreError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let version = self.store.version()?;
        if *loaded == Some(version) {
            return Ok(false);
        }
        let mut next = Snapshot::new();
        for user in self.store.list(None)? {
            next.entry(user.realm.clone())
                .or_default()
                .insert(user.username.clone(), Arc::new(user));
        }
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        *loaded = Some(version);
        Ok(true)
    }

    /// The number of accounts in the snapshot.
    pub fn count(&self) -> usize {
        self.current().values().map(HashMap::len).sum()
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl<S: UserStore> UserDirectory for UserCache<S> {
    fn find(&self, realm: &str, username: &str) -> Option<Arc<User>> {
        let snap = self.snapshot.read().unwrap_or_else(PoisonError::into_inner);
        snap.get(realm).and_then(|m| m.get(username)).cloned()
    }

    fn is_empty(&self) -> bool {
        self.current().is_empty()
    }
}
