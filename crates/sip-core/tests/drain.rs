//! Draining for a rolling restart, and the answers the endpoint reports:
//! what an operator's tooling observes through the endpoint.

mod common;

use common::*;
use sip_core::{Event, Received};
use sip_message::Method;

fn register(branch: &str, call_id: &str) -> String {
    Req::register()
        .via(&format!(
            "SIP/2.0/UDP 192.0.2.10:5060;branch={branch};rport"
        ))
        .call_id(call_id)
        .cseq(1)
        .contact("<sip:alice@192.0.2.10>")
        .build()
}

/// Delivers `raw` without running the store operations held so far;
/// returns the one answer sent at once.
fn answer_held(r: &Registrar, raw: &str, now: u64) -> Resp {
    let sent: Vec<_> = r.with_endpoint(|ep| {
        ep.handle_message(now, datagram(raw, ua_addr(), r.local));
        std::iter::from_fn(|| ep.poll_transmit()).collect()
    });
    assert_eq!(sent.len(), 1, "one answer");
    Resp::parse(sent[0].bytes.to_vec())
}

#[test]
fn a_draining_endpoint_refuses_new_requests_and_finishes_those_in_flight() {
    let r = Registrar::new(std_config());
    // A REGISTER waits for the store.
    let first = register("z9hG4bK-inflight", "drain-1");
    let held = r.with_endpoint(|ep| {
        ep.handle_message(T0, datagram(&first, ua_addr(), r.local));
        std::iter::from_fn(|| ep.poll_transmit()).count()
    });
    assert_eq!(held, 0, "no answer before the store has answered");
    assert_eq!(r.with_endpoint(|ep| ep.busy()), 1);

    r.with_endpoint(|ep| ep.set_draining(true));
    let refused = answer_held(&r, &register("z9hG4bK-new", "drain-2"), T0 + 1);
    refused.expect(503, "Service Unavailable");
    assert_eq!(refused.named("Retry-After"), vec!["5"]);
    let options = Req::new("OPTIONS", "sip:example.com")
        .via("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-opt;rport")
        .build();
    answer_held(&r, &options, T0 + 2).expect(503, "Service Unavailable");
    assert_eq!(r.with_endpoint(|ep| ep.busy()), 1, "still in flight");

    // The one in flight still gets its 200, and then nothing is busy.
    let mut events = Vec::new();
    let sent = r.with_endpoint(|ep| drive(ep, &r.store, T0 + 3, &mut events));
    assert_eq!(sent.len(), 1);
    assert!(sent[0].bytes.starts_with(b"SIP/2.0 200 OK\r\n"));
    assert_eq!(r.with_endpoint(|ep| ep.busy()), 0);
    assert_eq!(r.stored("sip:alice@example.com", T0 + 3).len(), 1);

    // Drained no more: a new REGISTER is served again.
    r.with_endpoint(|ep| ep.set_draining(false));
    r.answer(&register("z9hG4bK-after", "drain-3"), T0 + 4)
        .expect(200, "OK");
}

#[test]
fn every_final_answer_is_reported_with_the_arrival_stamp() {
    let r = Registrar::new(std_config());
    let raw = register("z9hG4bK-stamp", "stamp-1");
    let received = Received {
        stamp: 4242,
        ..datagram(&raw, ua_addr(), r.local)
    };
    r.deliver(received, T0);
    let bad = Req::register()
        .via("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-bad;rport")
        .call_id("stamp-2")
        .cseq(1)
        .contact("*")
        .build();
    r.deliver(
        Received {
            stamp: 4343,
            ..datagram(&bad, ua_addr(), r.local)
        },
        T0 + 1,
    );
    let answered: Vec<(Method, u16, u64)> = r
        .events
        .borrow()
        .iter()
        .filter_map(|e| match e {
            Event::Answered {
                method,
                code,
                stamp,
            } => Some((*method, *code, *stamp)),
            _ => None,
        })
        .collect();
    assert_eq!(answered.len(), 2, "{answered:?}");
    assert_eq!(answered[0], (Method::Register, 200, 4242));
    assert_eq!(answered[1].0, Method::Register);
    assert_eq!(answered[1].1, 400);
    assert_eq!(answered[1].2, 4343);
}
