//! The proxy behind the sans-IO endpoint: requests, lookups, responses
//! and timers in, messages out, time as an input (no sockets, no clock).

mod common;

use bytes::Bytes;
use common::{datagram, unlimited};
use location_model::Binding;
use sip_core::proxy::{AuthDecision, ProxyAuth};
use sip_core::security::Security;
use sip_core::{
    CoreConfig, Endpoint, EndpointConfig, Event, HopAddr, Listener, ProxyConfig, RegistrarConfig,
    Reply, RequestContext, StoreOpKind, StoreResult, Transport,
};
use sip_message::{Limits, Message};
use std::net::SocketAddr;
use std::sync::Arc;

const T0: u64 = 1_700_000_000_000;

fn server() -> SocketAddr {
    "198.51.100.1:5060".parse().unwrap()
}

fn caller() -> SocketAddr {
    "192.0.2.10:5060".parse().unwrap()
}

fn callee() -> SocketAddr {
    "192.0.2.20:5062".parse().unwrap()
}

fn config(branch_timeout_ms: u64) -> Arc<CoreConfig> {
    Arc::new(CoreConfig {
        registrar: RegistrarConfig {
            domains: vec!["example.com".into()],
            ..RegistrarConfig::default()
        },
        proxy: ProxyConfig {
            branch_timeout_ms,
            listeners: vec![Listener {
                transport: Transport::Udp,
                addr: server(),
            }],
            ..ProxyConfig::default()
        },
        ..CoreConfig::default()
    })
}

/// An endpoint routing with `config(branch_timeout_ms)`, checking callers
/// with `auth` (every request proceeds when `None`: no authentication).
fn endpoint(branch_timeout_ms: u64, auth: Option<Arc<dyn ProxyAuth>>) -> Endpoint {
    Endpoint::new(EndpointConfig {
        core: config(branch_timeout_ms),
        limits: Limits::default(),
        security: Arc::new(Security::new(None, unlimited(), false, 1)),
        proxy_auth: auth,
        shard: 0,
        shards: 1,
        seed: 1,
    })
}

fn msg(text: &str) -> Message {
    Message::parse(Bytes::from(text.to_string()), &Limits::default()).unwrap()
}

fn invite(extra: &str) -> String {
    format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKinv1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: call-1\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n",
        caller()
    )
}

fn binding() -> Binding {
    Binding {
        aor: "sip:bob@example.com".into(),
        contact: format!("sip:bob@{}", callee()),
        q: 1000,
        expires_at_ms: T0 + 3_600_000,
        call_id: "r".into(),
        cseq: 1,
        received: Some(callee().to_string()),
        transport: "udp".into(),
        local: Some(server().to_string()),
        user_agent: None,
        path: Vec::new(),
        instance: None,
        reg_id: None,
        action: None,
        updated_at_ms: T0,
    }
}

/// Feeds a message from `from`, answers lookups with `bindings`, returns
/// what was sent.
fn deliver(
    ep: &mut Endpoint,
    text: &str,
    from: SocketAddr,
    bindings: &[Binding],
    now: u64,
) -> Vec<(HopAddr, String)> {
    ep.handle_message(now, datagram(text, from, server()));
    drain(ep, bindings, now)
}

/// Feeds a request from the caller.
fn request(
    ep: &mut Endpoint,
    text: &str,
    bindings: &[Binding],
    now: u64,
) -> Vec<(HopAddr, String)> {
    deliver(ep, text, caller(), bindings, now)
}

fn drain(ep: &mut Endpoint, bindings: &[Binding], now: u64) -> Vec<(HopAddr, String)> {
    let mut sent = Vec::new();
    loop {
        while let Some(t) = ep.poll_transmit() {
            sent.push((t.dest.addr, String::from_utf8_lossy(&t.bytes).into_owned()));
        }
        let Some(op) = ep.poll_store_op() else { break };
        let StoreOpKind::Lookup { aors } = op.kind else {
            panic!("the proxy only looks up: {:?}", op.kind);
        };
        assert_eq!(aors[0], "sip:bob@example.com");
        ep.handle_store_result(now, op.id, StoreResult::Bindings(bindings.to_vec()));
    }
    while let Some(e) = ep.poll_event() {
        if let Event::Refused { outcome, .. } = e {
            panic!("no caller is refused here: {outcome:?}");
        }
    }
    sent
}

fn first_lines(sent: &[(HopAddr, String)]) -> Vec<&str> {
    sent.iter()
        .map(|(_, m)| m.lines().next().unwrap())
        .collect()
}

#[test]
fn request_validation_of_16_3() {
    let mut p = endpoint(180_000, None);
    let sent = request(&mut p, &invite(""), &[], T0);
    assert_eq!(
        first_lines(&sent),
        ["SIP/2.0 100 Trying", "SIP/2.0 480 Temporarily Unavailable"]
    );

    let mut p = endpoint(180_000, None);
    let req = invite("").replace("Max-Forwards: 70", "Max-Forwards: 0");
    let sent = request(&mut p, &req, &[], T0);
    assert_eq!(first_lines(&sent)[1], "SIP/2.0 483 Too Many Hops");

    let mut p = endpoint(180_000, None);
    let sent = request(&mut p, &invite("Proxy-Require: foo\r\n"), &[], T0);
    assert_eq!(first_lines(&sent)[1], "SIP/2.0 420 Bad Extension");
    assert!(sent[1].1.contains("Unsupported: foo"), "{}", sent[1].1);
}

