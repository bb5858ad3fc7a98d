//! RFC 3261 §10.3 registrar behaviour, observed through response bytes.

mod common;

use common::*;
use sip_message::HeaderName;
use std::net::SocketAddr;

const SEC: u64 = 1000;

fn registrar() -> Registrar {
    Registrar::new(std_config())
}

/// A query (REGISTER without Contact) for alice from a fresh Call-ID.
fn query(r: &Registrar, now: u64) -> Vec<(String, u64)> {
    query_to(r, "<sip:alice@example.com>", now)
}

fn query_to(r: &Registrar, to: &str, now: u64) -> Vec<(String, u64)> {
    let resp = r.answer(
        &Req::register().to(to).call_id("query@192.0.2.10").build(),
        now,
    );
    resp.expect(200, "OK");
    resp.bindings()
}

fn b(uri: &str, expires: u64) -> (String, u64) {
    (uri.to_string(), expires)
}

fn register_ok(r: &Registrar, req: Req, now: u64) -> Vec<(String, u64)> {
    let resp = r.answer(&req.build(), now);
    resp.expect(200, "OK");
    resp.bindings()
}

// ---------------------------------------------------------------- step 1

#[test]
fn step1_request_uri_domain_not_served_is_404() {
    let r = registrar();
    let req = Req::register()
        .ruri("sip:other.org")
        .to("<sip:alice@other.org>")
        .contact("<sip:alice@192.0.2.10>");
    r.answer(&req.build(), T0)
        .expect(404, "Domain Not Served Here");
    assert!(query_to(&r, "<sip:alice@example.com>", T0).is_empty());
}

#[test]
fn step1_request_uri_with_userinfo_is_400() {
    let r = registrar();
    let req = Req::register()
        .ruri("sip:alice@example.com")
        .contact("<sip:alice@192.0.2.10>");
    r.answer(&req.build(), T0)
        .expect(400, "Request-URI Must Not Contain User Info");
    assert!(query(&r, T0).is_empty());
}

#[test]
fn step1_request_uri_with_other_scheme_is_416() {
    let r = registrar();
    for ruri in ["tel:+15551234567", "mailto:alice@example.com"] {
        let req = Req::register().ruri(ruri).contact("<sip:alice@192.0.2.10>");
        r.answer(&req.build(), T0)
            .expect(416, "Unsupported URI Scheme");
    }
    assert!(query(&r, T0).is_empty());
}

#[test]
fn step1_request_uri_naming_the_server_accepts_a_served_to_domain() {
    let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let r = Registrar::with_local(std_config(), local);
    let from: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    let req = Req::register()
        .ruri("sip:127.0.0.1")
        .via("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-own")
        .contact("<sip:alice@127.0.0.1:5070>");
    let resp = r.send_from(&req.build(), from, T0).unwrap();
    resp.expect(200, "OK");
    assert_eq!(resp.bindings(), vec![b("sip:alice@127.0.0.1:5070", 3600)]);

    // The server's address does not make every To domain acceptable.
    let req = Req::register()
        .ruri("sip:127.0.0.1")
        .via("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-own2")
        .to("<sip:alice@other.org>")
        .contact("<sip:alice@127.0.0.1:5070>");
    let resp = r.send_from(&req.build(), from, T0).unwrap();
    resp.expect(404, "Address-of-Record Not Valid For Domain");
}

#[test]
fn step1_empty_domain_list_serves_every_domain() {
    let mut cfg = std_config();
    cfg.domains.clear();
    let r = Registrar::new(cfg);
    let req = Req::register()
        .ruri("sip:anything.example.org")
        .to("<sip:bob@anything.example.org>")
        .contact("<sip:bob@192.0.2.10>");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:bob@192.0.2.10", 3600)]
    );
}

// ---------------------------------------------------------------- step 2

#[test]
fn step2_unknown_required_extension_is_420_listing_it() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>")
        .header("Require", "foo");
    let resp = r.answer(&req.build(), T0);
    resp.expect(420, "Bad Extension");
    assert_eq!(resp.named("Unsupported"), vec!["foo"]);

    // Only the unsupported one of several is named.
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>")
        .header("Require", "path, foo");
    let resp = r.answer(&req.build(), T0);
    resp.expect(420, "Bad Extension");
    assert_eq!(resp.named("Unsupported"), vec!["foo"]);
    assert!(query(&r, T0).is_empty());
}

