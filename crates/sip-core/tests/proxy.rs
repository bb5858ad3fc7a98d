//! The sans-IO proxy driven directly: requests, lookups, responses and
//! timers in, messages out, time as an input (no sockets, no clock).

use bytes::Bytes;
use location::Binding;
use sip_core::core::Reply;
use sip_core::proxy::{
    AllowAll, AuthDecision, HopAddr, Listener, Output, Proxy, ProxyAuth, ProxyConfig, Subscriber,
};
use sip_core::{CoreConfig, RegistrarConfig, RequestContext, Transport};
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

fn msg(text: &str) -> Message {
    Message::parse(Bytes::from(text.to_string()), &Limits::default()).unwrap()
}

fn invite(extra: &str) -> Message {
    msg(&format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKinv1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: call-1\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n",
        caller()
    ))
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

/// Feeds a request, answers lookups with `bindings`, returns what was sent.
fn request(p: &mut Proxy, req: Message, bindings: &[Binding], now: u64) -> Vec<(HopAddr, String)> {
    let hosts = Vec::new();
    let ctx = RequestContext {
        source: caller(),
        local: server(),
        transport: Transport::Udp,
        local_hosts: &hosts,
        multicast: false,
        auth: None,
    };
    p.handle_request(req, &ctx, now);
    drain(p, bindings, now)
}

fn drain(p: &mut Proxy, bindings: &[Binding], now: u64) -> Vec<(HopAddr, String)> {
    let mut sent = Vec::new();
    while let Some(out) = p.poll_output() {
        match out {
            Output::Transmit(t) => {
                sent.push((t.dest.addr, String::from_utf8_lossy(&t.bytes).into_owned()))
            }
            Output::Lookup(l) => {
                assert_eq!(l.aors[0], "sip:bob@example.com");
                p.handle_lookup(l.id, bindings.to_vec(), Subscriber::Unchecked, now);
            }
            Output::Refused { outcome, .. } => panic!("no caller is refused here: {outcome:?}"),
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
    let mut p = Proxy::new(config(180_000), Arc::new(AllowAll), 0);
    let sent = request(&mut p, invite("").clone(), &[], T0);
    assert_eq!(
        first_lines(&sent),
        ["SIP/2.0 100 Trying", "SIP/2.0 480 Temporarily Unavailable"]
    );

    let mut p = Proxy::new(config(180_000), Arc::new(AllowAll), 0);
    let req = msg(&String::from_utf8_lossy(invite("").as_bytes())
        .replace("Max-Forwards: 70", "Max-Forwards: 0"));
    let sent = request(&mut p, req, &[], T0);
    assert_eq!(first_lines(&sent)[1], "SIP/2.0 483 Too Many Hops");

    let mut p = Proxy::new(config(180_000), Arc::new(AllowAll), 0);
    let sent = request(&mut p, invite("Proxy-Require: foo\r\n"), &[], T0);
    assert_eq!(first_lines(&sent)[1], "SIP/2.0 420 Bad Extension");
    assert!(sent[1].1.contains("Unsupported: foo"), "{}", sent[1].1);
}

#[test]
fn a_request_that_comes_back_unchanged_is_a_loop() {
    let mut p = Proxy::new(config(180_000), Arc::new(AllowAll), 0);
    let sent = request(&mut p, invite(""), &[binding()], T0);
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
    let hosts = vec![server().ip().to_string()];
    let ctx = RequestContext {
        source: callee(),
        local: server(),
        transport: Transport::Udp,
        local_hosts: &hosts,
        multicast: false,
        auth: None,
    };
    p.handle_request(msg(&looped), &ctx, T0);
    let sent = drain(&mut p, &[binding()], T0);
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
    let mut p = Proxy::new(config(180_000), Arc::new(Challenge), 0);
    let sent = request(&mut p, invite(""), &[binding()], T0);
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
    let mut p = Proxy::new(config(10_000), Arc::new(AllowAll), 0);
    let sent = request(&mut p, invite(""), &[binding()], T0);
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
    p.handle_response(msg(&respond(180, "Ringing")), T0 + 100);
    assert_eq!(
        first_lines(&drain(&mut p, &[], T0 + 100)),
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
    p.handle_response(msg(&respond(487, "Request Terminated")), T0 + 10_200);
    let sent = drain(&mut p, &[], T0 + 10_200);
    assert_eq!(
        first_lines(&sent),
        [
            format!("ACK sip:bob@{} SIP/2.0", callee()).as_str(),
            "SIP/2.0 487 Request Terminated"
        ]
    );
}
