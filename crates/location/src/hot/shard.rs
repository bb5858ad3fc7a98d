//! One shard of the hot table: the bindings of the AORs hashed to it and
//! their expiry index.

use std::collections::{BTreeSet, HashMap};

use crate::Binding;

/// An entry of the expiry index: (expires_at_ms, aor, contact). Ordered by
/// expiry first, so everything due is a prefix of the set.
pub(crate) type ExpiryKey = (u64, String, String);

/// The bindings of some AORs plus an index of their expiry instants.
///
/// Invariant: `expiry` holds exactly one key per binding in `aors`, and no
/// AOR maps to an empty set.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    aors: HashMap<String, Vec<Binding>>,
    expiry: BTreeSet<ExpiryKey>,
}

impl Shard {
    /// The bindings of `aor` still live at `now_ms`, in stored order.
    pub(crate) fn live(&self, aor: &str, now_ms: u64) -> Vec<Binding> {
        self.aors
            .get(aor)
            .map(|set| {
                set.iter()
                    .filter(|binding| binding.expires_at_ms > now_ms)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Replace the whole set of `aor` (empty removes the AOR), keeping the
    /// expiry index in step. `set` must hold each contact at most once.
    pub(crate) fn replace(&mut self, aor: &str, set: Vec<Binding>) {
        if let Some(old) = self.aors.remove(aor) {
            for binding in old {
                self.expiry
                    .remove(&(binding.expires_at_ms, aor.to_owned(), binding.contact));
            }
        }
        if set.is_empty() {
            return;
        }
        for binding in &set {
            self.expiry.insert((
                binding.expires_at_ms,
                aor.to_owned(),
                binding.contact.clone(),
            ));
        }
        self.aors.insert(aor.to_owned(), set);
    }

    /// Remove and return every binding with `expires_at_ms <= now_ms`,
    /// touching only the due prefix of the expiry index.
    pub(crate) fn purge(&mut self, now_ms: u64) -> Vec<Binding> {
        let due = match now_ms.checked_add(1) {
            Some(bound) => {
                let later = self
                    .expiry
                    .split_off(&(bound, String::new(), String::new()));
                std::mem::replace(&mut self.expiry, later)
            }
            None => std::mem::take(&mut self.expiry),
        };
        let mut removed = Vec::with_capacity(due.len());
        for (expires_at_ms, aor, contact) in due {
            let Some(set) = self.aors.get_mut(&aor) else {
                continue;
            };
            if let Some(at) = set
                .iter()
                .position(|b| b.contact == contact && b.expires_at_ms == expires_at_ms)
            {
                removed.push(set.remove(at));
            }
            if set.is_empty() {
                self.aors.remove(&aor);
            }
        }
        removed
    }

    /// The earliest expiry instant in this shard, if any.
    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.expiry
            .first()
            .map(|(expires_at_ms, _, _)| *expires_at_ms)
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
        shard.replace(
            "a",
            vec![binding("a", "sip:1", 10), binding("a", "sip:2", 20)],
        );
        assert_eq!(shard.next_expiry(), Some(10));
        shard.replace("a", vec![binding("a", "sip:2", 30)]);
        assert_eq!(shard.next_expiry(), Some(30));
        assert_eq!(shard.expiry.len(), 1);
        shard.replace("a", Vec::new());
        assert_eq!(shard.next_expiry(), None);
        assert!(shard.aors.is_empty());
    }

    #[test]
    fn purge_takes_only_due_entries() {
        let mut shard = Shard::default();
        shard.replace(
            "a",
            vec![binding("a", "sip:1", 10), binding("a", "sip:2", 20)],
        );
        shard.replace("b", vec![binding("b", "sip:3", 10)]);
        let mut removed = shard.purge(10);
        removed.sort_by(|x, y| x.contact.cmp(&y.contact));
        assert_eq!(removed.len(), 2);
        assert_eq!(removed[0].contact, "sip:1");
        assert_eq!(removed[1].contact, "sip:3");
        assert_eq!(shard.live("a", 0).len(), 1);
        assert!(shard.live("b", 0).is_empty());
        assert!(!shard.aors.contains_key("b"));
        assert_eq!(shard.purge(u64::MAX).len(), 1);
        assert_eq!(shard.next_expiry(), None);
    }
}
