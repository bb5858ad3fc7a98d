//! The node handle operations steer the running server with: metrics that
//! follow what UAs did, draining, reload and the feed of changes, observed
//! through real loopback sockets.

mod common;

use common::{config, poll_until, Request, TestServer, UdpUa, WAIT};
use location::{LocationStore, MemoryStore};
use server::Change;
use std::sync::Arc;

fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
}

#[test]
fn metrics_count_registrations_time_them_and_show_the_store() {
    let server = TestServer::start();
    let ua = UdpUa::new();
    for user in ["m1", "m2", "m3"] {
        let resp = ua.request(
            &Request::register(user, &format!("sip:{user}@192.0.2.10:5062")).bytes(),
            server.udp,
        );
        assert_eq!(resp.status(), Some(200), "{}", resp.text());
    }
    let bad = Request::register("m4", "*");
    assert_eq!(ua.request(&bad.bytes(), server.udp).status(), Some(400));
    // The 200 leaves before its event is counted: wait for the count.
    poll_until("three registrations counted", || {
        let text = server.node.encode_metrics();
        metric(&text, "locus_register_requests_total{result=\"ok\"}") == Some(3.0)
    });
    let text = server.node.encode_metrics();
    assert_eq!(
        metric(&text, "locus_register_requests_total{result=\"rejected\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "locus_register_duration_seconds_count"),
        Some(3.0)
    );
    assert_eq!(metric(&text, "locus_bindings"), Some(3.0));
    assert_eq!(metric(&text, "locus_aors"), Some(3.0));
    assert_eq!(metric(&text, "locus_draining"), Some(0.0));
    assert_eq!(
        metric(&text, "locus_transport_connections{transport=\"tcp\"}"),
        Some(0.0)
    );
    server.stop();
}

#[test]
fn a_draining_node_answers_503_is_not_ready_and_serves_again_after() {
    let server = TestServer::start();
    let ua = UdpUa::new();
    assert_eq!(server.block_on(server.node.ready()), Ok(()));
    server.node.set_draining(true);
    let resp = ua.request(
        &Request::register("d1", "sip:d1@192.0.2.10").bytes(),
        server.udp,
    );
    assert_eq!(resp.status(), Some(503), "{}", resp.text());
    assert_eq!(resp.header("Retry-After"), Some("5"));
    assert!(server.block_on(server.node.ready()).is_err());
    assert!(server.block_on(server.node.drained(WAIT)));
    server.node.set_draining(false);
    let resp = ua.request(
        &Request::register("d1", "sip:d1@192.0.2.10").bytes(),
        server.udp,
    );
    assert_eq!(resp.status(), Some(200), "{}", resp.text());
    server.stop();
}

#[test]
fn a_reload_applies_registrar_settings_and_reports_listeners() {
    let server = TestServer::start();
    let ua = UdpUa::new();
    let mut cfg = config();
    cfg.core.registrar.max_expires = 60;
    cfg.listen.pop();
    let reloaded = server.node.reload(cfg);
    assert_eq!(reloaded.restart_needed, vec!["listen".to_string()]);
    let resp = ua.request(
        &Request::register("r1", "sip:r1@192.0.2.10").bytes(),
        server.udp,
    );
    assert_eq!(resp.status(), Some(200), "{}", resp.text());
    let contact = resp.headers("Contact").join(",");
    assert!(contact.contains("expires=60"), "{contact}");
    // The listeners stayed: TCP still answers.
    let mut tcp = common::TcpUa::connect(server.tcp);
    let over_tcp = Request::register("r2", "sip:r2@192.0.2.10").via("TCP", "192.0.2.10:5060", true);
    tcp.send(&over_tcp.bytes());
    assert_eq!(tcp.read_final().status(), Some(200));
    server.stop();
}

#[test]
fn stored_changes_are_announced_to_subscribers() {
    let store = Arc::new(MemoryStore::new());
    let server = TestServer::start_with(config(), store.clone() as Arc<dyn LocationStore>);
    let mut changes = server.node.subscribe();
    let ua = UdpUa::new();
    let resp = ua.request(
        &Request::register("c1", "sip:c1@192.0.2.10:5062").bytes(),
        server.udp,
    );
    assert_eq!(resp.status(), Some(200), "{}", resp.text());
    let change = server
        .block_on(async { tokio::time::timeout(WAIT, changes.recv()).await })
        .expect("a change within the wait")
        .expect("no change missed");
    match change {
        Change::Stored { aor, bindings } => {
            assert_eq!(aor, "sip:c1@example.com");
            assert_eq!(bindings.len(), 1);
            assert_eq!(bindings[0].contact, "sip:c1@192.0.2.10:5062");
        }
        other => panic!("unexpected {other:?}"),
    }
    server.stop();
}
