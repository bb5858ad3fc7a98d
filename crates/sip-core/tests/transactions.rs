//! Non-INVITE server transactions (RFC 3261 §17.2.2, §17.2.3): what a UA
//! that retransmits a REGISTER observes.

mod common;

use bytes::Bytes;
use common::*;
use sip_core::transaction::{T1_MS, TIMER_J_MS};
use sip_core::{TransactionKey, TransactionTable, TxDisposition};
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

/// Runs one request through the table and the core, as the shell does.
fn serve(r: &Registrar, table: &mut TransactionTable, raw: &str, now: u64) -> Bytes {
    let k = key(raw);
    match table.on_request(&k, now) {
        TxDisposition::New => {
            let resp = r.answer(raw, now);
            let bytes = Bytes::from(resp.raw.clone());
            table.on_final_response(&k, bytes.clone(), false, now);
            bytes
        }
        TxDisposition::Retransmit(bytes) => bytes,
        TxDisposition::Absorb => panic!("no request is pending in these tests"),
    }
}

#[test]
fn timer_j_is_64_t1() {
    assert_eq!(TIMER_J_MS, 64 * T1_MS);
    assert_eq!(TIMER_J_MS, 32_000);
}

#[test]
fn retransmission_gets_the_identical_response_and_is_not_reprocessed() {
    let r = Registrar::new(std_config());
    let mut table = TransactionTable::new();
    let raw = register("z9hG4bK-retx").build();
    let first = serve(&r, &mut table, &raw, T0);
    assert!(first.starts_with(b"SIP/2.0 200 OK\r\n"), "{first:?}");
    // The retransmission 500 ms later gets the very same bytes (same To tag,
    // same Date), not a fresh decision.
    assert_eq!(
        table.on_request(&key(&raw), T0 + 500),
        TxDisposition::Retransmit(first.clone())
    );
    // Reprocessing it would have been wrong: the core alone rejects the replay.
    r.answer(&raw, T0 + 500)
        .expect(400, "Out-of-Order CSeq For This Call-ID");
    assert_eq!(serve(&r, &mut table, &raw, T0 + 4000), first);
}

#[test]
fn retransmission_while_pending_is_absorbed() {
    let mut table = TransactionTable::new();
    let k = key(&register("z9hG4bK-pending").build());
    assert_eq!(table.on_request(&k, T0), TxDisposition::New);
    assert_eq!(table.on_request(&k, T0 + 500), TxDisposition::Absorb);
    assert_eq!(table.on_request(&k, T0 + 1500), TxDisposition::Absorb);
    table.on_final_response(
        &k,
        Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"),
        false,
        T0 + 2000,
    );
    assert_eq!(
        table.on_request(&k, T0 + 2500),
        TxDisposition::Retransmit(Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"))
    );
}

#[test]
fn a_new_branch_is_a_new_transaction() {
    let r = Registrar::new(std_config());
    let mut table = TransactionTable::new();
    let first = serve(&r, &mut table, &register("z9hG4bK-one").build(), T0);
    assert!(first.starts_with(b"SIP/2.0 200 OK\r\n"));
    // Same request under a new branch: a new transaction, processed by the
    // core (and rejected there, since the CSeq did not advance).
    let raw = register("z9hG4bK-two").build();
    assert_eq!(table.on_request(&key(&raw), T0 + 100), TxDisposition::New);
    let second = r.answer(&raw, T0 + 100);
    second.expect(400, "Out-of-Order CSeq For This Call-ID");
    assert_eq!(table.len(), 2);
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
    let mut table = TransactionTable::new();
    let k = key(&register("z9hG4bK-timerj").build());
    let resp = Bytes::from_static(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(table.on_request(&k, T0), TxDisposition::New);
    table.on_final_response(&k, resp.clone(), false, T0 + 10);
    let j = T0 + 10 + TIMER_J_MS;
    // The first timer due is the one armed when the request arrived; firing
    // it must not end the transaction, which now waits for Timer J.
    let early = table.poll_timeout().unwrap();
    assert!(early < j, "{early} < {j}");
    table.handle_timeout(early);
    assert_eq!(
        table.on_request(&k, early),
        TxDisposition::Retransmit(resp.clone())
    );
    assert_eq!(table.poll_timeout(), Some(j));
    table.handle_timeout(j - 1);
    assert_eq!(table.on_request(&k, j - 1), TxDisposition::Retransmit(resp));
    table.handle_timeout(j);
    assert!(table.is_empty());
    assert_eq!(table.poll_timeout(), None);
    // A late copy is now a new request.
    assert_eq!(table.on_request(&k, j), TxDisposition::New);
}

#[test]
fn reliable_transport_keeps_no_completed_transaction() {
    let mut table = TransactionTable::new();
    let k = key(&register("z9hG4bK-tcp").build());
    assert_eq!(table.on_request(&k, T0), TxDisposition::New);
    table.on_final_response(&k, Bytes::from_static(b"r"), true, T0 + 1);
    assert!(table.is_empty());
    assert_eq!(table.on_request(&k, T0 + 2), TxDisposition::New);
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
