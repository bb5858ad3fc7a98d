//! Shutdown: `Shutdown::trigger` makes `run` return `Ok(())`, every
//! registration acknowledged before is in the store afterwards, and the
//! server no longer answers on UDP nor keeps TCP connections open.

mod common;

use common::{Request, TcpUa, TestServer, UdpUa, DOMAIN, SILENCE};
use location::{LocationStore, SqliteStore};
use std::sync::{mpsc, Arc};
use std::time::Instant;

#[test]
fn registrations_acknowledged_before_shutdown_are_in_the_store_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path(), server::now_ms()).expect("open the store");
    let server = TestServer::start_with(common::config(), Arc::new(store));

    let udp_contact = "sip:erin@192.0.2.40:5062";
    let ok = UdpUa::new().request(&Request::register("erin", udp_contact).bytes(), server.udp);
    assert_eq!(ok.status(), Some(200), "{}", ok.text());
    let tcp_contact = "sip:erin@192.0.2.41:5062;transport=tcp";
    let ok = TcpUa::connect(server.tcp).request(
        &Request::register("erin", tcp_contact)
            .via("TCP", "192.0.2.41:5062", false)
            .bytes(),
    );
    assert_eq!(ok.status(), Some(200), "{}", ok.text());

    let stopped = server.stop();
    eprintln!(
        "run returned {:?} after the shutdown was triggered",
        stopped.took
    );
    drop(stopped);

    let aor = format!("sip:erin@{DOMAIN}");
    let mut on_disk: Vec<String> =
        location::read_bindings(dir.path(), Some(&aor), server::now_ms())
            .expect("read the bindings")
            .into_iter()
            .map(|b| b.contact)
            .collect();
    on_disk.sort();
    let mut expected = [udp_contact, tcp_contact];
    expected.sort();
    assert_eq!(on_disk, expected);

    // The store a restarted server opens holds them too.
    let reopened = SqliteStore::open(dir.path(), server::now_ms()).expect("reopen the store");
    let (tx, rx) = mpsc::channel();
    reopened.fetch(
        &aor,
        server::now_ms(),
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let snapshot = rx
        .recv_timeout(common::WAIT)
        .expect("the fetch completes")
        .expect("the fetch succeeds");
    assert_eq!(snapshot.bindings.len(), 2, "{:?}", snapshot.bindings);
}

#[test]
fn after_shutdown_udp_is_silent_and_tcp_connections_are_closed() {
    let server = TestServer::start();
    let (udp, tcp) = (server.udp, server.tcp);

    // Serving: UDP answers, one connection has carried a request, another
    // has sent nothing.
    let ua = UdpUa::new();
    let ok = ua.request(&Request::options().bytes(), udp);
    assert_eq!(ok.status(), Some(200), "{}", ok.text());
    let mut used = TcpUa::connect(tcp);
    let ok = used.request(
        &Request::options()
            .via("TCP", "192.0.2.10:5062", false)
            .bytes(),
    );
    assert_eq!(ok.status(), Some(200), "{}", ok.text());
    let mut idle = TcpUa::connect(tcp);

    let stopped = server.stop();
    eprintln!(
        "run returned {:?} after the shutdown was triggered",
        stopped.took
    );

    // The server closes both connections.
    used.expect_closed();
    idle.expect_closed();
    // A request to the UDP port gets no answer (the one bounded wait for
    // nothing: SILENCE).
    let options = Request::options();
    ua.send(&options.bytes(), udp);
    let answer = ua.recv_until(Instant::now() + SILENCE);
    assert!(
        answer.is_none(),
        "answered after shutdown: {}",
        answer.map(|(m, _)| m.text()).unwrap_or_default()
    );
    // And the listener accepts no new connection.
    let refused = std::net::TcpStream::connect_timeout(&tcp, common::WAIT);
    assert!(refused.is_err(), "connected to {tcp} after shutdown");
    // The UDP socket itself is released (by the server: its runtime is
    // still up), so the port can be bound again.
    common::poll_until("the UDP port to be free", || {
        std::net::UdpSocket::bind(udp).is_ok()
    });
    // Only now may the runtime go: every check above ran while whatever
    // the server might have left running could still run.
    drop(stopped);
}
