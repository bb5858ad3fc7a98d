//! Normalising a binding set before it is stored.

use crate::Binding;

/// Largest instant the store keeps, in ms: SQLite integers are signed 64-bit,
/// so later instants are capped here (that is roughly 292 million years).
pub(crate) const MAX_INSTANT_MS: u64 = i64::MAX as u64;

/// Turn what an `update` closure left in the `Vec` into the set to store.
///
/// A contact that appears more than once keeps its last value (at the place
/// of its first appearance), bindings already expired at `now_ms` are
/// dropped, `aor` is forced to the key and instants are capped at
/// [`MAX_INSTANT_MS`]. This keeps the table's invariants (contacts unique per
/// AOR, rows representable on disk) whatever the closure does.
pub(crate) fn normalize(aor: &str, now_ms: u64, set: Vec<Binding>) -> Vec<Binding> {
    let mut out: Vec<Binding> = Vec::with_capacity(set.len());
    for binding in set {
        match out.iter_mut().find(|kept| kept.contact == binding.contact) {
            Some(kept) => *kept = binding,
            None => out.push(binding),
        }
    }
    out.retain(|binding| binding.expires_at_ms > now_ms);
    for binding in &mut out {
        binding.expires_at_ms = binding.expires_at_ms.min(MAX_INSTANT_MS);
        binding.updated_at_ms = binding.updated_at_ms.min(MAX_INSTANT_MS);
        if binding.aor != aor {
            aor.clone_into(&mut binding.aor);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(contact: &str, expires_at_ms: u64) -> Binding {
        Binding {
            aor: "sip:alice@example.com".into(),
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
    fn repeated_contact_keeps_last_value_at_first_place() {
        let mut second = binding("sip:a@h1", 500);
        second.cseq = 2;
        let set = vec![binding("sip:a@h1", 200), binding("sip:b@h2", 300), second];
        let out = normalize("sip:alice@example.com", 100, set);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].contact, "sip:a@h1");
        assert_eq!(out[0].cseq, 2);
        assert_eq!(out[1].contact, "sip:b@h2");
    }

    #[test]
    fn drops_expired_forces_aor_and_caps_instants() {
        let mut other = binding("sip:c@h3", u64::MAX);
        other.aor = "sip:bob@example.com".into();
        other.updated_at_ms = u64::MAX;
        let out = normalize(
            "sip:alice@example.com",
            100,
            vec![binding("sip:a@h1", 100), other],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].aor, "sip:alice@example.com");
        assert_eq!(out[0].expires_at_ms, MAX_INSTANT_MS);
        assert_eq!(out[0].updated_at_ms, MAX_INSTANT_MS);
    }
}
