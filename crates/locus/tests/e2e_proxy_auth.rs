//! The proxy with accounts: callers claiming a served domain authenticate
//! with 407 / Proxy-Authorization before their request is routed; callers
//! from elsewhere reach only local users (never an open relay); an unknown
//! user is 404 and a known one without bindings 480, unless enumeration
//! protection makes both 480.

mod common;

use common::*;
use sip_core::digest::{answer, Algorithm, Challenge, RequestParts};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn server(extra: &[&str]) -> (tempfile::TempDir, Locus) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_user(&data, "alice", "example.com", "alice-pw");
    add_user(&data, "bob", "example.com", "bob-pw");
    let mut args = vec!["--auth-algorithms", "SHA-512-256,SHA-256,MD5"];
    args.extend(extra);
    let locus = Locus::start_in(&data, &args);
    (tmp, locus)
}

/// The credentials answering the strongest challenge of `resp` in `header`.
fn answer_to(
    resp: &Response,
    header: &str,
    method: &str,
    uri: &str,
    user: &str,
    pw: &str,
) -> String {
    let lines = resp.headers(header);
    assert!(!lines.is_empty(), "no {header} in:\n{}", resp.raw);
    let all: Vec<Challenge<'_>> = lines
        .iter()
        .flat_map(|l| Challenge::parse_all([l.as_str()]))
        .collect();
    let ch = Challenge::strongest(&all).unwrap();
    assert_eq!(ch.algorithm, Algorithm::Sha512_256, "strongest first");
    answer(
        ch,
        user,
        pw,
        RequestParts {
            method,
            uri,
            body: b"",
        },
        "c0ffee",
        1,
    )
    .to_string()
}

/// Registers bob at a UDP socket of the test (through the 401).
fn register_bob(locus: &Locus) -> UdpSocket {
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    phone
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let port = phone.local_addr().unwrap().port();
    // Registered from the phone's own socket: the proxy sends to the
    // address a REGISTER came from.
    let c = UdpClient {
        sock: phone.try_clone().unwrap(),
        server: locus.udp_addr(),
    };
    let mut reg = Register::new("bob");
    reg.contacts = vec![format!("<sip:bob@127.0.0.1:{port}>")];
    let first = c.request(&reg.build());
    assert_eq!(first.code, 401);
    reg.cseq += 1;
    reg.extra = vec![format!(
        "Authorization: {}",
        answer_to(
            &first,
            "WWW-Authenticate",
            "REGISTER",
            "sip:example.com",
            "bob",
            "bob-pw"
        )
    )];
    assert_eq!(c.request(&reg.build()).code, 200);
    phone
}

fn invite(from: &str, to_user_at: &str, extra: &str) -> String {
    format!(
        "INVITE sip:{to_user_at} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch={};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{from}>;tag={}\r\nTo: <sip:{to_user_at}>\r\n\
         Call-ID: {}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:9>\r\n{extra}Content-Length: 0\r\n\r\n",
        unique("z9hG4bK"),
        unique("t"),
        unique("call")
    )
}

/// The first final response to `msg` (each read bounded by the socket's
/// timeout, all of them by WAIT).
fn final_response(c: &UdpClient, msg: &str) -> Response {
    c.sock.send_to(msg.as_bytes(), c.server).unwrap();
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no final response to:\n{msg}");
        let (n, _) = c.sock.recv_from(&mut buf).expect("a response");
        let r = Response::parse(&String::from_utf8_lossy(&buf[..n]));
        if r.code >= 200 {
            return r;
        }
    }
}

