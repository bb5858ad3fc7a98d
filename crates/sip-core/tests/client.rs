//! The registration client state machine, driven faster than real time:
//! time is a number the test advances, responses are built by the test.

use bytes::Bytes;
use sip_core::client::*;
use sip_core::digest::{ha1, Algorithm, Challenge, Credentials, NonceKey, Qop};
use sip_core::transaction::timers::{T2_MS, TIMER_F_MS};
use sip_core::Transport;
use sip_message::headers::CSeq;
use sip_message::{HeaderName, Limits, Message, NameAddr};
use std::net::SocketAddr;

const LOCAL: &str = "192.0.2.4:5062";
const SERVER: &str = "192.0.2.1:5060";

fn cfg() -> RegistrationConfig {
    RegistrationConfig {
        aor: "sip:alice@example.com".into(),
        request_uri: registrar_uri_for("sip:alice@example.com").unwrap(),
        from: None,
        contacts: vec![ContactSpec {
            uri: "sip:alice@192.0.2.4:5062".into(),
            q: None,
            expires: None,
        }],
        expires: Some(3600),
        instance: None,
        reg_id: None,
        username: None,
        password: None,
        user_agent: "locus-test".into(),
        call_id: None,
        seed: 42,
        refresh: true,
    }
}

fn dest(t: Transport) -> Destination {
    Destination {
        transport: t,
        addr: SERVER.parse().unwrap(),
    }
}

fn new_reg(c: RegistrationConfig, t: Transport) -> Registration {
    let mut r = Registration::new(c);
    r.set_local(LOCAL.parse::<SocketAddr>().unwrap());
    r.set_destination(dest(t), 0);
    r
}

fn parse(b: &Bytes) -> Message {
    Message::parse(b.clone(), &Limits::default()).unwrap()
}

fn transmits(r: &mut Registration) -> Vec<Transmit> {
    std::iter::from_fn(|| r.poll_transmit()).collect()
}

fn events(r: &mut Registration) -> Vec<Event> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

fn one(r: &mut Registration) -> Message {
    let t = transmits(r);
    assert_eq!(t.len(), 1, "expected one request, got {}", t.len());
    parse(&t[0].payload)
}

fn cseq(m: &Message) -> u32 {
    CSeq::parse(m.header(HeaderName::CSeq).unwrap())
        .unwrap()
        .seq
}

