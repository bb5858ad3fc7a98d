//! Digest authentication, authorization and abuse control, end to end:
//! the real `locus` binary on loopback, accounts added with `locus users`
//! into a real SQLite file, SIP spoken over real UDP and TCP sockets.

mod common;

use common::*;
use sip_core::digest::{answer, Algorithm, Challenge, Qop, RequestParts};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A data directory with accounts, and a server on it.
fn server_with_users(
    accounts: &[(&str, &str, &str)],
    extra: &[&str],
) -> (tempfile::TempDir, Locus) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (user, domain, pw) in accounts {
        add_user(&data, user, domain, pw);
    }
    // Every algorithm, strongest first (the default offers MD5 only).
    let mut args = vec!["--auth-algorithms", "SHA-512-256,SHA-256,MD5"];
    if extra.contains(&"--auth-algorithms") {
        args.clear();
    }
    args.extend(extra);
    let locus = Locus::start_in(&data, &args);
    (tmp, locus)
}

fn alice_bob(extra: &[&str]) -> (tempfile::TempDir, Locus) {
    server_with_users(
        &[
            ("alice", "example.com", "alice-pw"),
            ("bob", "example.com", "bob-pw"),
        ],
        extra,
    )
}

/// The challenges of a 401.
fn challenges(resp: &Response) -> Vec<Challenge<'static>> {
    resp.headers("WWW-Authenticate")
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

/// The Authorization value answering the `alg` challenge of `resp`.
fn credentials(
    resp: &Response,
    alg: Algorithm,
    qop: Option<Qop>,
    user: &str,
    pw: &str,
    body: &[u8],
    nc: u32,
) -> String {
    let mut ch = challenges(resp)
        .into_iter()
        .find(|c| c.algorithm == alg)
        .unwrap_or_else(|| panic!("no {alg} challenge in:\n{}", resp.raw));
    ch.qop = qop.into_iter().collect();
    let parts = RequestParts {
        method: "REGISTER",
        uri: "sip:example.com",
        body,
    };
    answer(&ch, user, pw, parts, "0a4f113b", nc).to_string()
}

fn register(user: &str) -> Register {
    let mut r = Register::new(user);
    r.expires = Some("300".into());
    r
}

/// Registers `user` with `pw` through the challenge, with the strongest
/// algorithm offered.
fn register_ok(client: &UdpClient, user: &str, pw: &str) -> Response {
    let mut req = register(user);
    let first = client.request(&req.build());
    assert_eq!(first.code, 401, "{}", first.raw);
    let offered = challenges(&first);
    let strongest = Challenge::strongest(&offered)
        .expect("a challenge")
        .algorithm;
    req.cseq += 1;
    req.extra = vec![format!(
        "Authorization: {}",
        credentials(&first, strongest, Some(Qop::Auth), user, pw, b"", 1)
    )];
    client.request(&req.build())
}

#[test]
fn every_algorithm_and_qop_registers_over_udp_and_tcp() {
    let (_tmp, locus) = alice_bob(&[]);
    let udp = UdpClient::new(locus.udp_addr());
    let first = udp.request(&register("alice").build());
    assert_eq!(first.code, 401);
    let algs: Vec<Algorithm> = challenges(&first).iter().map(|c| c.algorithm).collect();
    assert_eq!(algs, Algorithm::ALL.to_vec(), "strongest first");
    for c in challenges(&first) {
        assert_eq!(c.realm, "example.com");
        assert_eq!(c.qop, vec![Qop::Auth, Qop::AuthInt]);
        assert!(c.opaque.is_some());
    }
    let body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\n";
    for alg in Algorithm::ALL {
        for qop in [Some(Qop::Auth), Some(Qop::AuthInt), None] {
            let mut req = register("alice");
            let first = udp.request(&req.build());
            req.cseq += 1;
            let body: &[u8] = if qop == Some(Qop::AuthInt) { body } else { b"" };
            let auth = credentials(&first, alg, qop, "alice", "alice-pw", body, 1);
            let text = req.build().replace(
                "Content-Length: 0\r\n\r\n",
                &format!(
                    "Authorization: {auth}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
                    body.len(),
                    String::from_utf8_lossy(body)
                ),
            );
            let ok = udp.request(&text);
            assert_eq!(ok.code, 200, "{alg} {qop:?}: {}", ok.raw);
            // auth-int covers the body: valid credentials (next nc) for
            // this body do not pass with another body.
            if qop == Some(Qop::AuthInt) {
                let next = credentials(&first, alg, qop, "alice", "alice-pw", body, 2);
                let tampered = text
                    .replace(&auth, &next)
                    .replace("branch=z9hG4bK", "branch=z9hG4bKtampered")
                    .replace("192.0.2.10\r\n", "192.0.2.66\r\n");
                assert_eq!(udp.request(&tampered).code, 401);
            }
        }
    }
    let mut tcp = TcpClient::connect(locus.tcp_addr());
    let mut req = register("bob");
    req.transport = "TCP";
    let first = tcp.request(&req.build());
    req.cseq += 1;
    req.extra = vec![format!(
        "Authorization: {}",
        credentials(
            &first,
            Algorithm::Sha256,
            Some(Qop::Auth),
            "bob",
            "bob-pw",
            b"",
            1
        )
    )];
    assert_eq!(tcp.request(&req.build()).code, 200);
    let (_, table) = bindings_cmd(&locus.data_dir, None);
    assert!(
        table.contains("sip:alice@example.com") && table.contains("sip:bob@example.com"),
        "{table}"
    );
}

