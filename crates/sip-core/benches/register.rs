//! Hot paths of a registration: parsing a REGISTER, the registrar's decision
//! (parse, check, apply to the AOR's bindings, write the 200 OK), the whole
//! way through the endpoint (transaction, decision on a snapshot, the write
//! with its 200 and 500), contact URI comparison (RFC 3261 §19.1.4) and
//! digest verification.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use location::{LocationStore, MemoryStore};
use location_model::Binding;
use sip_core::abuse::AbuseConfig;
use sip_core::registrar::check_register;
use sip_core::response::{write_reply, TagGenerator};
use sip_core::rng::Rng;
use sip_core::security::Security;
use sip_core::validate::validate_parts;
use sip_core::{
    CoreConfig, Endpoint, EndpointConfig, Received, RegistrarConfig, RequestContext, StoreOpKind,
    StoreResult, Transport,
};
use sip_message::{Limits, Message, Uri};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const NOW: u64 = 1_700_000_000_000;

/// A REGISTER as a desk phone behind NAT sends it (636 bytes).
const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.23:5060;branch=z9hG4bK-524287-1---6f3f0c1b8a2e44d1;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:alice@10.0.0.23:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1;expires=3600\r\n\
To: \"Alice\" <sip:alice@example.com>\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=3a5f91c2\r\n\
Call-ID: NjQ4ZTJmNDVhYjFjMDVlZmQ2ZDI4YzQ4ZmE5N2E2ZGE\r\n\
CSeq: 42 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Supported: replaces, outbound, path, gruu\r\n\
User-Agent: Yealink SIP-T46S 66.86.0.15\r\n\
Content-Length: 0\r\n\r\n";

fn config() -> RegistrarConfig {
    RegistrarConfig {
        domains: vec!["example.com".to_string()],
        default_expires: 3600,
        min_expires: 60,
        max_expires: 7200,
        max_contacts: 10,
    }
}

fn binding(contact: &str, call_id: &str) -> Binding {
    Binding {
        aor: "sip:alice@example.com".to_string(),
        contact: contact.to_string(),
        q: 1000,
        expires_at_ms: NOW + 1_800_000,
        call_id: call_id.to_string(),
        cseq: 41,
        received: Some("203.0.113.7:40123".to_string()),
        transport: "udp".to_string(),
        local: Some("198.51.100.1:5060".to_string()),
        user_agent: Some("Yealink SIP-T46S 66.86.0.15".to_string()),
        path: Vec::new(),
        instance: None,
        reg_id: None,
        action: None,
        updated_at_ms: NOW - 1_800_000,
    }
}

fn parse_register(c: &mut Criterion) {
    let buf = Bytes::from_static(REGISTER.as_bytes());
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse_register");
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.bench_function("parse_register", |b| {
        b.iter(|| Message::parse(black_box(buf.clone()), &limits).unwrap())
    });
    g.finish();
}

/// The phone's own binding (refreshed by the request) and one of another device.
fn existing() -> Vec<Binding> {
    vec![
        binding(
            "sip:alice@10.0.0.23:5060;transport=udp",
            "NjQ4ZTJmNDVhYjFjMDVlZmQ2ZDI4YzQ4ZmE5N2E2ZGE",
        ),
        binding(
            "sip:alice@192.0.2.77:5062;transport=tcp",
            "other-device-call-id",
        ),
    ]
}

fn source() -> SocketAddr {
    "203.0.113.7:40123".parse().unwrap()
}

fn local() -> SocketAddr {
    "198.51.100.1:5060".parse().unwrap()
}

fn registrar_decision(c: &mut Criterion) {
    let buf = Bytes::from_static(REGISTER.as_bytes());
    let limits = Limits::default();
    let cfg = config();
    let tags = TagGenerator::new(&mut Rng::new(1));
    let local_hosts: Vec<String> = Vec::new();
    let ctx = RequestContext {
        source: source(),
        local: local(),
        transport: Transport::Udp,
        conn: None,
        local_hosts: &local_hosts,
        multicast: false,
        auth: None,
        nonce_salt: 0,
        stamp: 0,
    };
    let existing = existing();
    c.bench_function("registrar_decision", |b| {
        b.iter(|| {
            let msg = Message::parse(black_box(buf.clone()), &limits).unwrap();
            let parsed = validate_parts(&msg).unwrap();
            let pending = check_register(&cfg, &msg, &parsed, &ctx, NOW).unwrap();
            let mut bindings = existing.clone();
            pending.apply(&mut bindings, NOW).unwrap();
            let reply = pending.bindings_response(&bindings, NOW);
            debug_assert_eq!(reply.code, 200);
            write_reply(&msg, source(), &reply, &tags.tag_for(&msg))
        })
    });
}

