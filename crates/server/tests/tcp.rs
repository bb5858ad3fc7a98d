//! TCP framing (RFC 3261 §18.3): messages are cut out of the stream by
//! Content-Length whatever the writes were, CRLF keep-alives are answered,
//! an oversized message is answered 513 and skipped, and a stream that
//! cannot be framed is answered and closed.

mod common;

use common::{Request, TcpUa, TestServer};

/// An OPTIONS over TCP, its Via naming a documentation address (the
/// answer must come back on the connection, never go there).
fn options_tcp() -> Request {
    Request::options().via("TCP", "192.0.2.10:5062", false)
}

#[test]
fn two_requests_in_one_write_get_two_answers() {
    let server = TestServer::start();
    let mut ua = TcpUa::connect(server.tcp);
    let (a, b) = (options_tcp(), options_tcp());
    let mut both = a.bytes();
    both.extend_from_slice(&b.bytes());
    ua.send(&both);
    let answers = [ua.read_final(), ua.read_final()];
    let mut answered: Vec<&str> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status(), Some(200), "{}", r.text());
            r.branch().unwrap_or_default()
        })
        .collect();
    answered.sort_unstable();
    let mut asked = [a.branch.as_str(), b.branch.as_str()];
    asked.sort_unstable();
    assert_eq!(answered, asked);
    server.stop();
}

#[test]
fn a_request_split_across_many_small_writes_is_framed_whole() {
    let server = TestServer::start();
    let mut ua = TcpUa::connect(server.tcp);
    // A body, so that the split also runs through the Content-Length part;
    // any byte of it framed as a message of its own would spoil the
    // framing of the next request.
    let mut msg = options_tcp();
    msg.headers.push("Content-Type: text/plain".to_string());
    msg.body = b"split across the stream".to_vec();
    for chunk in [1, 7] {
        let mut req = msg.clone();
        req.branch = common::unique("z9hG4bK");
        let resp = ua.request_in_chunks(&req.bytes(), chunk);
        assert_eq!(resp.status(), Some(200), "{}", resp.text());
        assert_eq!(resp.header("Call-ID"), Some(req.call_id.as_str()));
    }
    // The connection still frames what follows.
    let ok = ua.request(&options_tcp().bytes());
    assert_eq!(ok.status(), Some(200), "{}", ok.text());
    server.stop();
}

#[test]
fn a_crlf_keepalive_gets_a_crlf_pong() {
    let server = TestServer::start();
    let mut ua = TcpUa::connect(server.tcp);
    ua.send(b"\r\n\r\n");
    assert_eq!(ua.read_bytes(2), b"\r\n");
    // The pong is all: the next bytes are the answer to the next request.
    let req = options_tcp();
    ua.send(&req.bytes());
    let resp = ua.read_message();
    assert_eq!(resp.status(), Some(200), "{}", resp.text());
    assert_eq!(resp.branch(), Some(req.branch.as_str()));
    server.stop();
}

#[test]
fn a_message_over_the_size_limit_gets_513_and_the_connection_goes_on() {
    let server = TestServer::start();
    let mut ua = TcpUa::connect(server.tcp);
    let mut big = Request::new("MESSAGE", "sip:bob@example.com", "sip:bob@example.com").via(
        "TCP",
        "192.0.2.10:5062",
        false,
    );
    big.headers.push("Content-Type: text/plain".to_string());
    // Above the default 65,535-byte limit, below what the framer skips.
    big.body = vec![b'x'; 100 * 1024];
    let resp = ua.request(&big.bytes());
    assert_eq!(resp.status(), Some(513), "{}", resp.text());
    assert_eq!(resp.header("Call-ID"), Some(big.call_id.as_str()));
    let next = ua.request(&options_tcp().bytes());
    assert_eq!(next.status(), Some(200), "{}", next.text());
    server.stop();
}

#[test]
fn an_unframeable_stream_gets_its_400_and_is_closed() {
    let server = TestServer::start();
    let mut ua = TcpUa::connect(server.tcp);
    let req = options_tcp();
    let text = String::from_utf8(req.bytes()).expect("ASCII request");
    let no_length = text.replace("Content-Length: 0\r\n", "");
    assert_ne!(no_length, text);
    ua.send(no_length.as_bytes());
    let resp = ua.read_message();
    assert_eq!(resp.status(), Some(400), "{}", resp.text());
    assert_eq!(resp.reason(), "Missing Content-Length", "{}", resp.text());
    assert_eq!(resp.branch(), Some(req.branch.as_str()));
    ua.expect_closed();
    server.stop();
}

/// A peer that sends requests but stops reading is cut off once its
/// answers pile up unsent, instead of the server holding them without
/// bound: the server closes the connection.
#[test]
fn a_peer_that_stops_reading_is_cut_off() {
    use std::io::{ErrorKind, Read, Write};
    let server = TestServer::start();
    let mut stream =
        std::net::TcpStream::connect_timeout(&server.tcp, common::WAIT).expect("connect");
    stream
        .set_write_timeout(Some(common::WAIT))
        .expect("a write timeout");
    // Every Via is copied into the answer, so each answer is ~30 KB.
    let padding: Vec<String> = (0..30)
        .map(|i| {
            let pad = "x".repeat(1000);
            format!("Via: SIP/2.0/TCP 192.0.2.{i}:5060;branch=z9hG4bK-pad{i}-{pad}")
        })
        .collect();
    let deadline = std::time::Instant::now() + common::WAIT;
    let mut closed = false;
    while std::time::Instant::now() < deadline {
        let mut req = options_tcp();
        req.headers.clone_from(&padding);
        if let Err(e) = stream.write_all(&req.bytes()) {
            // The server closed the connection under the writer.
            assert!(
                matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
                "{e}"
            );
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "the server kept reading from a peer that never reads"
    );
    // Reading now finds the end of the stream (or the reset), never a hang.
    stream
        .set_read_timeout(Some(common::WAIT))
        .expect("a read timeout");
    let mut sink = vec![0u8; 1 << 20];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("tcp read: {e}"),
        }
    }
    server.stop();
}