#[test]
fn step2_require_path_is_accepted() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>")
        .header("Require", "path");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 3600)]
    );
}

// ---------------------------------------------------------------- step 5

#[test]
fn step5_to_with_tel_scheme_is_416() {
    let r = registrar();
    let req = Req::register()
        .to("<tel:+15551234567>")
        .contact("<sip:alice@192.0.2.10>");
    let resp = r.answer(&req.build(), T0);
    assert_eq!(resp.status(), 416, "{}", resp.text());
}

#[test]
fn step5_to_domain_differing_from_request_uri_is_404() {
    let r = registrar();
    let req = Req::register()
        .to("<sip:alice@other.org>")
        .contact("<sip:alice@192.0.2.10>");
    r.answer(&req.build(), T0)
        .expect(404, "Address-of-Record Not Valid For Domain");
    assert!(query(&r, T0).is_empty());
}

#[test]
fn step5_address_of_record_is_canonicalised() {
    let r = registrar();
    let req = Req::register()
        .to("<sip:%61lice@EXAMPLE.com;user=phone>")
        .contact("<sip:alice@192.0.2.10>");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 3600)]
    );
    assert_eq!(
        query_to(&r, "sip:alice@example.com", T0),
        vec![b("sip:alice@192.0.2.10", 3600)]
    );
    // Another user of the same domain is another AOR.
    assert!(query_to(&r, "<sip:bob@example.com>", T0).is_empty());
}

// ---------------------------------------------------------------- step 6

fn two_bindings(r: &Registrar) {
    let req = Req::register()
        .cseq(1)
        .contact("<sip:alice@192.0.2.10>")
        .contact("<sip:alice@192.0.2.11>");
    assert_eq!(register_ok(r, req, T0).len(), 2);
}

#[test]
fn step6_star_with_expires_zero_removes_every_binding() {
    let r = registrar();
    two_bindings(&r);
    let req = Req::register().cseq(2).contact("*").expires("0");
    assert!(register_ok(&r, req, T0).is_empty());
    assert!(query(&r, T0).is_empty());
}

#[test]
fn step6_star_without_expires_zero_is_400() {
    let r = registrar();
    two_bindings(&r);
    r.answer(&Req::register().cseq(2).contact("*").build(), T0)
        .expect(400, "Contact * Requires Expires: 0");
    r.answer(
        &Req::register().cseq(3).contact("*").expires("3600").build(),
        T0,
    )
    .expect(400, "Contact * Requires Expires: 0");
    assert_eq!(query(&r, T0).len(), 2);
}

#[test]
fn step6_star_with_another_contact_is_400() {
    let r = registrar();
    two_bindings(&r);
    let req = Req::register()
        .cseq(2)
        .contact("*")
        .contact("<sip:alice@192.0.2.12>")
        .expires("0");
    r.answer(&req.build(), T0)
        .expect(400, "Contact * Must Be The Only Contact");
    let req = Req::register()
        .cseq(3)
        .contact("*, <sip:alice@192.0.2.12>")
        .expires("0");
    r.answer(&req.build(), T0)
        .expect(400, "Contact * Must Be The Only Contact");
    assert_eq!(query(&r, T0).len(), 2);
}

// ---------------------------------------------------------------- step 7: expiry

#[test]
fn step7_contact_expires_parameter_wins_over_expires_header() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>;expires=120")
        .expires("600");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 120)]
    );
}

#[test]
fn step7_expires_header_used_without_parameter() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>")
        .contact("<sip:alice@192.0.2.11>;expires=300")
        .expires("600");
    let mut got = register_ok(&r, req, T0);
    got.sort();
    assert_eq!(
        got,
        vec![
            b("sip:alice@192.0.2.10", 600),
            b("sip:alice@192.0.2.11", 300)
        ]
    );
}

#[test]
fn step7_default_expiry_without_parameter_or_header() {
    let r = registrar();
    let req = Req::register().contact("<sip:alice@192.0.2.10>");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 3600)]
    );
}

#[test]
fn step7_too_brief_expiry_is_423_with_min_expires() {
    let r = registrar();
    let resp = r.answer(
        &Req::register()
            .contact("<sip:alice@192.0.2.10>;expires=30")
            .build(),
        T0,
    );
    resp.expect(423, "Interval Too Brief");
    assert_eq!(resp.header(HeaderName::MinExpires), Some("60"));
    assert!(resp.contacts().is_empty());
    // Same through the Expires header.
    let resp = r.answer(
        &Req::register()
            .contact("<sip:alice@192.0.2.10>")
            .expires("59")
            .build(),
        T0,
    );
    resp.expect(423, "Interval Too Brief");
    assert_eq!(resp.header(HeaderName::MinExpires), Some("60"));
    assert!(query(&r, T0).is_empty());
    // The minimum itself is accepted.
    let req = Req::register()
        .cseq(2)
        .contact("<sip:alice@192.0.2.10>;expires=60");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 60)]
    );
}