#[test]
fn expired_nonce_is_stale_and_a_fresh_one_works() {
    let (_tmp, locus) = alice_bob(&["--nonce-lifetime", "1"]);
    let udp = UdpClient::new(locus.udp_addr());
    let mut req = register("alice");
    let first = udp.request(&req.build());
    // Answer the first challenge (a new nonce count each time) until its
    // one-second lifetime is over: until then it is accepted.
    let deadline = Instant::now() + WAIT;
    let mut nc = 0;
    let stale = loop {
        nc += 1;
        req.cseq += 1;
        req.extra = vec![format!(
            "Authorization: {}",
            credentials(
                &first,
                Algorithm::Sha256,
                Some(Qop::Auth),
                "alice",
                "alice-pw",
                b"",
                nc
            )
        )];
        let resp = udp.request(&req.build());
        if resp.code != 200 {
            break resp;
        }
        assert!(Instant::now() < deadline, "the nonce never went stale");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(stale.code, 401);
    assert!(challenges(&stale).iter().all(|c| c.stale), "{}", stale.raw);
    // Retry with the new nonce (again if this machine is slow enough for it to expire).
    let mut last = stale;
    for _ in 0..5 {
        req.cseq += 1;
        req.extra = vec![format!(
            "Authorization: {}",
            credentials(
                &last,
                Algorithm::Sha256,
                Some(Qop::Auth),
                "alice",
                "alice-pw",
                b"",
                1
            )
        )];
        last = udp.request(&req.build());
        if last.code == 200 {
            return;
        }
        assert!(challenges(&last).iter().all(|c| c.stale), "{}", last.raw);
    }
    panic!("never registered after stale: {}", last.raw);
}

#[test]
fn replayed_nonce_count_is_refused() {
    let (_tmp, locus) = alice_bob(&[]);
    let udp = UdpClient::new(locus.udp_addr());
    let mut req = register("alice");
    let first = udp.request(&req.build());
    req.cseq += 1;
    let auth = credentials(
        &first,
        Algorithm::Md5,
        Some(Qop::Auth),
        "alice",
        "alice-pw",
        b"",
        1,
    );
    req.extra = vec![format!("Authorization: {auth}")];
    assert_eq!(udp.request(&req.build()).code, 200);
    // A captured request sent again as a new transaction.
    req.cseq += 1;
    assert_eq!(udp.request(&req.build()).code, 401);
    // The next count of the same nonce is fine.
    req.cseq += 1;
    let auth = credentials(
        &first,
        Algorithm::Md5,
        Some(Qop::Auth),
        "alice",
        "alice-pw",
        b"",
        2,
    );
    req.extra = vec![format!("Authorization: {auth}")];
    assert_eq!(udp.request(&req.build()).code, 200);
}

/// A REGISTER for alice over TCP with fixed identifiers, so two answers
/// differ only in what the server chose.
fn fixed_register(auth: Option<&str>) -> String {
    format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bK-fixed\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=fixed\r\nTo: <sip:alice@example.com>\r\n\
         Call-ID: fixed-call\r\nCSeq: 7 REGISTER\r\nContact: <sip:alice@192.0.2.10:5062>\r\n{}Content-Length: 0\r\n\r\n",
        auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default()
    )
}

