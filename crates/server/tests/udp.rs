//! UDP receive and send: requests read from the server's UDP socket are
//! answered by the real endpoint, and the answers leave for the address
//! RFC 3261 §18.2.2 and RFC 3581 give.

mod common;

use common::{Request, TestServer, UdpUa, DOMAIN};
use location::MemoryStore;
use std::sync::Arc;

#[test]
fn register_gets_200_listing_the_binding_at_the_rport_source() {
    let server = TestServer::start();
    let ua = UdpUa::new();
    let contact = "sip:bob@192.0.2.10:5062";
    let req = Request::register("bob", contact);
    let resp = ua.request(&req.bytes(), server.udp);
    assert_eq!(resp.status(), Some(200), "{}", resp.text());
    let contacts = resp.headers("Contact");
    assert!(
        contacts
            .iter()
            .any(|c| c.contains(&format!("<{contact}>")) && c.contains("expires=")),
        "binding not listed: {}",
        resp.text()
    );
    // RFC 3581: the source port the request came from fills rport.
    let via = resp.header("Via").unwrap_or_default();
    assert!(
        via.contains(&format!("rport={}", ua.addr().port())) && via.contains("received=127.0.0.1"),
        "{via}"
    );
    assert_eq!(resp.header("Call-ID"), Some(req.call_id.as_str()));
    server.stop();
}

#[test]
fn without_rport_the_answer_goes_to_the_via_port_on_the_source_ip() {
    let server = TestServer::start();
    let sender = UdpUa::new();
    let listener = UdpUa::new();
    // The Via names a documentation address (never the answer's target:
    // §18.2.2 sends to the source IP) and the listener's port.
    let sent_by = format!("192.0.2.10:{}", listener.addr().port());
    let req = Request::register("carol", "sip:carol@192.0.2.10:5062").via("UDP", &sent_by, false);
    let resp = sender.request_answered_at(&req.bytes(), server.udp, &listener);
    assert_eq!(resp.status(), Some(200), "{}", resp.text());
    let via = resp.header("Via").unwrap_or_default();
    assert!(via.contains("received=127.0.0.1"), "{via}");
    assert!(!via.contains("rport"), "{via}");
    server.stop();
}

#[test]
fn a_retransmission_gets_the_identical_response() {
    let server = TestServer::start();
    let ua = UdpUa::new();
    let req = Request::register("dave", "sip:dave@192.0.2.10:5062");
    let bytes = req.bytes();
    let first = ua.request(&bytes, server.udp);
    assert_eq!(first.status(), Some(200), "{}", first.text());
    // The same datagram again (same branch): the transaction's response,
    // byte for byte, not a second registration with a new answer.
    let again = ua.request(&bytes, server.udp);
    assert_eq!(
        again.raw,
        first.raw,
        "{}\n---\n{}",
        first.text(),
        again.text()
    );
    // What processing it again would have given: the same Call-ID and
    // CSeq in a new transaction is refused (RFC 3261 §10.3 step 7), so the
    // 200 above came from the transaction, not from the registrar.
    let mut new_tx = req.clone();
    new_tx.branch = common::unique("z9hG4bK");
    let reprocessed = ua.request(&new_tx.bytes(), server.udp);
    assert_eq!(reprocessed.status(), Some(400), "{}", reprocessed.text());
    server.stop();
}

#[test]
fn options_gets_200() {
    let server = TestServer::start();
    let ua = UdpUa::new();
    let req = Request::options();
    let resp = ua.request(&req.bytes(), server.udp);
    assert_eq!(resp.status(), Some(200), "{}", resp.text());
    assert_eq!(resp.header("CSeq"), Some("1 OPTIONS"));
    assert!(
        resp.header("To").is_some_and(|t| t.contains(";tag=")),
        "{}",
        resp.text()
    );
    server.stop();
}

#[test]
fn a_malformed_datagram_with_a_via_gets_400_naming_the_defect() {
    let server = TestServer::start();
    let ua = UdpUa::new();
    let req = Request::options();
    let good = String::from_utf8(req.bytes()).expect("ASCII request");
    let bad = good.replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
    assert_ne!(bad, good);
    let resp = ua.request(bad.as_bytes(), server.udp);
    assert_eq!(resp.status(), Some(400), "{}", resp.text());
    assert_eq!(resp.reason(), "Malformed CSeq", "{}", resp.text());
    assert_eq!(resp.header("Call-ID"), Some(req.call_id.as_str()));
    server.stop();
}

#[test]
fn an_oversized_datagram_gets_513() {
    // The default limit (65,535 bytes) is above the largest UDP datagram
    // over IPv4, so this server is given a smaller one.
    let mut cfg = common::config();
    cfg.limits.max_message_size = 4096;
    let server = TestServer::start_with(cfg, Arc::new(MemoryStore::new()));
    let ua = UdpUa::new();
    let mut req = Request::new(
        "MESSAGE",
        &format!("sip:bob@{DOMAIN}"),
        &format!("sip:bob@{DOMAIN}"),
    );
    req.headers.push("Content-Type: text/plain".to_string());
    req.body = vec![b'x'; 6000];
    let bytes = req.bytes();
    assert!(bytes.len() > 4096);
    let resp = ua.request(&bytes, server.udp);
    assert_eq!(resp.status(), Some(513), "{}", resp.text());
    assert_eq!(resp.header("Call-ID"), Some(req.call_id.as_str()));
    // The server goes on serving that client.
    let ok = ua.request(&Request::options().bytes(), server.udp);
    assert_eq!(ok.status(), Some(200), "{}", ok.text());
    server.stop();
}