#[test]
fn step7_long_expiry_is_clamped_to_maximum() {
    let r = registrar();
    let req = Req::register().contact("<sip:alice@192.0.2.10>;expires=100000");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 7200)]
    );
    // The binding really lives 7200 s, not 100000.
    assert_eq!(
        query(&r, T0 + 7199 * SEC),
        vec![b("sip:alice@192.0.2.10", 1)]
    );
    assert!(query(&r, T0 + 7200 * SEC).is_empty());
}

#[test]
fn step7_expires_zero_on_one_contact_removes_only_it() {
    let r = registrar();
    two_bindings(&r);
    let req = Req::register()
        .cseq(2)
        .contact("<sip:alice@192.0.2.10>;expires=0");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.11", 3600)]
    );
    // Through the Expires header too.
    let req = Req::register()
        .cseq(3)
        .contact("<sip:alice@192.0.2.11>")
        .expires("0");
    assert!(register_ok(&r, req, T0).is_empty());
    // Removing a contact that is not bound is not an error.
    let req = Req::register()
        .cseq(4)
        .contact("<sip:alice@192.0.2.99>;expires=0");
    assert!(register_ok(&r, req, T0).is_empty());
}

#[test]
fn step7_non_numeric_expiry_uses_the_default() {
    let r = registrar();
    let req = Req::register().contact("<sip:alice@192.0.2.10>;expires=soon");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 3600)]
    );
    let req = Req::register()
        .cseq(2)
        .contact("<sip:alice@192.0.2.11>")
        .expires("Thu, 01 Dec 2094 16:00:00 GMT");
    let mut got = register_ok(&r, req, T0);
    got.sort();
    assert_eq!(
        got,
        vec![
            b("sip:alice@192.0.2.10", 3600),
            b("sip:alice@192.0.2.11", 3600)
        ]
    );
}

#[test]
fn step7_huge_expiry_is_capped_then_clamped() {
    let r = registrar();
    let req = Req::register().contact("<sip:alice@192.0.2.10>;expires=99999999999");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 7200)]
    );
    let req = Req::register()
        .cseq(2)
        .contact("<sip:alice@192.0.2.11>")
        .expires("99999999999999999999");
    let mut got = register_ok(&r, req, T0);
    got.sort();
    assert_eq!(
        got,
        vec![
            b("sip:alice@192.0.2.10", 7200),
            b("sip:alice@192.0.2.11", 7200)
        ]
    );
}

#[test]
fn step7_listed_expiry_counts_down() {
    let r = registrar();
    register_ok(&r, Req::register().contact("<sip:alice@192.0.2.10>"), T0);
    assert_eq!(
        query(&r, T0 + 1000 * SEC),
        vec![b("sip:alice@192.0.2.10", 2600)]
    );
    assert_eq!(
        query(&r, T0 + 3000 * SEC + 500),
        vec![b("sip:alice@192.0.2.10", 600)]
    );
}

#[test]
fn step7_binding_is_gone_once_expired() {
    let r = registrar();
    register_ok(
        &r,
        Req::register().contact("<sip:alice@192.0.2.10>;expires=60"),
        T0,
    );
    assert_eq!(
        query(&r, T0 + 60 * SEC - 1),
        vec![b("sip:alice@192.0.2.10", 1)]
    );
    assert!(query(&r, T0 + 60 * SEC).is_empty());
    assert!(query(&r, T0 + 3600 * SEC).is_empty());
}

// ---------------------------------------------------------------- step 7: Call-ID / CSeq

