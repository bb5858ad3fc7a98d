//! End-to-end: the real server over loopback UDP and TCP.

mod common;

use common::*;
use std::net::{IpAddr, Ipv6Addr, UdpSocket};
use std::time::Duration;

#[test]
fn register_query_refresh_and_remove_over_udp() {
    let locus = Locus::start(&[]);
    let c = UdpClient::new(locus.udp_addr());
    let mut reg = Register::new("alice");
    reg.expires = Some("600".into());
    let r = c.request(&reg.build());
    assert_eq!(r.code, 200, "{}", r.raw);
    assert_eq!(
        r.contacts(),
        vec![("sip:alice@192.0.2.10:5062".to_string(), 600)]
    );
    assert!(r.header("Date").unwrap().ends_with("GMT"));
    assert!(r.header("To").unwrap().contains(";tag="));
    let via = r.header("Via").unwrap();
    assert!(via.contains("received=127.0.0.1"), "{via}");
    assert!(
        via.contains(&format!("rport={}", c.sock.local_addr().unwrap().port())),
        "{via}"
    );

    // A second device.
    let mut second = Register::new("alice");
    second.contacts = vec!["<sip:alice@192.0.2.11:5060>;q=0.5".into()];
    let r = c.request(&second.build());
    assert_eq!(r.code, 200);
    assert_eq!(r.contacts().len(), 2);
    assert!(r.raw.contains("q=0.5"));

    // Query: no Contact, nothing changes.
    let mut q = Register::new("alice");
    q.contacts.clear();
    let r = c.request(&q.build());
    assert_eq!(r.contacts().len(), 2);

    // Remove the first one.
    reg.cseq += 1;
    reg.expires = Some("0".into());
    let r = c.request(&reg.build());
    assert_eq!(r.code, 200);
    assert_eq!(
        r.contacts(),
        vec![("sip:alice@192.0.2.11:5060".to_string(), 3600)]
    );

    // Remove all.
    let mut all = Register::new("alice");
    all.contacts = vec!["*".into()];
    all.expires = Some("0".into());
    let r = c.request(&all.build());
    assert_eq!(r.code, 200);
    assert!(r.contacts().is_empty());
}

#[test]
fn register_over_tcp_reuses_the_connection() {
    let locus = Locus::start(&[]);
    let mut t = TcpClient::connect(locus.tcp_addr());
    let mut reg = Register::new("bob");
    reg.transport = "TCP";
    reg.contacts = vec!["<sip:bob@192.0.2.20:5060;transport=tcp>".into()];
    let r = t.request(&reg.build());
    assert_eq!(r.code, 200, "{}", r.raw);
    // Two requests written back to back, and CRLF keep-alives between them.
    reg.cseq += 1;
    let a = reg.build();
    reg.cseq += 1;
    let b = reg.build();
    t.send(format!("{a}\r\n\r\n{b}").as_bytes());
    let mut codes = vec![];
    // The keep-alive ping is answered with a bare CRLF, which read_response skips.
    for _ in 0..2 {
        codes.push(t.read_response().code);
    }
    assert_eq!(codes, vec![200, 200]);
    let (_, table) = bindings_cmd(&locus.data_dir, Some("bob@example.com"));
    assert!(
        table.contains("sip:bob@192.0.2.20:5060;transport=tcp"),
        "{table}"
    );
    assert!(table.contains("tcp"), "{table}");
}

/// RFC 3261 §21.5.14: a message over the size limits gets 513, and a
/// stream stays usable for the next message (the rest of the oversized
/// one is read and discarded).
#[test]
fn oversized_messages_get_513_and_the_stream_goes_on() {
    let locus = Locus::start(&[]);
    let big_header = format!("X-Padding: {}\r\n", "a".repeat(40_000));
    let mut reg = Register::new("dora");
    reg.transport = "TCP";
    // A 40 KB header line, in a message under the size limit.
    let mut t = TcpClient::connect(locus.tcp_addr());
    let r = t.request(
        &reg.build()
            .replacen("\r\n", &format!("\r\n{big_header}"), 1),
    );
    assert_eq!(
        (r.code, r.reason.as_str()),
        (513, "Message Too Large"),
        "{}",
        r.raw
    );
    // A message over the size limit (a 100 KB body), then a normal one on
    // the same connection.
    reg.cseq += 1;
    let body = "b".repeat(100_000);
    let huge = reg.build().replace(
        "Content-Length: 0",
        &format!("Content-Length: {}", body.len()),
    ) + &body;
    t.send(huge.as_bytes());
    let r = t.read_response();
    assert_eq!(r.code, 513, "{}", r.raw);
    reg.cseq += 1;
    let r = t.request(&reg.build());
    assert_eq!(r.code, 200, "{}", r.raw);
    // Over UDP too.
    let c = UdpClient::new(locus.udp_addr());
    let mut reg = Register::new("dora-udp");
    reg.cseq = 1;
    let r = c.request(
        &reg.build()
            .replacen("\r\n", &format!("\r\n{big_header}"), 1),
    );
    assert_eq!(r.code, 513, "{}", r.raw);
}