#[test]
fn unknown_user_wrong_password_wrong_realm_and_other_domain_look_the_same() {
    let (_tmp, locus) = server_with_users(
        &[
            ("alice", "example.com", "alice-pw"),
            ("carol", "other.org", "carol-pw"),
        ],
        &["--domain", "other.org"],
    );
    let mut tcp = TcpClient::connect(locus.tcp_addr());
    let first = tcp.request(&fixed_register(None));
    assert_eq!(first.code, 401);
    let mut realm_other = challenges(&first).remove(1);
    realm_other.realm = "other.org".into();
    let parts = RequestParts {
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    };
    let cases = [
        credentials(
            &first,
            Algorithm::Sha256,
            Some(Qop::Auth),
            "alice",
            "guess",
            b"",
            1,
        ),
        credentials(
            &first,
            Algorithm::Sha256,
            Some(Qop::Auth),
            "mallory",
            "guess",
            b"",
            2,
        ),
        credentials(
            &first,
            Algorithm::Sha256,
            Some(Qop::Auth),
            "carol",
            "carol-pw",
            b"",
            3,
        ),
        answer(&realm_other, "carol", "carol-pw", parts, "c", 4).to_string(),
    ];
    let mut seen: Vec<String> = Vec::new();
    let mut nonces = Vec::new();
    for auth in &cases {
        let resp = tcp.request(&fixed_register(Some(auth)));
        assert_eq!(resp.code, 401, "{}", resp.raw);
        let nonce = challenges(&resp)[0].nonce.to_string();
        nonces.push(nonce.clone());
        seen.push(resp.raw.replace(&nonce, "NONCE"));
    }
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s, &seen[0], "case {i} differs");
    }
    nonces.dedup();
    assert_eq!(
        nonces.len(),
        cases.len(),
        "each answer carries a fresh nonce"
    );
    // The same form as the first challenge too.
    assert_eq!(
        first
            .raw
            .replace(&challenges(&first)[0].nonce.to_string(), "NONCE"),
        seen[0]
    );
}

#[test]
fn only_the_own_aor_unless_granted() {
    let (_tmp, locus) = server_with_users(
        &[
            ("alice", "example.com", "alice-pw"),
            ("bob", "example.com", "bob-pw"),
            ("pbx", "example.com", "pbx-pw"),
        ],
        &["--allow-third-party", "pbx@example.com=*@example.com"],
    );
    let udp = UdpClient::new(locus.udp_addr());
    // alice tries to register bob's AOR.
    let mut req = register("bob");
    let first = udp.request(&req.build());
    req.cseq += 1;
    req.extra = vec![format!(
        "Authorization: {}",
        credentials(
            &first,
            Algorithm::Sha256,
            Some(Qop::Auth),
            "alice",
            "alice-pw",
            b"",
            1
        )
    )];
    let resp = udp.request(&req.build());
    assert_eq!(
        (resp.code, resp.reason.as_str()),
        (403, "Forbidden"),
        "{}",
        resp.raw
    );
    // The PBX may, by grant.
    req.cseq += 1;
    req.contacts = vec!["<sip:bob@192.0.2.99:5060>".into()];
    req.extra = vec![format!(
        "Authorization: {}",
        credentials(
            &first,
            Algorithm::Sha256,
            Some(Qop::Auth),
            "pbx",
            "pbx-pw",
            b"",
            2
        )
    )];
    assert_eq!(udp.request(&req.build()).code, 200);
    let (_, table) = bindings_cmd(&locus.data_dir, Some("bob@example.com"));
    assert!(table.contains("sip:bob@192.0.2.99:5060"), "{table}");
    assert!(!table.contains("sip:bob@192.0.2.10"), "{table}");
}

#[test]
fn repeated_failures_block_the_source_while_others_keep_registering() {
    let (_tmp, locus) = alice_bob(&["--failure-limit", "3", "--block-time", "600"]);
    let attacker = UdpClient::new(locus.udp_addr());
    let mut req = register("alice");
    let mut last = attacker.request(&req.build());
    for _ in 0..3 {
        req.cseq += 1;
        req.extra = vec![format!(
            "Authorization: {}",
            credentials(
                &last,
                Algorithm::Md5,
                Some(Qop::Auth),
                "alice",
                "password1",
                b"",
                1
            )
        )];
        last = attacker.request(&req.build());
        assert_eq!(last.code, 401);
    }
    // Blocked: dropped silently, even with no credentials at all.
    assert!(attacker
        .send_raw(register("alice").build().as_bytes())
        .is_none());
    // A well-behaved client on another address registers alice meanwhile.
    let other = UdpClient::bound("127.0.0.2", locus.udp_addr());
    let ok = register_ok(&other, "alice", "alice-pw");
    assert_eq!(ok.code, 200, "{}", ok.raw);
    assert!(attacker
        .send_raw(register("bob").build().as_bytes())
        .is_none());
}