#[test]
fn same_call_id_with_same_or_lower_cseq_is_rejected_and_changes_nothing() {
    let r = registrar();
    register_ok(
        &r,
        Req::register().cseq(5).contact("<sip:alice@192.0.2.10>"),
        T0,
    );
    for cseq in [5, 4, 1] {
        let req = Req::register()
            .cseq(cseq)
            .contact("<sip:alice@192.0.2.10>;expires=600");
        r.answer(&req.build(), T0 + 10 * SEC)
            .expect(400, "Out-of-Order CSeq For This Call-ID");
        let req = Req::register()
            .cseq(cseq)
            .contact("<sip:alice@192.0.2.10>;expires=0");
        r.answer(&req.build(), T0 + 10 * SEC)
            .expect(400, "Out-of-Order CSeq For This Call-ID");
    }
    assert_eq!(
        query(&r, T0 + 10 * SEC),
        vec![b("sip:alice@192.0.2.10", 3590)]
    );
}

#[test]
fn same_call_id_with_higher_cseq_updates() {
    let r = registrar();
    register_ok(
        &r,
        Req::register().cseq(5).contact("<sip:alice@192.0.2.10>"),
        T0,
    );
    let req = Req::register()
        .cseq(6)
        .contact("<sip:alice@192.0.2.10>;expires=600");
    assert_eq!(
        register_ok(&r, req, T0 + 10 * SEC),
        vec![b("sip:alice@192.0.2.10", 600)]
    );
    assert_eq!(
        query(&r, T0 + 20 * SEC),
        vec![b("sip:alice@192.0.2.10", 590)]
    );
}

#[test]
fn different_call_id_replaces_the_binding() {
    let r = registrar();
    register_ok(
        &r,
        Req::register()
            .call_id("first")
            .cseq(5)
            .contact("<sip:alice@192.0.2.10>"),
        T0,
    );
    // A new Call-ID (the UA rebooted) with a lower CSeq still replaces it.
    let req = Req::register()
        .call_id("second")
        .cseq(1)
        .contact("<sip:alice@192.0.2.10>;expires=600");
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 600)]
    );
    assert_eq!(query(&r, T0), vec![b("sip:alice@192.0.2.10", 600)]);
    // The binding now carries the new Call-ID: its CSeq 1 is now the bar.
    let req = Req::register()
        .call_id("second")
        .cseq(1)
        .contact("<sip:alice@192.0.2.10>");
    r.answer(&req.build(), T0)
        .expect(400, "Out-of-Order CSeq For This Call-ID");
    let stored = r.stored("sip:alice@example.com", T0);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].call_id, "second");
}

#[test]
fn star_with_same_call_id_and_lower_cseq_is_rejected_and_removes_nothing() {
    let r = registrar();
    let req = Req::register()
        .cseq(5)
        .contact("<sip:alice@192.0.2.10>")
        .contact("<sip:alice@192.0.2.11>");
    register_ok(&r, req, T0);
    let req = Req::register().cseq(4).contact("*").expires("0");
    r.answer(&req.build(), T0)
        .expect(400, "Out-of-Order CSeq For This Call-ID");
    assert_eq!(query(&r, T0).len(), 2);
    // From another Call-ID the same request removes everything.
    let req = Req::register()
        .call_id("other")
        .cseq(1)
        .contact("*")
        .expires("0");
    assert!(register_ok(&r, req, T0).is_empty());
}

// ---------------------------------------------------------------- max contacts

fn three_bindings(r: &Registrar) {
    let req = Req::register()
        .cseq(1)
        .contact("<sip:alice@192.0.2.1>")
        .contact("<sip:alice@192.0.2.2>")
        .contact("<sip:alice@192.0.2.3>");
    assert_eq!(register_ok(r, req, T0).len(), 3);
}

#[test]
fn fourth_contact_is_403_and_the_three_stay() {
    let r = registrar();
    three_bindings(&r);
    let req = Req::register().cseq(2).contact("<sip:alice@192.0.2.4>");
    let resp = r.answer(&req.build(), T0 + SEC);
    assert_eq!(resp.status(), 403, "{}", resp.text());
    assert!(resp.contacts().is_empty());
    let mut got = query(&r, T0 + SEC);
    got.sort();
    assert_eq!(
        got,
        vec![
            b("sip:alice@192.0.2.1", 3599),
            b("sip:alice@192.0.2.2", 3599),
            b("sip:alice@192.0.2.3", 3599)
        ]
    );
}

#[test]
fn four_contacts_in_one_request_are_403_and_none_is_stored() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.1>, <sip:alice@192.0.2.2>")
        .contact("<sip:alice@192.0.2.3>, <sip:alice@192.0.2.4>");
    assert_eq!(r.answer(&req.build(), T0).status(), 403);
    assert!(query(&r, T0).is_empty());
}

