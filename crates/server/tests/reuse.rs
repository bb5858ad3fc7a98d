//! Connection reuse (RFC 3261 §18.1.1, §18.2.2): answers go back on the
//! connection their request came on, and a request for a UA that
//! registered over TCP goes out on the connection it registered on, even
//! when its contact names an address where it does not listen.

mod common;

use common::{Request, TcpUa, TestServer, UdpUa, DOMAIN};

#[test]
fn answers_go_back_on_the_connection_the_request_came_on() {
    let server = TestServer::start();
    let mut first = TcpUa::connect(server.tcp);
    let mut second = TcpUa::connect(server.tcp);
    // Both Vias name the same address, where nobody listens: only the
    // connection tells the two requests apart.
    let via = "192.0.2.30:5060";
    let a = Request::options().via("TCP", via, false);
    let b = Request::options().via("TCP", via, false);
    first.send(&a.bytes());
    second.send(&b.bytes());
    // Read the second connection first: the answer there must be its own.
    let on_second = second.read_final();
    assert_eq!(
        on_second.branch(),
        Some(b.branch.as_str()),
        "{}",
        on_second.text()
    );
    let on_first = first.read_final();
    assert_eq!(
        on_first.branch(),
        Some(a.branch.as_str()),
        "{}",
        on_first.text()
    );
    for r in [&on_first, &on_second] {
        assert_eq!(r.status(), Some(200), "{}", r.text());
    }
    server.stop();
}

#[test]
fn an_invite_for_a_tcp_registered_ua_arrives_on_its_registration_connection() {
    let server = TestServer::start();

    // Bob registers over TCP. His contact (and Via) name a documentation
    // address: he listens nowhere, so his connection is the only way in.
    let mut bob = TcpUa::connect(server.tcp);
    let contact = "sip:bob@192.0.2.20:5099;transport=tcp";
    let register = Request::register("bob", contact).via("TCP", "192.0.2.20:5099", false);
    let ok = bob.request(&register.bytes());
    assert_eq!(ok.status(), Some(200), "{}", ok.text());
    assert!(
        ok.headers("Contact")
            .iter()
            .any(|c| c.contains(&format!("<{contact}>"))),
        "{}",
        ok.text()
    );

    // Alice calls him over UDP.
    let alice = UdpUa::new();
    let aor = format!("sip:bob@{DOMAIN}");
    let mut invite = Request::new("INVITE", &aor, &aor);
    invite.sent_by = alice.addr().to_string();
    invite.contact = Some(format!("<sip:alice@{}>", alice.addr()));
    alice.send(&invite.bytes(), server.udp);

    // The INVITE comes down Bob's registration connection, for his contact.
    let forwarded = bob.read_message();
    assert_eq!(forwarded.method(), Some("INVITE"), "{}", forwarded.text());
    assert_eq!(
        forwarded.request_uri(),
        Some(contact),
        "{}",
        forwarded.text()
    );
    assert_eq!(
        forwarded.header("Call-ID"),
        Some(invite.call_id.as_str()),
        "{}",
        forwarded.text()
    );
    let vias = forwarded.headers("Via");
    assert!(
        vias.len() == 2 && vias[0].starts_with("SIP/2.0/TCP ") && vias[1].contains(&invite.branch),
        "the proxy's Via over Alice's: {vias:?}"
    );
    let proxy_branch = forwarded
        .branch()
        .unwrap_or_else(|| panic!("no branch in {}", forwarded.text()))
        .to_string();

    // Bob declines on the same connection; Alice gets his answer.
    bob.send(&forwarded.answer(486, "Busy Here", "bob-tag"));
    let busy = alice.expect(&invite.branch, |m| m.status().is_some_and(|c| c >= 200));
    assert_eq!(busy.status(), Some(486), "{}", busy.text());
    assert!(
        busy.header("To").is_some_and(|t| t.contains("tag=bob-tag")),
        "{}",
        busy.text()
    );
    // The proxy acknowledges Bob's 486 itself (§17.1.1.3), on the same
    // connection, for its own branch.
    let ack = bob.read_message();
    assert_eq!(ack.method(), Some("ACK"), "{}", ack.text());
    assert_eq!(ack.branch(), Some(proxy_branch.as_str()), "{}", ack.text());
    server.stop();
}