#[test]
fn a_caller_of_a_served_domain_authenticates_with_407_before_routing() {
    let (_tmp, locus) = server(&[]);
    let phone = register_bob(&locus);
    let caller = UdpClient::new(locus.udp_addr());
    caller
        .sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let r = final_response(&caller, &invite("alice@example.com", "bob@example.com", ""));
    assert_eq!(r.code, 407, "{}", r.raw);
    assert_eq!(r.reason, "Proxy Authentication Required");
    let algs: Vec<String> = r.headers("Proxy-Authenticate");
    assert_eq!(algs.len(), 3, "one challenge per algorithm: {algs:?}");
    assert!(
        algs[0].contains("SHA-512-256") && algs[2].contains("MD5"),
        "{algs:?}"
    );

    // The same request with Proxy-Authorization for alice is routed to bob.
    let auth = answer_to(
        &r,
        "Proxy-Authenticate",
        "INVITE",
        "sip:bob@example.com",
        "alice",
        "alice-pw",
    );
    let msg = invite(
        "alice@example.com",
        "bob@example.com",
        &format!("Proxy-Authorization: {auth}\r\n"),
    );
    caller
        .sock
        .send_to(msg.as_bytes(), locus.udp_addr())
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, _) = phone
        .recv_from(&mut buf)
        .expect("bob's phone gets the INVITE");
    let forwarded = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(
        forwarded.starts_with("INVITE sip:bob@127.0.0.1:"),
        "{forwarded}"
    );

    // Credentials of bob for a From of alice: 403.
    let r = final_response(&caller, &invite("alice@example.com", "bob@example.com", ""));
    let auth = answer_to(
        &r,
        "Proxy-Authenticate",
        "INVITE",
        "sip:bob@example.com",
        "bob",
        "bob-pw",
    );
    let r = final_response(
        &caller,
        &invite(
            "alice@example.com",
            "bob@example.com",
            &format!("Proxy-Authorization: {auth}\r\n"),
        ),
    );
    assert_eq!(r.code, 403, "{}", r.raw);
    // A wrong password is challenged again.
    let r = final_response(&caller, &invite("alice@example.com", "bob@example.com", ""));
    let auth = answer_to(
        &r,
        "Proxy-Authenticate",
        "INVITE",
        "sip:bob@example.com",
        "alice",
        "wrong",
    );
    let r = final_response(
        &caller,
        &invite(
            "alice@example.com",
            "bob@example.com",
            &format!("Proxy-Authorization: {auth}\r\n"),
        ),
    );
    assert_eq!(r.code, 407, "{}", r.raw);
}

#[test]
fn callers_from_elsewhere_reach_local_users_only_and_unknown_users_are_404() {
    let (_tmp, locus) = server(&[]);
    let phone = register_bob(&locus);
    let caller = UdpClient::new(locus.udp_addr());
    caller
        .sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Another domain calling a local user: routed without a challenge.
    caller
        .sock
        .send_to(
            invite("carol@elsewhere.org", "bob@example.com", "").as_bytes(),
            locus.udp_addr(),
        )
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, _) = phone.recv_from(&mut buf).expect("routed to bob");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("INVITE "));
    // Another domain calling another domain: never relayed.
    let r = final_response(
        &caller,
        &invite("carol@elsewhere.org", "dave@faraway.net", ""),
    );
    assert_eq!(r.code, 403, "{}", r.raw);
    // A known user without bindings: 480; an unknown one: 404.
    let r = final_response(
        &caller,
        &invite("carol@elsewhere.org", "alice@example.com", ""),
    );
    assert_eq!(r.code, 480, "{}", r.raw);
    let r = final_response(
        &caller,
        &invite("carol@elsewhere.org", "nobody@example.com", ""),
    );
    assert_eq!(r.code, 404, "{}", r.raw);
}

#[test]
fn enumeration_protection_answers_unknown_users_like_known_ones() {
    let (_tmp, locus) = server(&["--enumeration-protection"]);
    let caller = UdpClient::new(locus.udp_addr());
    caller
        .sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let known = final_response(
        &caller,
        &invite("carol@elsewhere.org", "alice@example.com", ""),
    );
    let unknown = final_response(
        &caller,
        &invite("carol@elsewhere.org", "nobody@example.com", ""),
    );
    assert_eq!((known.code, unknown.code), (480, 480));
    assert_eq!(known.reason, unknown.reason);
}