#[test]
fn refreshing_at_the_contact_limit_still_works() {
    let r = registrar();
    three_bindings(&r);
    let req = Req::register()
        .cseq(2)
        .contact("<sip:alice@192.0.2.1>;expires=600")
        .contact("<sip:alice@192.0.2.2>;expires=600")
        .contact("<sip:alice@192.0.2.3>;expires=600");
    let mut got = register_ok(&r, req, T0);
    got.sort();
    assert_eq!(
        got.iter().map(|(_, e)| *e).collect::<Vec<_>>(),
        vec![600, 600, 600]
    );
    // Swapping one contact for another in one request stays within the limit.
    let req = Req::register()
        .cseq(3)
        .contact("<sip:alice@192.0.2.3>;expires=0")
        .contact("<sip:alice@192.0.2.4>");
    let mut got = register_ok(&r, req, T0);
    got.sort();
    assert_eq!(
        got,
        vec![
            b("sip:alice@192.0.2.1", 600),
            b("sip:alice@192.0.2.2", 600),
            b("sip:alice@192.0.2.4", 3600)
        ]
    );
}

// ---------------------------------------------------------------- atomicity

#[test]
fn invalid_q_on_second_contact_rejects_the_whole_request() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>")
        .contact("<sip:alice@192.0.2.11>;q=2");
    r.answer(&req.build(), T0)
        .expect(400, "Bad Contact: Invalid q Value");
    assert!(query(&r, T0).is_empty());
}

#[test]
fn one_too_brief_contact_rejects_the_whole_request() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>;expires=600")
        .contact("<sip:alice@192.0.2.11>;expires=10");
    let resp = r.answer(&req.build(), T0);
    resp.expect(423, "Interval Too Brief");
    assert_eq!(resp.header(HeaderName::MinExpires), Some("60"));
    assert!(query(&r, T0).is_empty());
}

#[test]
fn out_of_order_contact_rejects_the_others_of_the_request() {
    let r = registrar();
    register_ok(
        &r,
        Req::register().cseq(5).contact("<sip:alice@192.0.2.10>"),
        T0,
    );
    let req = Req::register()
        .cseq(3)
        .contact("<sip:alice@192.0.2.11>")
        .contact("<sip:alice@192.0.2.10>;expires=0");
    r.answer(&req.build(), T0)
        .expect(400, "Out-of-Order CSeq For This Call-ID");
    assert_eq!(query(&r, T0), vec![b("sip:alice@192.0.2.10", 3600)]);
}

// ---------------------------------------------------------------- step 8: the 200 OK

#[test]
fn ok_lists_every_binding_with_expires_and_q() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.1>;q=0.5;expires=600")
        .contact("<sip:alice@192.0.2.2>;q=1")
        .contact("\"Desk\" <sip:alice@192.0.2.3;transport=tcp>;q=0.125");
    let resp = r.answer(&req.build(), T0);
    resp.expect(200, "OK");
    let mut got = resp.contacts();
    got.sort_by(|a, b| a.uri.cmp(&b.uri));
    assert_eq!(
        got,
        vec![
            Listed {
                uri: "sip:alice@192.0.2.1".into(),
                expires: Some(600),
                q: Some("0.5".into())
            },
            Listed {
                uri: "sip:alice@192.0.2.2".into(),
                expires: Some(3600),
                q: None
            },
            Listed {
                uri: "sip:alice@192.0.2.3;transport=tcp".into(),
                expires: Some(3600),
                q: Some("0.125".into())
            },
        ]
    );
    // A later query from another Call-ID sees all of them, q kept.
    let resp = r.answer(&Req::register().call_id("other").build(), T0 + SEC);
    resp.expect(200, "OK");
    let mut got = resp.contacts();
    got.sort_by(|a, b| a.uri.cmp(&b.uri));
    let summary: Vec<(Option<u64>, Option<String>)> =
        got.into_iter().map(|c| (c.expires, c.q)).collect();
    assert_eq!(
        summary,
        vec![
            (Some(599), Some("0.5".into())),
            (Some(3599), None),
            (Some(3599), Some("0.125".into()))
        ]
    );
}

