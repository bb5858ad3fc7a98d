//! Non-INVITE server transactions (RFC 3261 §17.2.2, §17.2.3): what a UA
//! that retransmits a REGISTER observes, through the endpoint.

mod common;

use bytes::Bytes;
use common::*;
use sip_core::transaction::timers::{T1_MS, TIMER_J_MS};
use sip_core::transaction::TransactionKey;
use sip_core::{Received, Transport};
use sip_message::{Limits, Message};

fn parse(raw: &str) -> Message {
    Message::parse(Bytes::from(raw.to_string()), &Limits::default()).unwrap()
}

fn key(raw: &str) -> TransactionKey {
    TransactionKey::of(&parse(raw)).expect("request with a Via has a key")
}

fn register(branch: &str) -> Req {
    Req::register()
        .via(&format!(
            "SIP/2.0/UDP 192.0.2.10:5060;branch={branch};rport"
        ))
        .cseq(7)
        .contact("<sip:alice@192.0.2.10>")
}

/// `raw` with another branch: a new transaction for the same request.
fn new_branch(raw: &str, branch: &str) -> String {
    raw.replacen("branch=", &format!("branch={branch}"), 1)
}

/// Sends `raw` and returns the one response's bytes.
fn serve(r: &Registrar, raw: &str, now: u64) -> Bytes {
    let sent = r.deliver(datagram(raw, ua_addr(), r.local), now);
    assert_eq!(sent.len(), 1, "one answer");
    sent[0].bytes.clone()
}

/// Delivers `raw` to the endpoint without running the store operations it
/// asks for: returns what was sent at once.
fn deliver_held(r: &Registrar, raw: &str, now: u64) -> Vec<sip_core::Transmit> {
    r.with_endpoint(|ep| {
        ep.handle_message(now, datagram(raw, ua_addr(), r.local));
        std::iter::from_fn(|| ep.poll_transmit()).collect()
    })
}

/// Runs the store operations held so far at `now`; returns what was sent.
fn release_store(r: &Registrar, now: u64) -> Vec<sip_core::Transmit> {
    let mut events = Vec::new();
    r.with_endpoint(|ep| drive(ep, &r.store, now, &mut events))
}

#[test]
fn timer_j_is_64_t1() {
    assert_eq!(TIMER_J_MS, 64 * T1_MS);
    assert_eq!(TIMER_J_MS, 32_000);
}

#[test]
fn retransmission_gets_the_identical_response_and_is_not_reprocessed() {
    let r = Registrar::new(std_config());
    let raw = register("z9hG4bK-retx").build();
    let first = serve(&r, &raw, T0);
    assert!(first.starts_with(b"SIP/2.0 200 OK\r\n"), "{first:?}");
    // The retransmission 500 ms later gets the very same bytes (same To tag,
    // same Date), not a fresh decision.
    assert_eq!(serve(&r, &raw, T0 + 500), first);
    // Reprocessing it would have been wrong: the registrar alone (a new
    // transaction for the same request) rejects the replay.
    r.answer(&new_branch(&raw, "again-"), T0 + 500)
        .expect(400, "Out-of-Order CSeq For This Call-ID");
    assert_eq!(serve(&r, &raw, T0 + 4000), first);
}

#[test]
fn retransmission_while_pending_is_absorbed() {
    let r = Registrar::new(std_config());
    let raw = register("z9hG4bK-pending").build();
    // The store has not answered yet: the copies are absorbed.
    assert!(deliver_held(&r, &raw, T0).is_empty());
    assert!(deliver_held(&r, &raw, T0 + 500).is_empty());
    assert!(deliver_held(&r, &raw, T0 + 1500).is_empty());
    let answered = release_store(&r, T0 + 2000);
    assert_eq!(answered.len(), 1, "one answer for all the copies");
    assert!(answered[0].bytes.starts_with(b"SIP/2.0 200 OK\r\n"));
    assert_eq!(serve(&r, &raw, T0 + 2500), answered[0].bytes);
}