/// A response to `req` as a registrar would build it.
fn respond(req: &Message, code: u16, reason: &str, extra: &[String]) -> Bytes {
    let mut s = format!("SIP/2.0 {code} {reason}\r\n");
    for v in req.headers(HeaderName::Via) {
        s.push_str(&format!("Via: {v};received=192.0.2.4\r\n"));
    }
    for (name, h) in [
        ("From", HeaderName::From),
        ("Call-ID", HeaderName::CallId),
        ("CSeq", HeaderName::CSeq),
    ] {
        s.push_str(&format!("{name}: {}\r\n", req.header(h).unwrap()));
    }
    s.push_str(&format!(
        "To: {};tag=srv\r\n",
        req.header(HeaderName::To).unwrap()
    ));
    for e in extra {
        s.push_str(e);
        s.push_str("\r\n");
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    Bytes::from(s)
}

/// A 200 listing the request's contacts with the lifetime they asked (or `grant`).
fn ok_echo(req: &Message, grant: Option<u32>) -> Bytes {
    let contacts: Vec<String> = req
        .header_values(HeaderName::Contact)
        .filter(|c| *c != "*")
        .map(|c| {
            let na = NameAddr::parse(c).unwrap();
            let asked = na
                .params
                .get("expires")
                .flatten()
                .map(|e| e.parse::<u32>().unwrap())
                .unwrap_or(3600);
            format!(
                "Contact: <{}>;expires={}",
                na.uri,
                grant.unwrap_or(asked).min(asked)
            )
        })
        .filter(|c| !c.ends_with("expires=0"))
        .collect();
    respond(req, 200, "OK", &contacts)
}

#[test]
fn register_request_has_the_shape_of_rfc3261_10_2() {
    let mut c = cfg();
    c.contacts = vec![
        ContactSpec {
            uri: "sip:alice@192.0.2.4:5062".into(),
            q: Some("0.7".into()),
            expires: Some(600),
        },
        ContactSpec {
            uri: "sip:alice@198.51.100.7".into(),
            q: None,
            expires: None,
        },
    ];
    c.instance = Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>".into());
    c.reg_id = Some(1);
    c.from = Some("sip:admin@example.com".into());
    let mut r = new_reg(c, Transport::Udp);
    r.start(Operation::Register, 0);
    let m = one(&mut r);
    assert_eq!(m.method_str(), "REGISTER");
    assert_eq!(m.request_uri(), "sip:example.com");
    assert_eq!(m.header(HeaderName::To).unwrap(), "<sip:alice@example.com>");
    let from = NameAddr::parse(m.header(HeaderName::From).unwrap()).unwrap();
    assert_eq!(from.uri, "sip:admin@example.com");
    assert!(from.tag().is_some());
    let via = m.header(HeaderName::Via).unwrap();
    assert!(
        via.starts_with("SIP/2.0/UDP 192.0.2.4:5062;branch=z9hG4bK"),
        "{via}"
    );
    assert!(via.ends_with(";rport"), "{via}");
    assert_eq!(m.header(HeaderName::MaxForwards), Some("70"));
    assert_eq!(m.header(HeaderName::CSeq), Some("1 REGISTER"));
    assert_eq!(m.header(HeaderName::Expires), Some("3600"));
    assert_eq!(m.header(HeaderName::UserAgent), Some("locus-test"));
    let contacts: Vec<&str> = m.headers(HeaderName::Contact).collect();
    assert_eq!(
        contacts,
        vec![
            "<sip:alice@192.0.2.4:5062>;q=0.7;expires=600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1",
            "<sip:alice@198.51.100.7>;expires=3600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1",
        ]
    );
    // The registrar core accepts what the client builds.
    assert!(sip_core::validate::validate_request(&m).is_ok());
}

#[test]
fn contact_is_derived_from_the_local_socket_when_none_is_given() {
    let mut c = cfg();
    c.contacts.clear();
    let mut r = new_reg(c, Transport::Tcp);
    r.start(Operation::Register, 0);
    let m = one(&mut r);
    assert_eq!(
        m.header(HeaderName::Contact),
        Some("<sip:alice@192.0.2.4:5062;transport=tcp>;expires=3600")
    );
    assert!(m
        .header(HeaderName::Via)
        .unwrap()
        .starts_with("SIP/2.0/TCP "));
}

#[test]
fn udp_retransmits_on_timer_e_doubling_to_t2_and_times_out_on_timer_f() {
    let mut c = cfg();
    c.refresh = false;
    let mut r = new_reg(c, Transport::Udp);
    r.start(Operation::Register, 0);
    let first = transmits(&mut r);
    assert_eq!(first.len(), 1);
    let mut sent_at = vec![0u64];
    let mut now = 0;
    let mut guard = 0;
    while let Some(t) = r.poll_timeout() {
        guard += 1;
        assert!(guard < 100, "bounded");
        now = t;
        r.handle_timeout(now);
        for tx in transmits(&mut r) {
            assert!(tx.retransmission);
            assert_eq!(tx.payload, first[0].payload, "same bytes, same branch");
            sent_at.push(now);
        }
        if !events(&mut r).is_empty() {
            break;
        }
    }
    assert_eq!(
        sent_at,
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(now, TIMER_F_MS);
    assert_eq!(r.state(), State::Idle);
}

#[test]
fn timeout_event_is_failed_for_one_shot_use() {
    let mut c = cfg();
    c.refresh = false;
    let mut r = new_reg(c, Transport::Tcp);
    r.start(Operation::Register, 0);
    assert_eq!(transmits(&mut r).len(), 1);
    assert_eq!(r.poll_timeout(), Some(TIMER_F_MS), "no Timer E over TCP");
    r.handle_timeout(TIMER_F_MS);
    assert!(transmits(&mut r).is_empty());
    assert_eq!(
        events(&mut r),
        vec![Event::Failed {
            operation: Operation::Register,
            failure: Failure::Timeout
        }]
    );
    assert!(r.is_idle());
}

#[test]
fn provisional_response_slows_retransmissions_to_t2() {
    let mut r = new_reg(cfg(), Transport::Udp);
    r.start(Operation::Register, 0);
    let m = one(&mut r);
    assert!(r.handle_response(respond(&m, 100, "Trying", &[]), 100));
    assert_eq!(r.poll_timeout(), Some(100 + T2_MS));
}

#[test]
fn refresh_follows_the_expiry_granted_to_our_contact() {
    let mut r = new_reg(cfg(), Transport::Udp);
    r.start(Operation::Register, 0);
    let m = one(&mut r);
    // The registrar grants 120 s to ours, and lists another device.
    let resp = respond(
        &m,
        200,
        "OK",
        &[
            "Contact: <sip:alice@198.51.100.9>;expires=3000;q=0.5".into(),
            "Contact: <sip:alice@192.0.2.4:5062>;expires=120".into(),
        ],
    );
    assert!(r.handle_response(resp.clone(), 1_000));
    assert_eq!(
        events(&mut r),
        vec![Event::Success {
            operation: Operation::Register,
            code: 200,
            granted: Some(120)
        }]
    );
    assert_eq!(
        r.state(),
        State::Registered {
            refresh_at_ms: 61_000,
            expires_at_ms: 121_000
        }
    );
    let b = r.bindings();
    assert_eq!(b.len(), 2);
    assert!(!b[0].ours && b[0].q.as_deref() == Some("0.5"));
    assert!(b[1].ours && b[1].expires == Some(120));
    // A late retransmitted 200 is ignored.
    assert!(!r.handle_response(resp, 2_000));
    // Nothing before the refresh time; then a refresh, same Call-ID, CSeq 2.
    assert_eq!(r.poll_timeout(), Some(61_000));
    r.handle_timeout(60_999);
    assert!(transmits(&mut r).is_empty());
    r.handle_timeout(61_000);
    let m2 = one(&mut r);
    assert_eq!(cseq(&m2), 2);
    assert_eq!(m2.header(HeaderName::CallId), m.header(HeaderName::CallId));
    assert_ne!(m2.header(HeaderName::Via), m.header(HeaderName::Via));
    // A long lifetime is refreshed 600 s before it ends.
    assert!(r.handle_response(ok_echo(&m2, Some(3600)), 62_000));
    assert_eq!(
        r.state(),
        State::Registered {
            refresh_at_ms: 62_000 + 3_000_000,
            expires_at_ms: 62_000 + 3_600_000
        }
    );
}

#[test]
fn never_two_requests_outstanding_and_cseq_counts_up() {
    let mut r = new_reg(cfg(), Transport::Udp);
    r.start(Operation::Register, 0);
    let m1 = one(&mut r);
    r.start(Operation::Query, 10);
    r.start(Operation::RemoveAll, 20); // replaces the queued query
    assert!(transmits(&mut r).is_empty(), "waits for the final response");
    assert!(r.handle_response(respond(&m1, 100, "Trying", &[]), 30));
    assert!(transmits(&mut r).is_empty(), "a 1xx is not final");
    assert!(r.handle_response(ok_echo(&m1, None), 40));
    let m2 = one(&mut r);
    assert_eq!(cseq(&m2), 2);
    assert_eq!(m2.header(HeaderName::Contact), Some("*"));
    assert_eq!(m2.header(HeaderName::CallId), m1.header(HeaderName::CallId));
    // A response to the first transaction does not complete the second.
    assert!(!r.handle_response(ok_echo(&m1, None), 50));
    assert_eq!(r.state(), State::Waiting);
}

#[test]
fn query_remove_and_remove_all_requests() {
    let mut c = cfg();
    c.refresh = false;
    let mut r = new_reg(c, Transport::Udp);
    r.start(Operation::Query, 0);
    let q = one(&mut r);
    assert_eq!(q.header(HeaderName::Contact), None);
    assert_eq!(q.header(HeaderName::Expires), None);
    r.handle_response(
        respond(
            &q,
            200,
            "OK",
            &["Contact: <sip:a@192.0.2.9>;expires=33".into()],
        ),
        1,
    );
    assert_eq!(r.bindings()[0].expires, Some(33));
    assert!(r.is_idle());

    r.start(Operation::Remove(vec!["sip:a@192.0.2.9".into()]), 2);
    let m = one(&mut r);
    assert_eq!(
        m.header(HeaderName::Contact),
        Some("<sip:a@192.0.2.9>;expires=0")
    );
    assert_eq!(m.header(HeaderName::Expires), Some("0"));
    r.handle_response(respond(&m, 200, "OK", &[]), 3);

    r.start(Operation::RemoveAll, 4);
    let m = one(&mut r);
    assert_eq!(m.header(HeaderName::Contact), Some("*"));
    assert_eq!(m.header(HeaderName::Expires), Some("0"));
    assert_eq!(cseq(&m), 3);
}

#[test]
fn stop_unregisters_our_contacts_and_ends_refreshing() {
    let mut r = new_reg(cfg(), Transport::Udp);
    assert!(!r.stop(0), "nothing registered: nothing to remove");
    r.start(Operation::Register, 0);
    let m = one(&mut r);
    r.handle_response(ok_echo(&m, None), 10);
    events(&mut r);
    assert!(r.stop(20));
    let u = one(&mut r);
    assert_eq!(
        u.header(HeaderName::Contact),
        Some("<sip:alice@192.0.2.4:5062>;expires=0")
    );
    assert_eq!(u.header(HeaderName::Expires), Some("0"));
    r.handle_response(respond(&u, 200, "OK", &[]), 30);
    assert!(matches!(
        events(&mut r)[..],
        [Event::Success {
            operation: Operation::Unregister,
            ..
        }]
    ));
    assert!(r.is_idle());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn stop_during_the_first_register_unregisters_after_its_final_response() {
    let mut r = new_reg(cfg(), Transport::Udp);
    r.start(Operation::Register, 0);
    let m = one(&mut r);
    assert!(r.stop(5));
    assert!(transmits(&mut r).is_empty());
    r.handle_response(ok_echo(&m, None), 10);
    let u = one(&mut r);
    assert_eq!(u.header(HeaderName::Expires), Some("0"));
}

/// A digest-challenging registrar built on the digest module's server side.
struct Challenger {
    key: NonceKey,
    algorithms: Vec<Algorithm>,
    password: &'static str,
    salt: u64,
}

impl Challenger {
    fn challenge_headers(&mut self, stale: bool) -> Vec<String> {
        self.salt += 1;
        let nonce = self.key.issue(1_000, self.salt);
        self.algorithms
            .iter()
            .map(|a| {
                let c = Challenge {
                    realm: "example.com".into(),
                    nonce: nonce.clone().into(),
                    opaque: Some(self.key.opaque().to_string().into()),
                    algorithm: *a,
                    sess: false,
                    qop: vec![Qop::Auth],
                    stale,
                };
                format!("WWW-Authenticate: {c}")
            })
            .collect()
    }

    /// True when the request carries credentials valid for "alice".
    fn verify(&self, req: &Message) -> Option<Algorithm> {
        let value = req.headers_named("Authorization").next()?;
        let creds = Credentials::parse(value).ok()?;
        let h = ha1(creds.algorithm, "alice", "example.com", self.password);
        assert_eq!(creds.uri, req.request_uri());
        assert_eq!(creds.qop, Some(Qop::Auth));
        creds.verify(&h, "REGISTER", b"").then_some(creds.algorithm)
    }
}

#[test]
fn challenge_is_answered_with_the_strongest_algorithm_offered() {
    let offers = [
        (vec![Algorithm::Md5], Algorithm::Md5),
        (vec![Algorithm::Md5, Algorithm::Sha256], Algorithm::Sha256),
        (
            vec![Algorithm::Md5, Algorithm::Sha512_256, Algorithm::Sha256],
            Algorithm::Sha512_256,
        ),
    ];
    for (algorithms, expected) in offers {
        let mut c = cfg();
        c.password = Some("secret".into());
        let mut srv = Challenger {
            key: NonceKey::new(b"test key test key"),
            algorithms,
            password: "secret",
            salt: 0,
        };
        let mut r = new_reg(c, Transport::Udp);
        r.start(Operation::Register, 0);
        let m1 = one(&mut r);
        assert!(srv.verify(&m1).is_none());
        r.handle_response(
            respond(&m1, 401, "Unauthorized", &srv.challenge_headers(false)),
            10,
        );
        let m2 = one(&mut r);
        assert_eq!(cseq(&m2), 2, "the answer is a new transaction");
        assert_eq!(srv.verify(&m2), Some(expected));
        r.handle_response(ok_echo(&m2, Some(60)), 20);
        assert!(matches!(events(&mut r)[..], [Event::Success { .. }]));
        // The refresh is authorized at once, with the nonce count advanced.
        r.handle_timeout(30_020);
        let m3 = one(&mut r);
        assert_eq!(srv.verify(&m3), Some(expected));
        let creds = Credentials::parse(m3.headers_named("Authorization").next().unwrap()).unwrap();
        assert_eq!(creds.nc_value(), Some(2));
    }
}

#[test]
fn wrong_password_fails_after_one_answer_and_stale_allows_one_more() {
    let mut c = cfg();
    c.password = Some("wrong".into());
    let mut srv = Challenger {
        key: NonceKey::new(b"test key test key"),
        algorithms: vec![Algorithm::Sha256],
        password: "secret",
        salt: 0,
    };
    let mut r = new_reg(c.clone(), Transport::Udp);
    r.start(Operation::Register, 0);
    let m1 = one(&mut r);
    r.handle_response(
        respond(&m1, 401, "Unauthorized", &srv.challenge_headers(false)),
        1,
    );
    let m2 = one(&mut r);
    assert!(srv.verify(&m2).is_none());
    r.handle_response(
        respond(&m2, 401, "Unauthorized", &srv.challenge_headers(false)),
        2,
    );
    assert!(transmits(&mut r).is_empty(), "no loop on a wrong password");
    assert!(matches!(
        &events(&mut r)[..],
        [Event::Failed {
            failure: Failure::AuthenticationFailed { code: 401, .. },
            ..
        }]
    ));
    assert!(r.is_idle());

    // stale=true earns exactly one more answer.
    let mut r = new_reg(c.clone(), Transport::Udp);
    r.start(Operation::Register, 0);
    let m1 = one(&mut r);
    r.handle_response(
        respond(&m1, 401, "Unauthorized", &srv.challenge_headers(false)),
        1,
    );
    let m2 = one(&mut r);
    r.handle_response(
        respond(&m2, 401, "Unauthorized", &srv.challenge_headers(true)),
        2,
    );
    let m3 = one(&mut r);
    assert_eq!(cseq(&m3), 3);
    r.handle_response(
        respond(&m3, 401, "Unauthorized", &srv.challenge_headers(true)),
        3,
    );
    assert!(transmits(&mut r).is_empty());
    assert!(matches!(&events(&mut r)[..], [Event::Failed { .. }]));

    // No password: a clear failure, no answer.
    c.password = None;
    let mut r = new_reg(c, Transport::Udp);
    r.start(Operation::Register, 0);
    let m1 = one(&mut r);
    r.handle_response(
        respond(&m1, 401, "Unauthorized", &srv.challenge_headers(false)),
        1,
    );
    assert!(transmits(&mut r).is_empty());
    assert!(matches!(
        &events(&mut r)[..],
        [Event::Failed {
            failure: Failure::NoCredentials { code: 401 },
            ..
        }]
    ));
}

#[test]
fn interval_too_brief_is_retried_with_min_expires() {
    let mut c = cfg();
    c.expires = Some(30);
    c.contacts[0].expires = Some(20);
    let mut r = new_reg(c, Transport::Udp);
    r.start(Operation::Register, 0);
    let m1 = one(&mut r);
    r.handle_response(
        respond(&m1, 423, "Interval Too Brief", &["Min-Expires: 90".into()]),
        1,
    );
    let m2 = one(&mut r);
    assert_eq!(cseq(&m2), 2);
    assert_eq!(m2.header(HeaderName::Expires), Some("90"));
    assert_eq!(
        m2.header(HeaderName::Contact),
        Some("<sip:alice@192.0.2.4:5062>;expires=90")
    );
    // A 423 for the value it asked for is not retried forever.
    r.handle_response(
        respond(&m2, 423, "Interval Too Brief", &["Min-Expires: 90".into()]),
        2,
    );
    assert!(transmits(&mut r).is_empty());
    assert!(matches!(
        &events(&mut r)[..],
        [Event::Failed {
            failure: Failure::IntervalTooBrief {
                min_expires: Some(90)
            },
            ..
        }]
    ));
}

#[test]
fn redirect_is_followed_to_the_contact() {
    let mut r = new_reg(cfg(), Transport::Udp);
    r.start(Operation::Register, 0);
    let m1 = one(&mut r);
    r.handle_response(
        respond(
            &m1,
            302,
            "Moved Temporarily",
            &[
                "Contact: <sip:198.51.100.1:5070>;q=0.1".into(),
                "Contact: <sip:registrar@198.51.100.2:5080;transport=tcp>;q=0.9".into(),
            ],
        ),
        1,
    );
    assert_eq!(
        events(&mut r),
        vec![Event::Redirect {
            uri: "sip:198.51.100.2:5080;transport=tcp".into()
        }]
    );
    assert_eq!(r.state(), State::AwaitingDestination);
    assert!(transmits(&mut r).is_empty());
    let d = Destination {
        transport: Transport::Tcp,
        addr: "198.51.100.2:5080".parse().unwrap(),
    };
    r.set_destination(d, 2);
    let t = transmits(&mut r);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].destination, d);
    let m2 = parse(&t[0].payload);
    assert_eq!(m2.request_uri(), "sip:198.51.100.2:5080;transport=tcp");
    assert_eq!(cseq(&m2), 2);
    assert_eq!(m2.header(HeaderName::To), Some("<sip:alice@example.com>"));
}

#[test]
fn timeouts_back_off_per_rfc5626_without_a_retry_storm() {
    let mut r = new_reg(cfg(), Transport::Udp);
    r.start(Operation::Register, 0);
    let mut now = 0u64;
    let mut transactions: Vec<(u32, u64)> = Vec::new();
    let mut retries: Vec<(u64, u64)> = Vec::new();
    let mut datagrams = 0;
    let day = 24 * 3600 * 1000;
    while now < day {
        for t in transmits(&mut r) {
            datagrams += 1;
            let m = parse(&t.payload);
            if !t.retransmission {
                transactions.push((cseq(&m), now));
            }
        }
        for e in events(&mut r) {
            match e {
                Event::Retrying {
                    failure: Failure::Timeout,
                    retry_at_ms,
                } => retries.push((now, retry_at_ms)),
                other => panic!("unexpected {other:?}"),
            }
        }
        now = r.poll_timeout().expect("always something scheduled");
        r.handle_timeout(now);
    }
    // Each wait is within [50 %, 100 %] of min(1800, 30 * 2^n) seconds.
    for (n, (failed_at, retry_at)) in retries.iter().enumerate() {
        let cap = (30u64 << (n + 1).min(16)).min(1800) * 1000;
        let wait = retry_at - failed_at;
        assert!(
            wait >= cap / 2 && wait <= cap,
            "wait {n}: {wait} not in [{}, {cap}]",
            cap / 2
        );
    }
    // CSeq +1 per transaction, same Call-ID throughout.
    for (i, (seq, _)) in transactions.iter().enumerate() {
        assert_eq!(*seq as usize, i + 1);
    }
    // No storm: a day of failures costs few transactions (at most one
    // per 15 minutes once the cap is reached) and 11 datagrams each.
    assert!(transactions.len() < 24 * 4 + 10, "{}", transactions.len());
    assert_eq!(datagrams, transactions.len() * 11);
    // Success resets the failure count.
    let m = loop {
        if let Some(t) = r.poll_transmit() {
            break parse(&t.payload);
        }
        now = r.poll_timeout().unwrap();
        r.handle_timeout(now);
    };
    r.handle_response(ok_echo(&m, Some(600)), now);
    assert!(matches!(events(&mut r).last(), Some(Event::Success { .. })));
    assert!(matches!(r.state(), State::Registered { .. }));
}

#[test]
fn service_unavailable_honours_retry_after_and_final_errors_stop() {
    let mut r = new_reg(cfg(), Transport::Udp);
    r.start(Operation::Register, 0);
    let m = one(&mut r);
    r.handle_response(
        respond(
            &m,
            503,
            "Service Unavailable",
            &["Retry-After: 4000".into()],
        ),
        10,
    );
    assert_eq!(
        r.state(),
        State::BackingOff {
            retry_at_ms: 4_000_010
        }
    );
    r.handle_timeout(4_000_010);
    let m = one(&mut r);
    r.handle_response(respond(&m, 403, "Forbidden", &[]), 4_000_020);
    assert_eq!(
        events(&mut r).last(),
        Some(&Event::Failed {
            operation: Operation::Register,
            failure: Failure::Status {
                code: 403,
                reason: "Forbidden".into()
            }
        })
    );
    assert!(r.is_idle());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn transport_error_fails_over_to_a_new_destination() {
    let mut r = new_reg(cfg(), Transport::Tcp);
    r.start(Operation::Register, 0);
    one(&mut r);
    r.handle_transport_error("connection refused", 5);
    assert!(matches!(
        &events(&mut r)[..],
        [Event::Retrying {
            failure: Failure::Transport(_),
            ..
        }]
    ));
    r.set_destination(dest(Transport::Udp), 6);
    let m = one(&mut r);
    assert_eq!(cseq(&m), 2);
    assert!(m
        .header(HeaderName::Via)
        .unwrap()
        .starts_with("SIP/2.0/UDP"));
}

#[test]
fn helpers() {
    assert_eq!(
        registrar_uri_for("<sip:alice@Example.com:5070;transport=tcp>").as_deref(),
        Some("sip:Example.com:5070")
    );
    assert_eq!(registrar_uri_for("tel:+1555").as_deref(), None);
    assert_eq!(refresh_delay_ms(1), 500);
    assert_eq!(refresh_delay_ms(3600), 3_000_000);
    assert_eq!(backoff_ms(100, 0), 900_000);
    assert_eq!(backoff_ms(1, u64::MAX), 30_000 + u64::MAX % 30_001);
}