#[test]
fn ok_carries_an_rfc1123_date() {
    let r = registrar();
    let resp = r.answer(
        &Req::register().contact("<sip:alice@192.0.2.10>").build(),
        T0,
    );
    resp.expect(200, "OK");
    assert_eq!(
        resp.header(HeaderName::Date),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    let resp = r.answer(
        &Req::register().call_id("q").build(),
        T0 + 86_400 * SEC + 999,
    );
    assert_eq!(
        resp.header(HeaderName::Date),
        Some("Wed, 15 Nov 2023 22:13:20 GMT")
    );
}

#[test]
fn ok_adds_a_to_tag_and_copies_from_call_id_cseq() {
    let r = registrar();
    let req = Req::register()
        .cseq(42)
        .call_id("abc-123@ua")
        .contact("<sip:alice@192.0.2.10>");
    let resp = r.answer(&req.build(), T0);
    resp.expect(200, "OK");
    let to = resp.header(HeaderName::To).unwrap();
    assert!(to.starts_with("<sip:alice@example.com>;tag="), "{to}");
    assert!(to.len() > "<sip:alice@example.com>;tag=".len());
    assert_eq!(
        resp.header(HeaderName::From),
        Some("\"Alice\" <sip:alice@example.com>;tag=from-1")
    );
    assert_eq!(resp.header(HeaderName::CallId), Some("abc-123@ua"));
    assert_eq!(resp.header(HeaderName::CSeq), Some("42 REGISTER"));
}

#[test]
fn ok_via_gets_received_and_rport_for_a_natted_ua() {
    let r = registrar();
    let nat: SocketAddr = "203.0.113.7:40123".parse().unwrap();
    let req = Req::register()
        .via("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-nat;rport")
        .contact("<sip:alice@10.0.0.5>");
    let resp = r.send_from(&req.build(), nat, T0).unwrap();
    resp.expect(200, "OK");
    assert_eq!(
        resp.header(HeaderName::Via),
        Some("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-nat;received=203.0.113.7;rport=40123")
    );
}

#[test]
fn ok_via_gets_received_only_when_sent_by_differs() {
    let r = registrar();
    // Matching sent-by, no rport: Via unchanged.
    let req = Req::register().via("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-same");
    let resp = r.answer(&req.build(), T0);
    assert_eq!(
        resp.header(HeaderName::Via),
        Some("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-same")
    );
    // A host name as sent-by: received added, no rport.
    let req = Req::register().via("SIP/2.0/UDP ua.example.com;branch=z9hG4bK-name");
    let resp = r.answer(&req.build(), T0);
    assert_eq!(
        resp.header(HeaderName::Via),
        Some("SIP/2.0/UDP ua.example.com;branch=z9hG4bK-name;received=192.0.2.10")
    );
    // Second Via lines are copied untouched.
    let raw = Req::register()
        .via("SIP/2.0/UDP 198.51.100.9;branch=z9hG4bK-proxy, SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-ua;rport")
        .build();
    let resp = r.answer(&raw, T0);
    assert_eq!(
        resp.header(HeaderName::Via),
        Some("SIP/2.0/UDP 198.51.100.9;branch=z9hG4bK-proxy;received=192.0.2.10, SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-ua;rport")
    );
}

#[test]
fn ok_does_not_echo_record_route() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>")
        .header("Record-Route", "<sip:proxy.example.com;lr>");
    let resp = r.answer(&req.build(), T0);
    resp.expect(200, "OK");
    assert!(
        resp.header(HeaderName::RecordRoute).is_none(),
        "{}",
        resp.text()
    );
}

#[test]
fn query_lists_bindings_and_changes_nothing() {
    let r = registrar();
    register_ok(
        &r,
        Req::register().cseq(5).contact("<sip:alice@192.0.2.10>"),
        T0,
    );
    // A query in the same Call-ID with an old CSeq is still just a query.
    let resp = r.answer(
        &Req::register().cseq(1).expires("0").build(),
        T0 + 100 * SEC,
    );
    resp.expect(200, "OK");
    assert_eq!(resp.bindings(), vec![b("sip:alice@192.0.2.10", 3500)]);
    assert!(resp.header(HeaderName::Date).is_some());
    let stored = r.stored("sip:alice@example.com", T0);
    assert_eq!(
        (stored.len(), stored[0].cseq, stored[0].expires_at_ms),
        (1, 5, T0 + 3600 * SEC)
    );
    // And the next real refresh from that Call-ID still needs CSeq > 5.
    let req = Req::register().cseq(5).contact("<sip:alice@192.0.2.10>");
    r.answer(&req.build(), T0 + 100 * SEC)
        .expect(400, "Out-of-Order CSeq For This Call-ID");
}

