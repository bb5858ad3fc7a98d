//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses some of the helpers

use location::{Binding, ContactAction, LocationStore, Snapshot};

pub const ALICE: &str = "sip:alice@example.com";
pub const BOB: &str = "sip:bob@example.com";

/// A binding with every optional field filled, so round trips are checked.
pub fn binding(aor: &str, contact: &str, expires_at_ms: u64) -> Binding {
    Binding {
        aor: aor.into(),
        contact: contact.into(),
        q: 1000,
        expires_at_ms,
        call_id: format!("call-{contact}"),
        cseq: 1,
        received: Some("192.0.2.4:5062".into()),
        transport: "tcp".into(),
        local: Some("[2001:db8::1]:5060".into()),
        user_agent: Some("test agent/1.0".into()),
        path: vec!["<sip:p1.example.com;lr>".into(), "<sip:p2:5:6@x;lr>".into()],
        instance: Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>".into()),
        reg_id: Some(1),
        action: Some(ContactAction::Proxy),
        updated_at_ms: 1_000,
    }
}

/// A closure body that installs exactly `set` (a copy each time it runs:
/// a conflicting write runs it again).
pub fn set_to(set: Vec<Binding>) -> impl FnMut(&mut Vec<Binding>) -> Result<(), ()> + Send {
    move |bindings| {
        bindings.clone_from(&set);
        Ok(())
    }
}

/// Contacts of a set, in order.
pub fn contacts(set: &[Binding]) -> Vec<&str> {
    set.iter().map(|b| b.contact.as_str()).collect()
}

/// The AOR's snapshot (bindings and version), read through the seam.
pub fn snapshot(store: &impl LocationStore, aor: &str) -> Snapshot {
    let (tx, rx) = std::sync::mpsc::channel();
    store.fetch(
        aor,
        0,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .expect("a fetch answers")
        .expect("a fetch succeeds")
}
