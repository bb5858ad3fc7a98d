//! One shard of the hot table: the encoded sets of the AORs hashed to it
//! and their expiry index.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::codec;
use crate::Binding;

/// The sets of some AORs, each kept encoded ([`codec`]) in one allocation,
/// plus an index of their expiry instants.
///
/// The AOR string is allocated once and shared (`Arc<str>`) by the map and
/// the index. Invariants: every value is a valid, non-empty encoded set; the
/// index holds exactly one `(instant, aor)` entry per distinct expiry
/// instant among each AOR's stored bindings (kept in step eagerly on every
/// change, so it never holds stale entries and its first entry is the exact
/// next expiry).
#[derive(Debug, Default)]
pub(crate) struct Shard {
    aors: HashMap<Arc<str>, Box<[u8]>>,
    expiry: BTreeSet<(u64, Arc<str>)>,
}

/// Decode a stored set (which the invariant says is valid).
fn decode(aor: &str, blob: &[u8], keep: impl FnMut(u64) -> bool) -> Vec<Binding> {
    codec::decode(aor, blob, keep).unwrap_or_else(|e| {
        tracing::error!(error = %e, aor, "undecodable set in the hot table");
        Vec::new()
    })
}

/// Distinct expiry instants of a set, sorted; none if it is malformed.
fn instants(blob: &[u8]) -> Vec<u64> {
    let mut at = codec::expiries(blob).unwrap_or_default();
    at.sort_unstable();
    at.dedup();
    at
}

impl Shard {
    /// The bindings of `aor` still live at `now_ms`, in stored order.
    pub(crate) fn live(&self, aor: &str, now_ms: u64) -> Vec<Binding> {
        self.aors
            .get(aor)
            .map(|blob| decode(aor, blob, |at| at > now_ms))
            .unwrap_or_default()
    }

    /// The shared key of `aor`: the stored one, or a new allocation.
    pub(crate) fn key(&self, aor: &str) -> Arc<str> {
        self.aors
            .get_key_value(aor)
            .map_or_else(|| Arc::from(aor), |(key, _)| Arc::clone(key))
    }

    /// Replace the whole encoded set of `key` (`None` or an empty set
    /// removes the AOR), keeping the expiry index in step. `blob` must be
    /// valid (see [`codec::parse`]).
    pub(crate) fn install(&mut self, key: Arc<str>, blob: Option<Box<[u8]>>) {
        let new_at = blob.as_deref().map(instants).unwrap_or_default();
        let blob = blob.filter(|_| !new_at.is_empty());
        let (key, old) = match self.aors.remove_entry(&*key) {
            Some((stored, old)) => (stored, Some(old)),
            None => (key, None),
        };
        let old_at = old.as_deref().map(instants).unwrap_or_default();
        for at in &old_at {
            if new_at.binary_search(at).is_err() {
                self.expiry.remove(&(*at, Arc::clone(&key)));
            }
        }
        for at in &new_at {
            if old_at.binary_search(at).is_err() {
                self.expiry.insert((*at, Arc::clone(&key)));
            }
        }
        if let Some(blob) = blob {
            self.aors.insert(key, blob);
        }
    }

    /// Replace the set of `aor` with `set` (encoded here); for tests and
    /// recovery.
    #[cfg(test)]
    pub(crate) fn replace(&mut self, aor: &str, set: &[Binding]) {
        let key = self.key(aor);
        self.install(key, Some(codec::encode(set)));
    }

    /// Remove and return every binding with `expires_at_ms <= now_ms`,
    /// touching only the due prefix of the expiry index.
    pub(crate) fn purge(&mut self, now_ms: u64) -> Vec<Binding> {
        let mut due: Vec<Arc<str>> = Vec::new();
        while let Some((at, _)) = self.expiry.first() {
            if *at > now_ms {
                break;
            }
            if let Some((_, aor)) = self.expiry.pop_first() {
                due.push(aor);
            }
        }
        // An AOR with several due instants is listed once per instant.
        due.sort_unstable();
        due.dedup();
        let mut removed = Vec::new();
        for aor in due {
            let Some(blob) = self.aors.get_mut(&aor) else {
                continue;
            };
            let mut kept = Vec::new();
            for binding in decode(&aor, blob, |_| true) {
                if binding.expires_at_ms <= now_ms {
                    removed.push(binding);
                } else {
                    kept.push(binding);
                }
            }
            // The kept bindings expire later, so their index entries
            // were not in the due prefix and stay as they are.
            if kept.is_empty() {
                self.aors.remove(&aor);
            } else {
                *blob = codec::encode(&kept);
            }
        }
        removed
    }

    /// The earliest expiry instant in this shard, if any.
    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.expiry.first().map(|(at, _)| *at)
    }

    /// Number of AORs held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.aors.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(aor: &str, contact: &str, expires_at_ms: u64) -> Binding {
        Binding {
            aor: aor.into(),
            contact: contact.into(),
            q: 1000,
            expires_at_ms,
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

    #[test]
    fn replace_keeps_index_in_step() {
        let mut shard = Shard::default();
        shard.replace("a", &[binding("a", "sip:1", 10), binding("a", "sip:2", 20)]);
        assert_eq!(shard.next_expiry(), Some(10));
        shard.replace("a", &[binding("a", "sip:2", 30)]);
        assert_eq!(shard.next_expiry(), Some(30));
        assert_eq!(shard.expiry.len(), 1);
        // Two bindings with one instant share one index entry.
        shard.replace("a", &[binding("a", "sip:1", 30), binding("a", "sip:2", 30)]);
        assert_eq!(shard.expiry.len(), 1);
        shard.replace("a", &[]);
        assert_eq!(shard.next_expiry(), None);
        assert!(shard.aors.is_empty());
        assert!(shard.expiry.is_empty());
    }

    #[test]
    fn the_key_is_shared_by_map_and_index() {
        let mut shard = Shard::default();
        shard.replace("a", &[binding("a", "sip:1", 10), binding("a", "sip:2", 20)]);
        let key = shard.key("a");
        // map + two index entries + `key`.
        assert_eq!(Arc::strong_count(&key), 4);
    }

    #[test]
    fn purge_takes_only_due_entries() {
        let mut shard = Shard::default();
        shard.replace("a", &[binding("a", "sip:1", 10), binding("a", "sip:2", 20)]);
        shard.replace("b", &[binding("b", "sip:3", 10)]);
        shard.replace("c", &[binding("c", "sip:4", 5), binding("c", "sip:5", 8)]);
        let mut removed = shard.purge(10);
        removed.sort_by(|x, y| x.contact.cmp(&y.contact));
        assert_eq!(removed.len(), 4);
        assert_eq!(removed[0].contact, "sip:1");
        assert_eq!(removed[1].contact, "sip:3");
        assert_eq!(shard.live("a", 0).len(), 1);
        assert!(shard.live("b", 0).is_empty());
        assert!(!shard.aors.contains_key("b"));
        assert_eq!(shard.next_expiry(), Some(20));
        assert_eq!(shard.purge(u64::MAX).len(), 1);
        assert_eq!(shard.next_expiry(), None);
        assert_eq!(shard.len(), 0);
    }
}