#[test]
fn path_is_echoed_when_the_ua_supports_it() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>")
        .header("Path", "<sip:edge1.example.com;lr>")
        .header("Path", "<sip:edge2.example.com;lr>")
        .header("Supported", "outbound, path");
    let resp = r.answer(&req.build(), T0);
    resp.expect(200, "OK");
    let paths: Vec<&str> = resp.msg.header_values(HeaderName::Path).collect();
    assert_eq!(
        paths,
        vec!["<sip:edge1.example.com;lr>", "<sip:edge2.example.com;lr>"]
    );
    let stored = r.stored("sip:alice@example.com", T0);
    assert_eq!(
        stored[0].path,
        vec!["<sip:edge1.example.com;lr>", "<sip:edge2.example.com;lr>"]
    );

    // Without Supported: path the response carries no Path (RFC 3327 §5.3).
    let req = Req::register()
        .cseq(2)
        .contact("<sip:alice@192.0.2.10>")
        .header("Path", "<sip:edge1.example.com;lr>");
    let resp = r.answer(&req.build(), T0);
    resp.expect(200, "OK");
    assert!(resp.header(HeaderName::Path).is_none());
}

// ---------------------------------------------------------------- §19.1.4 contact equivalence

#[test]
fn equivalent_contact_refreshes_the_binding() {
    let r = registrar();
    register_ok(
        &r,
        Req::register()
            .cseq(1)
            .contact("<sip:a@10.0.0.1:5060;transport=udp>"),
        T0,
    );
    let req = Req::register()
        .cseq(2)
        .contact("<sip:a@10.0.0.1:5060;TRANSPORT=UDP>;expires=600");
    let got = register_ok(&r, req, T0);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, 600);
    assert_eq!(query(&r, T0).len(), 1);
}

#[test]
fn contact_with_and_without_default_port_are_two_bindings() {
    let r = registrar();
    register_ok(&r, Req::register().cseq(1).contact("<sip:a@10.0.0.1>"), T0);
    let got = register_ok(
        &r,
        Req::register().cseq(2).contact("<sip:a@10.0.0.1:5060>"),
        T0,
    );
    let mut got: Vec<String> = got.into_iter().map(|(u, _)| u).collect();
    got.sort();
    assert_eq!(got, vec!["sip:a@10.0.0.1", "sip:a@10.0.0.1:5060"]);
}

// ---------------------------------------------------------------- other methods and malformed requests

#[test]
fn options_is_200_with_allow_and_supported() {
    let r = registrar();
    let resp = r.answer(&Req::new("OPTIONS", "sip:example.com").build(), T0);
    resp.expect(200, "OK");
    let allow: Vec<&str> = resp.msg.header_values(HeaderName::Allow).collect();
    assert!(
        allow.contains(&"REGISTER") && allow.contains(&"OPTIONS"),
        "{allow:?}"
    );
    let supported: Vec<&str> = resp.msg.header_values(HeaderName::Supported).collect();
    assert_eq!(supported, vec!["path"]);
}

/// RFC 3261 §8.2.2.3: every request the server answers itself gets 420
/// for an extension it requires and the server does not support.
#[test]
fn options_requiring_an_unsupported_extension_is_420() {
    let r = registrar();
    let req = Req::new("OPTIONS", "sip:example.com").header("Require", "nothingSupportedHere");
    let resp = r.answer(&req.build(), T0);
    resp.expect(420, "Bad Extension");
    assert_eq!(
        resp.header(HeaderName::Unsupported),
        Some("nothingSupportedHere")
    );
    let req = Req::new("OPTIONS", "sip:example.com").header("Require", "path");
    r.answer(&req.build(), T0).expect(200, "OK");
}

/// §8.2: the method is inspected first, so a method the server does not
/// handle is 405 (or 501) whatever it requires; CANCEL ignores Require.
#[test]
fn the_method_comes_before_require_and_cancel_ignores_it() {
    let r = registrar();
    let req = Req::new("INVITE", "sip:example.com").header("Require", "foo");
    r.answer(&req.build(), T0).expect(405, "Method Not Allowed");
    let req = Req::new("FROBNICATE", "sip:example.com").header("Require", "foo");
    r.answer(&req.build(), T0).expect(501, "Not Implemented");
    let req = Req::new("CANCEL", "sip:example.com").header("Require", "foo");
    r.answer(&req.build(), T0)
        .expect(481, "Call/Transaction Does Not Exist");
}