/// One REGISTER through the endpoint and the in-memory store, as the shell
/// drives them: the datagram in, the AOR's snapshot fetched, the decision,
/// the write (with its 200 and 500) applied as a compare-and-set, its
/// outcome back, the timers run. Each REGISTER has a branch of its own (a
/// new transaction) and one of 50,000 Call-IDs (AORs are refreshed, as on
/// a server); the time goes up 1 ms every 8 REGISTERs, so completed
/// transactions expire on Timer J as on a server at 8,000/s.
fn endpoint_register(c: &mut Criterion) {
    let mut ep = Endpoint::new(EndpointConfig {
        core: Arc::new(CoreConfig {
            registrar: config(),
            ..CoreConfig::default()
        }),
        limits: Limits::default(),
        security: Arc::new(Security::new(
            None,
            AbuseConfig {
                rate_limit: 0,
                ..AbuseConfig::default()
            },
            false,
            1,
        )),
        proxy_auth: None,
        shard: 0,
        shards: 1,
        seed: 1,
    });
    let store = MemoryStore::new();
    let mut n = 0u64;
    c.bench_function("endpoint_register", |b| {
        b.iter(|| {
            n += 1;
            let text = REGISTER
                .replace("6f3f0c1b8a2e44d1", &format!("{n:016x}"))
                .replace(
                    "NjQ4ZTJmNDVhYjFjMDVlZmQ2ZDI4YzQ4ZmE5N2E2ZGE",
                    &format!("c{}", n % 50_000),
                );
            let now = NOW + n / 8;
            ep.handle_message(
                now,
                Received {
                    transport: Transport::Udp,
                    source: source(),
                    local: local(),
                    conn: None,
                    multicast: false,
                    stamp: n,
                    bytes: Bytes::from(text),
                },
            );
            while let Some(op) = ep.poll_store_op() {
                let result = run_at_once(&store, op.kind, now);
                ep.handle_store_result(now, op.id, result);
            }
            while ep.poll_transmit().is_some() {}
            ep.handle_timeout(now);
            black_box(ep.poll_timeout())
        })
    });
}

/// Runs a store operation on the in-memory store (which answers at once),
/// as the shell does; the write's 200 is dropped here instead of sent.
fn run_at_once(store: &MemoryStore, kind: StoreOpKind, now: u64) -> StoreResult {
    let slot: Arc<Mutex<Option<StoreResult>>> = Arc::default();
    let put = slot.clone();
    match kind {
        StoreOpKind::Fetch { aor } => store.fetch(
            &aor,
            now,
            Box::new(move |r| {
                *put.lock().unwrap() =
                    Some(r.map_or_else(StoreResult::Failed, StoreResult::Fetched))
            }),
        ),
        StoreOpKind::Write(w) => {
            let w = *w;
            black_box(w.on_success);
            store.write(
                &w.aor,
                &w.expected,
                w.bindings,
                now,
                Box::new(move |r| {
                    *put.lock().unwrap() =
                        Some(r.map_or_else(StoreResult::Failed, StoreResult::Written))
                }),
            )
        }
        StoreOpKind::Lookup { .. } => panic!("a REGISTER looks nothing up"),
    }
    let result = slot.lock().unwrap().take();
    result.expect("the memory store answers at once")
}

fn uri_equivalence(c: &mut Criterion) {
    let pairs = [
        (
            "sip:alice@10.0.0.23:5060;transport=udp",
            "sip:alice@10.0.0.23:5060;TRANSPORT=UDP",
        ),
        (
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp",
        ),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        (
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on",
        ),
    ];
    c.bench_function("uri_equivalence", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for (x, y) in &pairs {
                let a = Uri::parse(black_box(x)).unwrap();
                let b = Uri::parse(black_box(y)).unwrap();
                n += u32::from(a.equivalent(&b));
            }
            n
        })
    });
}

/// Verifying one digest response (what a 401-then-REGISTER costs the
/// server beyond the registrar decision), per algorithm, qop=auth.
fn digest_verification(c: &mut Criterion) {
    use sip_core::digest::{answer, ha1, Algorithm, Challenge, Credentials, Qop, RequestParts};
    use std::borrow::Cow;
    for alg in [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256] {
        let challenge = Challenge {
            realm: Cow::Borrowed("example.com"),
            nonce: Cow::Borrowed("AAABjJ5u4z8AAAAAAAAAAJ0Xb3c1Xq9K"),
            opaque: Some(Cow::Borrowed("5ccc069c403ebaf9f0171e9517f40e41")),
            algorithm: alg,
            sess: false,
            qop: vec![Qop::Auth],
            stale: false,
        };
        let parts = RequestParts {
            method: "REGISTER",
            uri: "sip:example.com",
            body: b"",
        };
        let header = answer(&challenge, "alice", "secret", parts, "0a4f113b", 1).to_string();
        let stored = ha1(alg, "alice", "example.com", "secret");
        c.bench_function(&format!("digest_verification/{}", alg.name()), |b| {
            b.iter(|| {
                let creds = Credentials::parse(black_box(&header)).unwrap();
                assert!(creds.verify(black_box(&stored), "REGISTER", b""));
            })
        });
    }
}

criterion_group!(
    benches,
    parse_register,
    registrar_decision,
    endpoint_register,
    uri_equivalence,
    digest_verification
);
criterion_main!(benches);