#[test]
fn blocked_sources_can_get_403_instead() {
    let (_tmp, locus) = alice_bob(&["--failure-limit", "1", "--block-action", "403"]);
    let udp = UdpClient::new(locus.udp_addr());
    let mut req = register("alice");
    let first = udp.request(&req.build());
    req.cseq += 1;
    req.extra = vec![format!(
        "Authorization: {}",
        credentials(&first, Algorithm::Md5, None, "alice", "nope", b"", 1)
    )];
    assert_eq!(udp.request(&req.build()).code, 401);
    let resp = udp.request(&register("bob").build());
    assert_eq!(resp.code, 403, "{}", resp.raw);
}

#[test]
fn a_noisy_source_is_throttled_while_another_is_served() {
    let locus = Locus::start(&["--rate-limit", "20", "--rate-window", "60"]);
    let noisy = UdpClient::new(locus.udp_addr());
    let burst = 60;
    for i in 0..burst {
        let opt = format!(
            "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-noisy{i};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:n@example.com>;tag=n\r\nTo: <sip:example.com>\r\n\
             Call-ID: noisy-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        noisy
            .sock
            .send_to(opt.as_bytes(), locus.udp_addr())
            .unwrap();
    }
    // Answers are counted until none comes for the socket's 500 ms.
    let mut answered = 0;
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + WAIT;
    while noisy.sock.recv_from(&mut buf).is_ok() {
        answered += 1;
        assert!(Instant::now() < deadline, "answers kept coming");
    }
    assert!(
        (1..=25).contains(&answered),
        "{answered} of {burst} answered"
    );
    let calm = UdpClient::bound("127.0.0.2", locus.udp_addr());
    let ok = calm.request(&register("alice").build());
    assert_eq!(ok.code, 200, "{}", ok.raw);
}

fn out_text(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn users_command_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_user(&data, "alice", "Example.COM", "pw1");
    let again = users_cmd(
        &data,
        &[
            "add",
            "alice",
            "--domain",
            "example.com",
            "--password-stdin",
        ],
        Some("x\n"),
    );
    assert_eq!(again.status.code(), Some(1), "{:?}", out_text(&again));
    assert!(out_text(&again).1.contains("already exists"));
    let list = users_cmd(&data, &["list"], None);
    let (text, _) = out_text(&list);
    assert!(
        text.contains("alice@example.com") && text.contains("SHA-512-256,SHA-256,MD5"),
        "{text}"
    );
    assert!(text.contains("1 account(s)"), "{text}");
    let pw = users_cmd(
        &data,
        &[
            "passwd",
            "alice",
            "--domain",
            "example.com",
            "--password-stdin",
        ],
        Some("pw2\n"),
    );
    assert!(pw.status.success(), "{:?}", out_text(&pw));
    let missing = users_cmd(
        &data,
        &[
            "passwd",
            "zed",
            "--domain",
            "example.com",
            "--password-stdin",
        ],
        Some("x\n"),
    );
    assert_eq!(missing.status.code(), Some(1));
    // No terminal and no --password-stdin: refused with the way out named.
    let no_tty = users_cmd(
        &data,
        &["add", "bob", "--domain", "example.com"],
        Some("pw\n"),
    );
    assert_eq!(no_tty.status.code(), Some(2));
    assert!(out_text(&no_tty).1.contains("--password-stdin"));
    let bad = users_cmd(
        &data,
        &["add", "a b", "--domain", "example.com", "--password-stdin"],
        Some("pw\n"),
    );
    assert_eq!(bad.status.code(), Some(2));
    // Passwords are not stored.
    let db = std::fs::read(data.join("locus.db")).unwrap();
    assert!(!db.windows(3).any(|w| w == b"pw2"));
    let rm = users_cmd(&data, &["remove", "alice", "--domain", "example.com"], None);
    assert!(rm.status.success());
    let rm = users_cmd(&data, &["remove", "alice", "--domain", "example.com"], None);
    assert_eq!(rm.status.code(), Some(1));
    assert!(out_text(&users_cmd(&data, &["list"], None))
        .0
        .contains("0 account(s)"));
}

/// Retries `f` until it is true (the server reloads accounts every second).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_running_server_sees_account_changes() {
    // First run on loopback with no account: open. (High failure limits:
    // the retries below fail until the reload, and must not get blocked.)
    let locus = Locus::start(&["--failure-limit", "1000", "--user-failure-limit", "1000"]);
    assert!(locus
        .stdout_lines
        .iter()
        .any(|l| l.contains("open until the first account")));
    let udp = UdpClient::new(locus.udp_addr());
    assert_eq!(udp.request(&register("alice").build()).code, 200);
    add_user(&locus.data_dir, "alice", "example.com", "alice-pw");
    eventually("challenged once an account exists", || {
        udp.request(&register("alice").build()).code == 401
    });
    assert_eq!(register_ok(&udp, "alice", "alice-pw").code, 200);
    add_user(&locus.data_dir, "dave", "example.com", "dave-pw");
    eventually("dave can register", || {
        register_ok(&udp, "dave", "dave-pw").code == 200
    });
    let out = users_cmd(
        &locus.data_dir,
        &[
            "passwd",
            "dave",
            "--domain",
            "example.com",
            "--password-stdin",
        ],
        Some("new-pw\n"),
    );
    assert!(out.status.success());
    eventually("dave's new password works", || {
        register_ok(&udp, "dave", "new-pw").code == 200
    });
    assert_eq!(register_ok(&udp, "dave", "dave-pw").code, 401);
}

