//! Dashboard sessions: a random id in an HttpOnly cookie, traded for the
//! token once, with a CSRF value the page sends back on every change.
//! They live in memory (lost on restart), expire after 12 h idle, and at
//! most [`MAX_SESSIONS`] are kept (the least recently used goes first).
//! The table is keyed by the SHA-256 of the id, so looking one up reveals
//! nothing of the ids it holds.

use crate::token::{digest, random_hex};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The name of the session cookie.
pub(crate) const COOKIE: &str = "locus_session";

/// How long a session lives without being used.
pub(crate) const IDLE: Duration = Duration::from_secs(12 * 3600);

/// Most sessions kept at once.
pub(crate) const MAX_SESSIONS: usize = 256;

/// One session, as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// The key of the session in the table (SHA-256 of its id).
    pub key: [u8; 32],
    /// The CSRF value changes must carry in `X-CSRF-Token`.
    pub csrf: String,
}

struct Entry {
    csrf: String,
    last_used: Instant,
    /// The table's use count when it was last used (orders evictions).
    used_at: u64,
}

#[derive(Default)]
struct Table {
    entries: HashMap<[u8; 32], Entry>,
    uses: u64,
}

/// The sessions of this listener.
#[derive(Default)]
pub(crate) struct Sessions {
    table: Mutex<Table>,
}

impl Sessions {
    /// Starts a session: its cookie id and its CSRF value.
    pub(crate) fn create(&self) -> (String, String) {
        let id = random_hex(32);
        let csrf = random_hex(32);
        let now = Instant::now();
        let mut table = self.lock();
        table.uses += 1;
        let used_at = table.uses;
        let entries = &mut table.entries;
        entries.retain(|_, e| now.duration_since(e.last_used) < IDLE);
        if entries.len() >= MAX_SESSIONS {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.used_at)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                entries.remove(&k);
            }
        }
        entries.insert(
            digest(id.as_bytes()),
            Entry {
                csrf: csrf.clone(),
                last_used: now,
                used_at,
            },
        );
        (id, csrf)
    }

    /// The live session of cookie id `id` (its idle time restarts).
    pub(crate) fn find(&self, id: &str) -> Option<Session> {
        let key = digest(id.as_bytes());
        let now = Instant::now();
        let mut table = self.lock();
        table.uses += 1;
        let used_at = table.uses;
        let entry = table.entries.get_mut(&key)?;
        if now.duration_since(entry.last_used) >= IDLE {
            table.entries.remove(&key);
            return None;
        }
        entry.last_used = now;
        entry.used_at = used_at;
        Some(Session {
            key,
            csrf: entry.csrf.clone(),
        })
    }

    /// Ends the session with table key `key`.
    pub(crate) fn remove(&self, key: &[u8; 32]) {
        self.lock().entries.remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_by_id_and_end() {
        let s = Sessions::default();
        let (id, csrf) = s.create();
        let found = s.find(&id).expect("live session");
        assert_eq!(found.csrf, csrf);
        assert!(s.find("not-a-session").is_none());
        s.remove(&found.key);
        assert!(s.find(&id).is_none());
    }

    #[test]
    fn the_table_is_bounded() {
        let s = Sessions::default();
        let (first, _) = s.create();
        for _ in 0..MAX_SESSIONS {
            s.create();
        }
        assert!(s.find(&first).is_none(), "the oldest session was evicted");
        assert_eq!(s.lock().entries.len(), MAX_SESSIONS);
    }
}
