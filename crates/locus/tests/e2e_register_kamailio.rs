//! Interop: `locus register` against Kamailio, a registrar no one here
//! wrote: digest authentication (MD5, qop auth, password "secret" for every
//! user), a wrong password, and register / refresh / query / remove
//! without authentication. Kamailio is required (`apt-get install
//! kamailio`); a missing binary fails the test. Each test starts its own
//! Kamailio on a free loopback port and stops it by PID.

mod common;

use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Kamailio's message (on stderr, then exit) when a listen port is taken.
const KAMAILIO_PORT_TAKEN: &str = "Address already in use";

struct Kamailio {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Kamailio {
    /// Starts Kamailio on a free port: it cannot bind port 0 and say which
    /// port it got. When another process took the port meanwhile, Kamailio
    /// says so and exits, and the start is retried on another port, up to
    /// PORT_TRIES times.
    fn start(auth: bool) -> Kamailio {
        let kamailio = tool("kamailio", "kamailio");
        for _ in 0..PORT_TRIES {
            match Kamailio::start_on(&kamailio, free_port(), auth) {
                Ok(k) => return k,
                Err(stderr) if stderr.contains(KAMAILIO_PORT_TAKEN) => continue,
                Err(stderr) => panic!("kamailio did not start: {stderr}"),
            }
        }
        panic!("kamailio found each of {PORT_TRIES} free ports taken");
    }

    /// Kamailio on UDP and TCP `port`, once it answers OPTIONS with the
    /// Server header this start gave it (so the answer is from this
    /// Kamailio, not from another process on the port); or, if it exited
    /// first, its stderr.
    fn start_on(kamailio: &PathBuf, port: u16, auth: bool) -> Result<Kamailio, String> {
        let cfg =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/kamailio/registrar.cfg");
        let text = std::fs::read_to_string(&cfg).unwrap();
        // Short lifetimes so a refresh across an expiry interval is quick.
        let text = text.replace("\"min_expires\", 60", "\"min_expires\", 1");
        assert!(text.contains("\"min_expires\", 1"));
        let server = unique("kamailio-test-");
        let text = text.replace(
            "server_header=\"Server: kamailio-bench\"",
            &format!("server_header=\"Server: {server}\""),
        );
        assert!(text.contains(&server));
        let dir = tempfile::tempdir().unwrap();
        let cfg_path = dir.path().join("registrar.cfg");
        std::fs::write(&cfg_path, text).unwrap();
        let mut cmd = Command::new(kamailio);
        cmd.arg("-f")
            .arg(&cfg_path)
            .args(["-l", &format!("udp:127.0.0.1:{port}")])
            .args(["-l", &format!("tcp:127.0.0.1:{port}")])
            .args(["-DD", "-E", "-Y"])
            .arg(dir.path());
        if auth {
            cmd.args(["-A", "WITH_AUTH"]);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kamailio");
        // Read on, so that Kamailio never blocks on a full pipe.
        let stderr = Lines::new(child.stderr.take().unwrap());
        let mut k = Kamailio {
            child,
            port,
            _dir: dir,
        };
        let client = UdpClient::new(SocketAddr::from(([127, 0, 0, 1], port)));
        let deadline = Instant::now() + WAIT;
        loop {
            let opt = format!(
                "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch={}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:probe@example.com>;tag=1\r\nTo: <sip:probe@example.com>\r\n\
                 Call-ID: {}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                unique("z9hG4bK"),
                unique("probe")
            );
            if let Some(r) = client.send_raw(opt.as_bytes()) {
                if r.header("Server").as_deref() == Some(server.as_str()) {
                    return Ok(k);
                }
            }
            if let Ok(Some(status)) = k.child.try_wait() {
                return Err(format!(
                    "{status}: {}",
                    stderr.rest("kamailio stderr").join("\n")
                ));
            }
            assert!(Instant::now() < deadline, "kamailio did not start");
        }
    }

    fn registrar(&self, transport: &str) -> String {
        format!("sip:127.0.0.1:{};transport={transport}", self.port)
    }
}

impl Drop for Kamailio {
    /// SIGTERM (Kamailio then stops its worker processes), SIGKILL if it
    /// has not exited within WAIT.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            send_signal(&self.child, libc::SIGTERM);
        }
        let _ = wait_within(&mut self.child, WAIT);
    }
}

fn json(out: &str) -> Value {
    serde_json::from_str(out.lines().next().unwrap_or("")).unwrap_or_else(|e| panic!("{out}: {e}"))
}