#[test]
fn invite_is_405_with_allow() {
    let r = registrar();
    // For the server itself (no user part): an INVITE for an AOR is routed.
    let resp = r.answer(&Req::new("INVITE", "sip:example.com").build(), T0);
    resp.expect(405, "Method Not Allowed");
    let allow: Vec<&str> = resp.msg.header_values(HeaderName::Allow).collect();
    assert_eq!(allow, vec!["REGISTER", "OPTIONS"]);
}

#[test]
fn ack_is_ignored() {
    let r = registrar();
    assert!(r
        .send(&Req::new("ACK", "sip:alice@example.com").build(), T0)
        .is_none());
}

#[test]
fn missing_call_id_is_400_naming_it() {
    let r = registrar();
    let req = Req::register()
        .no_call_id()
        .contact("<sip:alice@192.0.2.10>");
    r.answer(&req.build(), T0)
        .expect(400, "Missing Call-ID Header");
    assert!(query(&r, T0).is_empty());
}

#[test]
fn cseq_method_mismatch_is_400() {
    let r = registrar();
    let req = Req::register()
        .cseq_raw("1 INVITE")
        .contact("<sip:alice@192.0.2.10>");
    r.answer(&req.build(), T0)
        .expect(400, "CSeq Method Does Not Match Request Method");
    assert!(query(&r, T0).is_empty());
}

#[test]
fn unknown_method_is_501_with_allow() {
    let r = registrar();
    // For the server itself (no user part): a request for an AOR is routed.
    let resp = r.answer(&Req::new("FROBNICATE", "sip:example.com").build(), T0);
    resp.expect(501, "Not Implemented");
    assert!(resp.msg.header(HeaderName::Allow).is_some());
}

#[test]
fn a_contact_listed_twice_in_one_register_is_not_out_of_order_with_itself() {
    let r = registrar();
    let req = Req::register()
        .contact("<sip:alice@192.0.2.10>;expires=600")
        .contact("<sip:alice@192.0.2.10>;expires=900");
    // The later value wins, as applying the contacts in order gives.
    assert_eq!(
        register_ok(&r, req, T0),
        vec![b("sip:alice@192.0.2.10", 900)]
    );
}

#[test]
fn rfc2543_action_is_stored_and_listed() {
    let r = registrar();
    let resp = r.answer(
        &Req::register()
            .contact("<sip:alice@192.0.2.10:5062>;action=redirect")
            .build(),
        T0,
    );
    resp.expect(200, "OK");
    let contact = resp.header(HeaderName::Contact).unwrap();
    assert!(contact.contains(";action=redirect"), "{contact}");
    let stored = r.stored("sip:alice@example.com", T0);
    assert_eq!(
        stored[0].action,
        Some(location_model::ContactAction::Redirect)
    );
}

#[test]
fn rfc2543_action_differing_from_the_current_bindings_is_409_and_changes_nothing() {
    let r = registrar();
    register_ok(
        &r,
        Req::register().contact("<sip:alice@192.0.2.10:5062>;action=proxy"),
        T0,
    );
    r.answer(
        &Req::register()
            .call_id("other")
            .contact("<sip:alice@192.0.2.11:5062>;action=redirect")
            .build(),
        T0,
    )
    .expect(
        409,
        "Conflict: Contacts Mix action=proxy And action=redirect",
    );
    assert_eq!(query(&r, T0), vec![b("sip:alice@192.0.2.10:5062", 3600)]);
    // Contacts of one request mixing both values conflict too.
    r.answer(
        &Req::register()
            .call_id("third")
            .contact("<sip:alice@192.0.2.12:5062>;action=proxy")
            .contact("<sip:alice@192.0.2.13:5062>;action=redirect")
            .build(),
        T0,
    )
    .expect(
        409,
        "Conflict: Contacts Mix action=proxy And action=redirect",
    );
    // The same value, or none at all, is accepted.
    register_ok(
        &r,
        Req::register()
            .call_id("fourth")
            .contact("<sip:alice@192.0.2.14:5062>;action=proxy")
            .contact("<sip:alice@192.0.2.15:5062>"),
        T0,
    );
    assert_eq!(query(&r, T0).len(), 3);
}

#[test]
fn rfc2543_action_with_an_unknown_value_is_400() {
    let r = registrar();
    r.answer(
        &Req::register()
            .contact("<sip:alice@192.0.2.10:5062>;action=teleport")
            .build(),
        T0,
    )
    .expect(400, "Bad Contact: Invalid action Value");
}