#[test]
fn policy_rejections_change_nothing() {
    let locus = Locus::start(&["--max-contacts", "2"]);
    let c = UdpClient::new(locus.udp_addr());
    let mut reg = Register::new("carol");
    reg.expires = Some("30".into());
    let r = c.request(&reg.build());
    assert_eq!(r.code, 423);
    assert_eq!(r.header("Min-Expires").as_deref(), Some("60"));
    reg.expires = Some("100000".into());
    let r = c.request(&reg.build());
    assert_eq!(r.contacts()[0].1, 7200, "clamped to --max-expires");
    // Same Call-ID, same CSeq again (a replay): rejected.
    let r = c.request(&reg.build());
    assert_eq!(r.code, 400);
    assert!(r.reason.contains("CSeq"), "{}", r.reason);
    // Max contacts.
    let mut more = Register::new("carol");
    more.contacts = vec!["<sip:c2@192.0.2.1>".into(), "<sip:c3@192.0.2.1>".into()];
    let r = c.request(&more.build());
    assert_eq!(r.code, 403, "{}", r.raw);
    let mut q = Register::new("carol");
    q.contacts.clear();
    assert_eq!(c.request(&q.build()).contacts().len(), 1);
    // Domain not served; userinfo in the Request-URI; unsupported extension.
    let mut other = Register::new("dave");
    other.ruri = "sip:elsewhere.org".into();
    other.aor = "sip:dave@elsewhere.org".into();
    assert_eq!(c.request(&other.build()).code, 404);
    let mut ui = Register::new("dave");
    ui.ruri = "sip:dave@example.com".into();
    assert_eq!(c.request(&ui.build()).code, 400);
    let mut req = Register::new("dave");
    req.extra.push("Require: frobnicate".into());
    let r = c.request(&req.build());
    assert_eq!(r.code, 420);
    assert_eq!(r.header("Unsupported").as_deref(), Some("frobnicate"));
}

#[test]
fn retransmission_is_answered_from_the_transaction() {
    let locus = Locus::start(&[]);
    let c = UdpClient::new(locus.udp_addr());
    let reg = Register::new("erin").build();
    let first = c.request(&reg);
    let again = c.request(&reg);
    assert_eq!(first.raw, again.raw, "same bytes for a retransmission");
    assert_eq!(first.code, 200);
}

#[test]
fn options_and_other_methods() {
    let locus = Locus::start(&[]);
    let c = UdpClient::new(locus.udp_addr());
    let opt = format!(
        "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch={};rport\r\n\
         From: <sip:x@example.com>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: {}\r\nCSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        unique("z9hG4bK"),
        unique("o")
    );
    let r = c.request(&opt);
    assert_eq!(r.code, 200);
    assert!(r.header("Allow").unwrap().contains("REGISTER"));
    assert!(r.header("Supported").is_some());
    // An INVITE for the server itself is not something it accepts...
    let inv = opt
        .replace("OPTIONS sip:example.com", "INVITE sip:example.com")
        .replace("1 OPTIONS", "1 INVITE");
    let r = c.request(&inv);
    assert_eq!(r.code, 405);
    assert!(r.header("Allow").is_some());
    // ...while one for an AOR is routed: without bindings, 480.
    let inv = opt
        .replace("OPTIONS sip:example.com", "INVITE sip:alice@example.com")
        .replace("1 OPTIONS", "1 INVITE")
        .replace("branch=z9hG4bK", "branch=z9hG4bKinv");
    let r = c.request(&inv);
    assert_eq!(
        (r.code, r.reason.as_str()),
        (480, "Temporarily Unavailable")
    );
}