#[test]
fn htdigest_file_is_imported_md5_only() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("htdigest");
    let ha1 = sip_core::digest::ha1(Algorithm::Md5, "erin", "example.com", "erin-pw");
    std::fs::write(&file, format!("# imported\nerin:example.com:{ha1}\n")).unwrap();
    let data = tmp.path().join("data");
    let locus = Locus::start_in(
        &data,
        &[
            "--users-file",
            file.to_str().unwrap(),
            "--auth-algorithms",
            "MD5",
        ],
    );
    assert!(
        locus.stdout_lines.iter().any(|l| l.contains("1 added")),
        "{:?}",
        locus.stdout_lines
    );
    let udp = UdpClient::new(locus.udp_addr());
    let mut req = register("erin");
    let first = udp.request(&req.build());
    assert_eq!(challenges(&first).len(), 1);
    req.cseq += 1;
    req.extra = vec![format!(
        "Authorization: {}",
        credentials(
            &first,
            Algorithm::Md5,
            Some(Qop::Auth),
            "erin",
            "erin-pw",
            b"",
            1
        )
    )];
    assert_eq!(udp.request(&req.build()).code, 200);
    let list = out_text(&users_cmd(&data, &["list"], None)).0;
    assert!(
        list.contains("erin@example.com") && list.contains(" MD5"),
        "{list}"
    );
    assert!(!list.contains("SHA-256"), "{list}");
}

#[test]
fn a_bad_users_file_is_a_config_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("htdigest");
    std::fs::write(&file, "erin:example.com:nothex\n").unwrap();
    let out = run(
        Command::new(bin())
            .args([
                "serve",
                "--listen",
                "udp:127.0.0.1:0",
                "--users-file",
                file.to_str().unwrap(),
            ])
            .args(["--data-dir", tmp.path().join("d").to_str().unwrap()]),
        None,
        WAIT,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--users-file") && err.contains("line 1"),
        "{err}"
    );
}

fn refused(data: &Path, listen: &str) -> String {
    let out = run(
        Command::new(bin()).args([
            "serve",
            "--listen",
            listen,
            "--data-dir",
            data.to_str().unwrap(),
        ]),
        None,
        WAIT,
    );
    assert_eq!(out.status.code(), Some(2), "{:?}", out_text(&out));
    assert!(
        out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("listening on")
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_public_listener_without_accounts_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let err = refused(&tmp.path().join("d"), "udp:0.0.0.0:0");
    assert!(err.contains("refusing to listen on udp:0.0.0.0:0"), "{err}");
    assert!(
        err.contains("locus users add") && err.contains("--auth off"),
        "{err}"
    );
}

#[test]
fn the_default_offers_md5_only_so_legacy_clients_can_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_user(&data, "alice", "example.com", "alice-pw");
    let locus = Locus::start_in(&data, &[]);
    let udp = UdpClient::new(locus.udp_addr());
    let first = udp.request(&register("alice").build());
    assert_eq!(first.code, 401);
    let lines = first.headers("WWW-Authenticate");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("algorithm=MD5") && lines[0].contains("qop=\"auth,auth-int\""),
        "{lines:?}"
    );
    assert_eq!(register_ok(&udp, "alice", "alice-pw").code, 200);
}