fn count(v: &Value) -> usize {
    v["bindings"].as_array().unwrap().len()
}

#[test]
fn digest_auth_against_kamailio_and_a_wrong_password_fails_without_looping() {
    let k = Kamailio::start(true);
    for transport in ["udp", "tcp"] {
        let reg = k.registrar(transport);
        let aor = format!("sip:bob-{transport}@example.com");
        let base = [
            aor.as_str(),
            "--registrar",
            &reg,
            "--password-stdin",
            "--json",
        ];
        let run = |extra: &[&str], pw: &str| {
            let mut a: Vec<&str> = base.to_vec();
            a.extend(extra);
            register_cmd(&a, Some(&format!("{pw}\n")))
        };
        let r = run(
            &["--once", "--contact", "sip:bob@192.0.2.4:5062", "-v"],
            "secret",
        );
        assert!(r.status.success(), "{}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("SIP/2.0 401"), "{}", r.stderr);
        assert!(
            r.stderr.contains("Authorization: Digest username=\"bob-"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("qop=auth"), "{}", r.stderr);
        let v = json(&r.stdout);
        assert_eq!(v["status"], 200);
        assert_eq!(count(&v), 1);

        let r = run(&["--query"], "secret");
        assert!(r.status.success(), "{}", r.stderr);
        assert_eq!(count(&json(&r.stdout)), 1);

        // A wrong password: one answer, then a clear failure and exit 1.
        let r = run(&["--once", "-v"], "not-the-password");
        assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
        assert!(r.stderr.contains("authentication failed"), "{}", r.stderr);
        let sent = r.stderr.matches("REGISTER sip:example.com SIP/2.0").count();
        assert_eq!(sent, 2, "{}", r.stderr);

        // No password at all.
        let r = register_cmd(&[aor.as_str(), "--registrar", &reg, "--once"], None);
        assert_eq!(r.status.code(), Some(1));
        assert!(r.stderr.contains("no password"), "{}", r.stderr);

        let r = run(&["--remove-all"], "secret");
        assert!(r.status.success(), "{}", r.stderr);
        assert_eq!(count(&json(&r.stdout)), 0);
    }
}

#[test]
fn register_refresh_query_and_remove_against_kamailio_without_auth() {
    let k = Kamailio::start(false);
    let reg = k.registrar("udp");
    let aor = "sip:carol@example.com";
    let child = Command::new(bin())
        .args([
            "register",
            aor,
            "--registrar",
            &reg,
            "--expires",
            "2",
            "--contact",
            "sip:carol@192.0.2.4:5062",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let out = Lines::new(child.0.stdout.take().unwrap());
    let mut seen = 0;
    while seen < 3 {
        let line = out.next_line("registration line").expect("client exited");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["operation"], "register");
        assert_eq!(v["granted"], 2);
        seen += 1;
    }
    let q = register_cmd(&[aor, "--registrar", &reg, "--query", "--json"], None);
    assert_eq!(count(&json(&q.stdout)), 1, "{}", q.stdout);
    send_signal(&child.0, libc::SIGINT);
    let rest = out.rest("client after SIGINT").join("\n");
    let status = wait_within(&mut child.0, WAIT).expect("client did not exit after SIGINT");
    assert!(status.success());
    assert!(rest.contains("\"unregister\""), "{rest}");
    let q = register_cmd(&[aor, "--registrar", &reg, "--query", "--json"], None);
    assert_eq!(count(&json(&q.stdout)), 0, "{}", q.stdout);

    // Register two, remove one, remove all.
    for c in ["sip:carol@192.0.2.4:5062", "sip:carol@192.0.2.5:5062"] {
        let r = register_cmd(
            &[
                aor,
                "--registrar",
                &reg,
                "--once",
                "--contact",
                c,
                "--expires",
                "60",
            ],
            None,
        );
        assert!(r.status.success(), "{}", r.stderr);
    }
    let r = register_cmd(
        &[
            aor,
            "--registrar",
            &reg,
            "--remove",
            "sip:carol@192.0.2.4:5062",
            "--json",
        ],
        None,
    );
    assert!(r.status.success(), "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(count(&v), 1);
    assert_eq!(v["bindings"][0]["contact"], "sip:carol@192.0.2.5:5062");
    let r = register_cmd(&[aor, "--registrar", &reg, "--remove-all", "--json"], None);
    assert!(r.status.success(), "{}", r.stderr);
    assert_eq!(count(&json(&r.stdout)), 0);
}