#[test]
fn malformed_messages_get_400_naming_the_defect_and_the_server_keeps_serving() {
    let locus = Locus::start(&[]);
    let c = UdpClient::new(locus.udp_addr());
    // Each case is built from a fresh request (a fresh branch): reusing one
    // branch would rightly be answered from the first case's transaction.
    let good = || Register::new("frank").build();
    let cases: Vec<(String, u16, &str)> = vec![
        (
            good()
                .replace("Call-ID: ", "Call-ID")
                .replacen("Call-ID", "Bogus Header", 1),
            400,
            "Header",
        ),
        (
            good().replace("CSeq: 1 REGISTER", "CSeq: 1 INVITE"),
            400,
            "CSeq",
        ),
        (
            good().replace("Content-Length: 0", "Content-Length: 50"),
            400,
            "Content-Length",
        ),
        (
            good().replace("To: <sip:frank@example.com>", "To: <sip:frank@example.com"),
            400,
            "Name-Addr",
        ),
        (
            good().replace("\r\nCall-ID: ", "\r\nX-No-Call-ID: "),
            400,
            "Call-ID",
        ),
        (
            good().replace("CSeq: 1 REGISTER", "CSeq: 99999999999 REGISTER"),
            400,
            "CSeq",
        ),
        (
            good().replace(
                "Max-Forwards: 70",
                "Max-Forwards: 70\r\nContact: <sip:x@[::1>",
            ),
            400,
            "Host",
        ),
        (
            good().replace(
                "REGISTER sip:example.com SIP",
                "REGISTER sip:example.com?Route=x SIP",
            ),
            400,
            "Headers",
        ),
        (
            good().replace(
                "REGISTER sip:example.com SIP",
                "REGISTER sip:exa mple.com SIP",
            ),
            400,
            "Start Line",
        ),
        (
            good().replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia"),
            505,
            "Version",
        ),
    ];
    for (msg, code, word) in cases {
        let r = c
            .send_raw(msg.as_bytes())
            .unwrap_or_else(|| panic!("no answer to:\n{msg}"));
        assert_eq!(r.code, code, "{msg}\n=> {}", r.raw);
        assert!(
            r.reason.contains(word),
            "reason {:?} should name {word}",
            r.reason
        );
        let ok = c.request(&Register::new("frank").build());
        assert_eq!(ok.code, 200);
    }
    // Garbage without a Via cannot be answered, and does not hurt.
    assert!(c.send_raw(b"\x00\x01garbage\r\n\r\n").is_none());
    assert_eq!(c.request(&Register::new("frank").build()).code, 200);
}

#[test]
fn response_goes_to_the_via_port_without_rport() {
    let locus = Locus::start(&[]);
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let sender = UdpClient::new(locus.udp_addr());
    let mut reg = Register::new("gina");
    reg.rport = false;
    reg.via_host = format!("127.0.0.1:{port}");
    sender
        .sock
        .send_to(reg.build().as_bytes(), locus.udp_addr())
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = listener
        .recv_from(&mut buf)
        .expect("response at the Via sent-by port (RFC 3261 §18.2.2)");
    let r = Response::parse(&String::from_utf8_lossy(&buf[..n]));
    assert_eq!(r.code, 200);
}

#[test]
fn idle_tcp_connection_is_closed() {
    let locus = Locus::start(&["--tcp-idle-timeout", "1"]);
    let mut t = TcpClient::connect(locus.tcp_addr());
    let mut buf = [0u8; 16];
    use std::io::Read;
    let n = t
        .stream
        .read(&mut buf)
        .expect("the server closes the idle connection");
    assert_eq!(n, 0);
}

#[test]
fn ipv6_loopback_listener() {
    if UdpSocket::bind("[::1]:0").is_err() {
        panic!("IPv6 loopback is not available on this machine");
    }
    let tmp = tempfile::tempdir().unwrap();
    let locus = Locus::start_in(
        &tmp.path().join("d"),
        &["--listen", "udp:[::1]:0", "--listen", "tcp:[::1]:0"],
    );
    let v6 = IpAddr::from(Ipv6Addr::LOCALHOST);
    let (udp, tcp) = (locus.listener("udp", v6), locus.listener("tcp", v6));
    assert_ne!(udp.port(), 0);
    assert!(
        locus
            .stdout_lines
            .iter()
            .any(|l| l.contains(&format!("udp:{udp}"))),
        "{:?}",
        locus.stdout_lines
    );
    let sock = UdpSocket::bind("[::1]:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reg = Register::new("v6");
    reg.via_host = "[::1]:5062".into();
    reg.contacts = vec!["<sip:v6@[2001:db8::7]:5062>".into()];
    sock.send_to(reg.build().as_bytes(), udp).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock
        .recv_from(&mut buf)
        .expect("a response from the IPv6 listener");
    let r = Response::parse(&String::from_utf8_lossy(&buf[..n]));
    assert_eq!(r.code, 200, "{}", r.raw);
    assert!(
        r.header("Via").unwrap().contains("received=::1"),
        "{}",
        r.raw
    );
    assert_eq!(r.contacts()[0].0, "sip:v6@[2001:db8::7]:5062");
    let mut t = TcpClient::connect(tcp);
    reg.transport = "TCP";
    reg.cseq = 2;
    assert_eq!(t.request(&reg.build()).code, 200);
}