#[test]
fn a_new_branch_is_a_new_transaction() {
    let r = Registrar::new(std_config());
    let first = serve(&r, &register("z9hG4bK-one").build(), T0);
    assert!(first.starts_with(b"SIP/2.0 200 OK\r\n"));
    // Same request under a new branch: a new transaction, processed by the
    // registrar (and rejected there, since the CSeq did not advance).
    let raw = register("z9hG4bK-two").build();
    let second = r.answer(&raw, T0 + 100);
    second.expect(400, "Out-of-Order CSeq For This Call-ID");
    assert_eq!(r.with_endpoint(|ep| ep.transactions().0), 2);
}

#[test]
fn same_branch_with_other_method_or_sent_by_is_another_transaction() {
    let base = register("z9hG4bK-same");
    let k = key(&base.build());
    let options = Req::new("OPTIONS", "sip:example.com")
        .via("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-same;rport");
    assert_ne!(key(&options.build()), k, "method is part of the match");
    let other_host = base
        .clone()
        .via("SIP/2.0/UDP 192.0.2.11:5060;branch=z9hG4bK-same;rport");
    assert_ne!(key(&other_host.build()), k, "sent-by is part of the match");
    let other_port = base
        .clone()
        .via("SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-same;rport");
    assert_ne!(
        key(&other_port.build()),
        k,
        "sent-by port is part of the match"
    );
    // Other headers (here the Contact) do not matter once the branch matches.
    let same = base.clone().contact("<sip:alice@192.0.2.12>");
    assert_eq!(key(&same.build()), k);
}

#[test]
fn completed_transaction_ends_at_timer_j() {
    let r = Registrar::new(std_config());
    let raw = register("z9hG4bK-timerj").build();
    assert!(deliver_held(&r, &raw, T0).is_empty());
    let resp = release_store(&r, T0 + 10).remove(0).bytes;
    let j = T0 + 10 + TIMER_J_MS;
    // The first timer due is the one armed when the request arrived; firing
    // it must not end the transaction, which now waits for Timer J.
    let early = r.next_timer().unwrap();
    assert!(early < j, "{early} < {j}");
    assert!(r.timers(early).is_empty());
    assert_eq!(serve(&r, &raw, early), resp);
    assert_eq!(r.next_timer(), Some(j));
    r.timers(j - 1);
    assert_eq!(serve(&r, &raw, j - 1), resp);
    r.timers(j);
    assert_eq!(r.with_endpoint(|ep| ep.transactions().0), 0);
    assert_eq!(r.next_timer(), None);
    // A late copy is now a new request (which the registrar refuses as a
    // replay), not a retransmission.
    r.answer(&raw, j)
        .expect(400, "Out-of-Order CSeq For This Call-ID");
}

#[test]
fn reliable_transport_keeps_no_completed_transaction() {
    let r = Registrar::new(std_config());
    let raw = register("z9hG4bK-tcp")
        .via("SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK-tcp")
        .build();
    let over_tcp = |now| {
        let received = Received {
            transport: Transport::Tcp,
            conn: Some(sip_core::ConnId(1)),
            ..datagram(&raw, ua_addr(), r.local)
        };
        r.deliver(received, now)
    };
    let first = over_tcp(T0);
    assert!(first[0].bytes.starts_with(b"SIP/2.0 200 OK\r\n"));
    assert_eq!(
        first[0].dest.conn,
        Some(sip_core::ConnId(1)),
        "on its connection"
    );
    assert_eq!(r.with_endpoint(|ep| ep.transactions().0), 0);
    // The same request again is new, not a retransmission.
    let again = over_tcp(T0 + 2);
    assert!(again[0].bytes.starts_with(b"SIP/2.0 400 Out-of-Order CSeq"));
}

#[test]
fn rfc2543_requests_match_on_their_identifiers() {
    // No magic cookie: §17.2.3 falls back to Request-URI, tags, Call-ID, CSeq, Via.
    let old = Req::register()
        .via("SIP/2.0/UDP 192.0.2.10:5060;branch=legacy1")
        .cseq(3);
    let k = key(&old.build());
    assert_eq!(key(&old.build()), k);
    assert_ne!(key(&old.clone().cseq(4).build()), k);
    assert_ne!(key(&old.clone().call_id("other").build()), k);
    let no_branch = Req::register().via("SIP/2.0/UDP 192.0.2.10:5060").cseq(3);
    assert_ne!(key(&no_branch.build()), k);
    assert_eq!(key(&no_branch.build()), key(&no_branch.build()));
}