#[test]
fn a_request_that_comes_back_unchanged_is_a_loop() {
    let mut p = endpoint(180_000, None);
    let sent = request(&mut p, &invite(""), &[binding()], T0);
    let forwarded = &sent
        .iter()
        .find(|(_, m)| m.starts_with("INVITE"))
        .unwrap()
        .1;
    // The forwarded copy, sent back to us with its Request-URI reset to
    // the AOR (as a misconfigured peer would), is a loop: 482.
    let looped = forwarded
        .replacen(
            &format!("INVITE sip:bob@{}", callee()),
            "INVITE sip:bob@example.com",
            1,
        )
        .replace("Max-Forwards: 69", "Max-Forwards: 70");
    let sent = deliver(&mut p, &looped, callee(), &[binding()], T0);
    assert!(
        first_lines(&sent).contains(&"SIP/2.0 482 Loop Detected"),
        "{sent:?}"
    );
}

#[derive(Debug)]
struct Challenge;

impl ProxyAuth for Challenge {
    fn check(&self, _: &Message, _: &RequestContext<'_>, local: bool, _: u64) -> AuthDecision {
        assert!(local, "the Request-URI is an AOR of ours");
        AuthDecision::Reject(
            Reply::new(407, "Proxy Authentication Required").with_header(
                "Proxy-Authenticate",
                "Digest realm=\"example.com\", nonce=\"n\"",
            ),
        )
    }
}

#[test]
fn the_auth_hook_runs_before_routing() {
    let mut p = endpoint(180_000, Some(Arc::new(Challenge)));
    let sent = request(&mut p, &invite(""), &[binding()], T0);
    assert_eq!(
        first_lines(&sent)[1],
        "SIP/2.0 407 Proxy Authentication Required"
    );
    assert!(
        sent.iter().all(|(_, m)| !m.starts_with("INVITE")),
        "not routed"
    );
}

#[test]
fn timer_c_cancels_a_ringing_branch_and_the_487_is_forwarded() {
    let mut p = endpoint(10_000, None);
    let sent = request(&mut p, &invite(""), &[binding()], T0);
    let fwd = sent.iter().find(|(_, m)| m.starts_with("INVITE")).unwrap();
    assert_eq!(fwd.0, HopAddr::Socket(callee()));
    let fwd = msg(&fwd.1);
    let respond = |code: u16, reason: &str| {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for v in fwd.headers(sip_message::HeaderName::Via) {
            s += &format!("Via: {v}\r\n");
        }
        s + "From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>;tag=b\r\n\
             Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    };
    assert_eq!(
        first_lines(&deliver(
            &mut p,
            &respond(180, "Ringing"),
            callee(),
            &[],
            T0 + 100
        )),
        ["SIP/2.0 180 Ringing"]
    );
    // Timer C is 10 s from the provisional; nothing happens before.
    assert!(p.poll_timeout().is_some_and(|t| t <= T0 + 10_100));
    p.handle_timeout(T0 + 10_100);
    let sent = drain(&mut p, &[], T0 + 10_100);
    assert_eq!(
        first_lines(&sent),
        [format!("CANCEL sip:bob@{} SIP/2.0", callee()).as_str()]
    );
    let sent = deliver(
        &mut p,
        &respond(487, "Request Terminated"),
        callee(),
        &[],
        T0 + 10_200,
    );
    assert_eq!(
        first_lines(&sent),
        [
            format!("ACK sip:bob@{} SIP/2.0", callee()).as_str(),
            "SIP/2.0 487 Request Terminated"
        ]
    );
}

/// RFC 3261 §22.3: credentials for a realm of this proxy are consumed here;
/// a callee never sees a caller's digest response, verified or not. Those
/// for another realm (a proxy further on) pass untouched.
#[test]
fn proxy_authorization_for_our_realm_is_not_forwarded() {
    let mut p = endpoint(180_000, None);
    let ours = "Proxy-Authorization: Digest username=\"alice\", realm=\"example.com\", \
                nonce=\"n\", uri=\"sip:bob@example.com\", response=\"0123\"\r\n";
    let theirs = "Proxy-Authorization: Digest username=\"alice\", realm=\"biloxi.example\", \
                  nonce=\"m\", uri=\"sip:bob@example.com\", response=\"4567\"\r\n";
    let sent = request(
        &mut p,
        &invite(&format!("{ours}{theirs}")),
        &[binding()],
        T0,
    );
    let forwarded = &sent
        .iter()
        .find(|(_, m)| m.starts_with("INVITE"))
        .expect("the INVITE is forwarded")
        .1;
    assert!(!forwarded.contains("realm=\"example.com\""), "{forwarded}");
    assert!(
        forwarded.contains("realm=\"biloxi.example\""),
        "{forwarded}"
    );
}
