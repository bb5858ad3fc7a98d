//! Digest authentication and authorization in the sans-IO core, driven as
//! the shell drives it, with time as an input.

mod common;

use common::*;
use location_model::{Ha1Set, User, UserDirectory};
use sip_core::auth::{AuthConfig, AuthOutcome, Authenticator, Grant};
use sip_core::digest::{answer, ha1, Algorithm, Challenge, RequestParts};
use sip_message::HeaderName;
use std::collections::HashMap;
use std::sync::Arc;

const LIFETIME: u64 = 10_000;

struct Users(HashMap<(String, String), Arc<User>>);

impl UserDirectory for Users {
    fn find(&self, realm: &str, username: &str) -> Option<Arc<User>> {
        self.0
            .get(&(realm.to_string(), username.to_string()))
            .cloned()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn account(name: &str, domain: &str, password: &str) -> User {
    User {
        username: name.into(),
        domain: domain.into(),
        realm: domain.into(),
        ha1: Ha1Set {
            md5: Some(ha1(Algorithm::Md5, name, domain, password)),
            sha256: Some(ha1(Algorithm::Sha256, name, domain, password)),
            sha512_256: Some(ha1(Algorithm::Sha512_256, name, domain, password)),
        },
    }
}

fn registrar_with(cfg: AuthConfig) -> Registrar {
    let mut users = HashMap::new();
    for u in [
        account("alice", "example.com", "alice-pw"),
        account("bob", "example.com", "bob-pw"),
        account("pbx", "example.com", "pbx-pw"),
        account("carol", "other.org", "carol-pw"),
    ] {
        users.insert((u.realm.clone(), u.username.clone()), Arc::new(u));
    }
    let mut config = std_config();
    config.domains.push("other.org".into());
    let mut r = Registrar::new(config);
    r.set_auth(Authenticator::new(
        cfg,
        b"0123456789abcdef0123",
        Arc::new(Users(users)),
    ));
    r
}

fn registrar() -> Registrar {
    registrar_with(AuthConfig {
        nonce_lifetime_ms: LIFETIME,
        grants: vec![Grant::parse("pbx@example.com=*@example.com").unwrap()],
        ..AuthConfig::default()
    })
}

fn challenges(resp: &Resp) -> Vec<Challenge<'static>> {
    let lines: Vec<String> = resp
        .named("WWW-Authenticate")
        .iter()
        .map(|s| s.to_string())
        .collect();
    lines
        .iter()
        .flat_map(|l| Challenge::parse_all([l.as_str()]))
        .map(|c| Challenge {
            realm: c.realm.into_owned().into(),
            nonce: c.nonce.into_owned().into(),
            opaque: c.opaque.map(|o| o.into_owned().into()),
            ..c
        })
        .collect()
}

/// Answers the challenge of `alg` in `resp` for `req`.
fn authorized(
    resp: &Resp,
    alg: Algorithm,
    user: &str,
    pw: &str,
    req: &Req,
    nc: u32,
    qop_none: bool,
) -> Req {
    let mut ch = challenges(resp)
        .into_iter()
        .find(|c| c.algorithm == alg)
        .expect("challenge");
    if qop_none {
        ch.qop.clear();
    }
    let parts = RequestParts {
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    };
    let c = answer(&ch, user, pw, parts, "cnonce-1", nc);
    req.clone().header("Authorization", &c.to_string())
}

/// The response text with the nonce and the Via branch (different for
/// every request) masked.
fn masked(resp: &Resp) -> String {
    let nonce = challenges(resp)[0].nonce.to_string();
    let text = resp.text().replace(&nonce, "NONCE");
    let via = resp.header(HeaderName::Via).unwrap_or("").to_string();
    text.replace(&via, "VIA")
}

fn alice() -> Req {
    Req::register().contact("<sip:alice@192.0.2.10:5062>")
}

#[test]
fn challenge_lists_every_algorithm_strongest_first() {
    let r = registrar();
    let resp = r.answer(&alice().build(), T0);
    resp.expect(401, "Unauthorized");
    let chs = challenges(&resp);
    let algs: Vec<Algorithm> = chs.iter().map(|c| c.algorithm).collect();
    assert_eq!(algs, Algorithm::ALL.to_vec());
    for c in &chs {
        assert_eq!(c.realm, "example.com");
        assert!(c.opaque.is_some());
        assert_eq!(c.qop.len(), 2);
        assert!(!c.stale);
        assert_eq!(c.nonce, chs[0].nonce);
    }
    assert_eq!(*r.last_refusal.borrow(), Some(AuthOutcome::Challenged));
}

#[test]
fn every_algorithm_with_and_without_qop_registers() {
    for alg in Algorithm::ALL {
        for qop_none in [false, true] {
            let r = registrar();
            let first = r.answer(&alice().build(), T0);
            let req = authorized(
                &first,
                alg,
                "alice",
                "alice-pw",
                &alice().cseq(2),
                1,
                qop_none,
            );
            let ok = r.answer(&req.build(), T0 + 1);
            ok.expect(200, "OK");
            assert_eq!(ok.bindings().len(), 1, "{alg} qop_none={qop_none}");
        }
    }
}

#[test]
fn failures_look_the_same() {
    let r = registrar();
    let first = r.answer(&alice().build(), T0);
    let cases = [
        ("alice", "wrong", "wrong password"),
        ("nobody", "x", "unknown user"),
        ("carol", "carol-pw", "user of another domain"),
    ];
    let mut seen = Vec::new();
    for (user, pw, what) in cases {
        let req = authorized(
            &first,
            Algorithm::Sha256,
            user,
            pw,
            &alice().cseq(2),
            1,
            false,
        );
        let resp = r.answer(&req.build(), T0 + 1);
        resp.expect(401, "Unauthorized");
        assert_eq!(
            *r.last_refusal.borrow(),
            Some(AuthOutcome::Failed {
                username: Some(user.to_string())
            }),
            "{what}"
        );
        seen.push(masked(&resp));
    }
    // A wrong realm: credentials computed for other.org.
    let mut ch = challenges(&first).remove(1);
    ch.realm = "other.org".into();
    let parts = RequestParts {
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    };
    let c = answer(&ch, "carol", "carol-pw", parts, "c", 1);
    let resp = r.answer(
        &alice()
            .cseq(2)
            .header("Authorization", &c.to_string())
            .build(),
        T0 + 1,
    );
    seen.push(masked(&resp));
    for s in &seen[1..] {
        assert_eq!(s, &seen[0]);
    }
}

#[test]
fn replayed_nonce_count_is_refused() {
    let r = registrar();
    let first = r.answer(&alice().build(), T0);
    let req = authorized(
        &first,
        Algorithm::Md5,
        "alice",
        "alice-pw",
        &alice().cseq(2),
        1,
        false,
    );
    r.answer(&req.build(), T0 + 1).expect(200, "OK");
    // The same Authorization again (a captured request replayed).
    let again = authorized(
        &first,
        Algorithm::Md5,
        "alice",
        "alice-pw",
        &alice().cseq(3),
        1,
        false,
    );
    r.answer(&again.build(), T0 + 2).expect(401, "Unauthorized");
    assert_eq!(
        *r.last_refusal.borrow(),
        Some(AuthOutcome::Replayed {
            username: "alice".into()
        })
    );
    let next = authorized(
        &first,
        Algorithm::Md5,
        "alice",
        "alice-pw",
        &alice().cseq(4),
        2,
        false,
    );
    r.answer(&next.build(), T0 + 3).expect(200, "OK");
    // Without qop a nonce serves one request only.
    let fresh = r.answer(&alice().cseq(5).build(), T0 + 4);
    let once = authorized(
        &fresh,
        Algorithm::Sha256,
        "alice",
        "alice-pw",
        &alice().cseq(6),
        1,
        true,
    );
    r.answer(&once.build(), T0 + 5).expect(200, "OK");
    let twice = authorized(
        &fresh,
        Algorithm::Sha256,
        "alice",
        "alice-pw",
        &alice().cseq(7),
        1,
        true,
    );
    r.answer(&twice.build(), T0 + 6).expect(401, "Unauthorized");
}

#[test]
fn expired_nonce_is_stale_only_with_the_right_password() {
    let r = registrar();
    let first = r.answer(&alice().build(), T0);
    let late = T0 + LIFETIME + 1;
    let req = authorized(
        &first,
        Algorithm::Sha512_256,
        "alice",
        "alice-pw",
        &alice().cseq(2),
        1,
        false,
    );
    let resp = r.answer(&req.build(), late);
    resp.expect(401, "Unauthorized");
    assert!(challenges(&resp).iter().all(|c| c.stale));
    assert_eq!(*r.last_refusal.borrow(), Some(AuthOutcome::Stale));
    let wrong = authorized(
        &first,
        Algorithm::Sha512_256,
        "alice",
        "nope",
        &alice().cseq(3),
        1,
        false,
    );
    let resp = r.answer(&wrong.build(), late);
    assert!(challenges(&resp).iter().all(|c| !c.stale));
    // The fresh nonce of the stale answer works.
    let stale_resp = r.answer(&req.build(), late);
    let retry = authorized(
        &stale_resp,
        Algorithm::Sha512_256,
        "alice",
        "alice-pw",
        &alice().cseq(4),
        1,
        false,
    );
    r.answer(&retry.build(), late + 1).expect(200, "OK");
}

#[test]
fn forged_nonce_fails() {
    let r = registrar();
    let first = r.answer(&alice().build(), T0);
    let mut ch = challenges(&first).remove(0);
    ch.nonce = "00".repeat(32).into();
    let parts = RequestParts {
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    };
    let c = answer(&ch, "alice", "alice-pw", parts, "c", 1);
    let resp = r.answer(
        &alice()
            .cseq(2)
            .header("Authorization", &c.to_string())
            .build(),
        T0 + 1,
    );
    resp.expect(401, "Unauthorized");
    assert!(matches!(
        *r.last_refusal.borrow(),
        Some(AuthOutcome::Failed { .. })
    ));
}

#[test]
fn only_own_aor_unless_granted() {
    let r = registrar();
    let bob = Req::register()
        .to("<sip:bob@example.com>")
        .contact("<sip:bob@192.0.2.10:5062>");
    let first = r.answer(&bob.build(), T0);
    let as_alice = authorized(
        &first,
        Algorithm::Sha256,
        "alice",
        "alice-pw",
        &bob.clone().cseq(2),
        1,
        false,
    );
    r.answer(&as_alice.build(), T0 + 1).expect(403, "Forbidden");
    assert_eq!(
        *r.last_refusal.borrow(),
        Some(AuthOutcome::Forbidden {
            identity: "alice@example.com".into()
        })
    );
    // nc 1 of this nonce was used by the refused request.
    let as_pbx = authorized(
        &first,
        Algorithm::Sha256,
        "pbx",
        "pbx-pw",
        &bob.clone().cseq(3),
        2,
        false,
    );
    r.answer(&as_pbx.build(), T0 + 2).expect(200, "OK");
    // The grant covers example.com only.
    let carol = Req::register()
        .ruri("sip:other.org")
        .to("<sip:carol@other.org>")
        .contact("<sip:carol@192.0.2.10>");
    let first = r.answer(&carol.build(), T0);
    assert_eq!(challenges(&first)[0].realm, "other.org");
    let mut ch = challenges(&first).remove(0);
    ch.realm = "example.com".into();
    let parts = RequestParts {
        method: "REGISTER",
        uri: "sip:other.org",
        body: b"",
    };
    let c = answer(&ch, "pbx", "pbx-pw", parts, "c", 1);
    let resp = r.answer(
        &carol
            .cseq(2)
            .header("Authorization", &c.to_string())
            .build(),
        T0 + 1,
    );
    resp.expect(401, "Unauthorized");
}

#[test]
fn disabled_algorithm_is_refused() {
    let r = registrar_with(AuthConfig {
        algorithms: vec![Algorithm::Md5],
        ..AuthConfig::default()
    });
    let first = r.answer(&alice().build(), T0);
    let chs = challenges(&first);
    assert_eq!(chs.len(), 1);
    let mut ch = chs[0].clone();
    ch.algorithm = Algorithm::Sha256;
    let parts = RequestParts {
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    };
    let c = answer(&ch, "alice", "alice-pw", parts, "c", 1);
    let resp = r.answer(
        &alice()
            .cseq(2)
            .header("Authorization", &c.to_string())
            .build(),
        T0 + 1,
    );
    resp.expect(401, "Unauthorized");
}

#[test]
fn options_is_challenged_too() {
    let r = registrar();
    let opt = Req::new("OPTIONS", "sip:example.com");
    let first = r.answer(&opt.build(), T0);
    first.expect(401, "Unauthorized");
    let ch = Challenge::strongest(&challenges(&first)).cloned().unwrap();
    let parts = RequestParts {
        method: "OPTIONS",
        uri: "sip:example.com",
        body: b"",
    };
    let c = answer(&ch, "alice", "alice-pw", parts, "c", 1);
    let ok = r.answer(
        &opt.cseq(2).header("Authorization", &c.to_string()).build(),
        T0 + 1,
    );
    ok.expect(200, "OK");
    assert!(ok.header(HeaderName::Allow).is_some());
}
