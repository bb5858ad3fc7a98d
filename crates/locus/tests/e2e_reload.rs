//! Reloading the real `locus serve` while it holds registrations: SIGHUP
//! and `POST /api/v1/reload` re-read the config file; a good one applies
//! to the next REGISTER while the bindings and TCP connections stay, a
//! broken one is refused whole (the reason logged) and the old
//! configuration keeps serving.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The config file of these tests: example.com, lifetimes up to `max`.
fn config(max: u32) -> String {
    format!(
        "domains = [\"example.com\"]\nmin_expires = 60\ndefault_expires = 600\n\
         max_expires = {max}\n"
    )
}

/// A server on UDP loopback reading `dir/locus.toml` (written with
/// `text`), logging to a file.
fn start(dir: &Path, text: &str) -> (Locus, PathBuf, PathBuf) {
    let file = dir.join("locus.toml");
    std::fs::write(&file, text).unwrap();
    let listen = vec!["udp:127.0.0.1:0".to_string(), "tcp:127.0.0.1:0".to_string()];
    let (locus, log) = Locus::start_logged(&listen, &["--config", file.to_str().unwrap()]);
    (locus, file, log)
}

/// The lifetime granted to `user`'s contact for a REGISTER asking 7200 s.
fn granted(locus: &Locus, user: &str) -> u64 {
    let udp = UdpClient::new(locus.udp_addr());
    let mut reg = Register::new(user);
    reg.expires = Some("7200".into());
    let response = udp.request(&reg.build());
    assert_eq!(response.code, 200, "{}", response.raw);
    let contact = format!("sip:{user}@192.0.2.10:5062");
    response
        .contacts()
        .into_iter()
        .find(|(uri, _)| *uri == contact)
        .map(|(_, expires)| expires)
        .unwrap_or_else(|| panic!("no {contact} in {}", response.raw))
}

/// Registers as `user-N` until the lifetime granted is `want`, within
/// WAIT (a reload applies to the requests after it).
fn wait_granted(locus: &Locus, user: &str, want: u64) {
    let deadline = Instant::now() + WAIT;
    for n in 0.. {
        let got = granted(locus, &format!("{user}{n}"));
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "still granted {got}, not {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The AORs the server holds bindings of, from its admin API.
fn aors(locus: &Locus) -> Vec<String> {
    let url = format!("{}/api/v1/bindings?limit=1000", locus.admin());
    let list: Value = http()
        .get(url)
        .bearer_auth(locus.token())
        .send()
        .unwrap()
        .json()
        .unwrap();
    list["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["aor"].as_str().unwrap().to_owned())
        .collect()
}

fn post_reload(locus: &Locus) -> (u16, Value) {
    let response = http()
        .post(format!("{}/api/v1/reload", locus.admin()))
        .bearer_auth(locus.token())
        .send()
        .unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

#[test]
fn sighup_applies_the_changed_file_and_keeps_the_bindings() {
    let tmp = tempfile::tempdir().unwrap();
    let (locus, file, log) = start(tmp.path(), &config(3600));
    assert_eq!(granted(&locus, "alice"), 3600);
    let mut tcp = TcpClient::connect(locus.tcp_addr());
    let mut dave = Register::new("dave");
    dave.transport = "TCP";
    dave.expires = Some("7200".into());
    assert_eq!(tcp.request(&dave.build()).code, 200);

    std::fs::write(&file, config(1800)).unwrap();
    send_signal(locus.child.as_ref().unwrap(), libc::SIGHUP);
    wait_for_log(&log, "configuration reloaded");
    wait_granted(&locus, "bob", 1800);

    // The TCP connection opened before the reload still serves, under
    // the new limits.
    dave.cseq += 1;
    let refreshed = tcp.request(&dave.build());
    assert_eq!(refreshed.code, 200, "{}", refreshed.raw);
    assert!(
        refreshed
            .contacts()
            .contains(&("sip:dave@192.0.2.10:5062".to_string(), 1800)),
        "{}",
        refreshed.raw
    );

    // alice's binding, made before the reload, is still there.
    assert!(
        aors(&locus).contains(&"sip:alice@example.com".to_string()),
        "{:?}",
        aors(&locus)
    );
    // A second SIGHUP with the same file changes nothing and is fine.
    send_signal(locus.child.as_ref().unwrap(), libc::SIGHUP);
    assert_eq!(granted(&locus, "carol"), 1800);
}

#[test]
fn sighup_with_a_broken_file_is_refused_and_the_old_config_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut locus, file, log) = start(tmp.path(), &config(3600));
    assert_eq!(granted(&locus, "alice"), 3600);

    std::fs::write(
        &file,
        "domains = [\"example.com\"]\nmax_expires = \"lots\"\n",
    )
    .unwrap();
    send_signal(locus.child.as_ref().unwrap(), libc::SIGHUP);
    let text = wait_for_log(&log, "reload refused");
    let line = text.lines().find(|l| l.contains("reload refused")).unwrap();
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("max_expires"), "{line}");
    assert_eq!(granted(&locus, "bob"), 3600);

    // Well-formed but inconsistent: refused too, whole.
    std::fs::write(&file, "min_expires = 600\nmax_expires = 300\n").unwrap();
    send_signal(locus.child.as_ref().unwrap(), libc::SIGHUP);
    let deadline = Instant::now() + WAIT;
    while read_log(&log).matches("reload refused").count() < 2 {
        assert!(Instant::now() < deadline, "second reload not refused");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(granted(&locus, "carol"), 3600);
    assert!(aors(&locus).len() >= 3);
    assert_eq!(locus.terminate().code(), Some(0));
}

#[test]
fn post_reload_applies_reports_restarts_and_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let (locus, file, log) = start(tmp.path(), &config(3600));
    assert_eq!(granted(&locus, "alice"), 3600);

    let (status, body) = post_reload(&locus);
    assert_eq!((status, body["reloaded"].clone()), (200, Value::Bool(true)));
    assert_eq!(body["restart_needed"], serde_json::json!([]), "{body}");

    std::fs::write(&file, format!("{}tcp_idle_timeout = 30\n", config(1200))).unwrap();
    let (status, body) = post_reload(&locus);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["restart_needed"],
        serde_json::json!(["tcp_idle_timeout"])
    );
    assert_eq!(granted(&locus, "bob"), 1200);
    let text = read_log(&log);
    assert!(text.contains("tcp_idle_timeout"), "{text}");

    std::fs::write(&file, "unknown_key = 1\n").unwrap();
    let (status, body) = post_reload(&locus);
    assert_eq!(status, 422, "{body}");
    let reason = body["error"].as_str().unwrap();
    assert!(reason.contains("unknown_key"), "{reason}");
    assert_eq!(granted(&locus, "carol"), 1200);
    wait_for_log(&log, "reload refused");
    assert!(aors(&locus).contains(&"sip:alice@example.com".to_string()));
}
