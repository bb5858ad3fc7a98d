//! `locus register` against a real `locus serve` over loopback: register
//! once, refresh across an expiry interval, query, remove one, remove all,
//! 423, `-v`, `--json`, over UDP, TCP and IPv6; exit codes and messages.

mod common;

use common::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Instant;

const AOR: &str = "sip:alice@example.com";

/// A server on UDP and TCP `listen_host`, each on a port the kernel picks.
fn server(listen_host: &str, extra: &[&str]) -> Locus {
    let listen = vec![
        format!("udp:{listen_host}:0"),
        format!("tcp:{listen_host}:0"),
    ];
    let mut flags = vec!["--domain", "example.com"];
    flags.extend(extra);
    Locus::start_with(&[], &listen, &flags)
}

/// The `--registrar` URI of the server's listener for `transport`.
fn uri_of(l: &Locus, transport: &str) -> String {
    match transport {
        "udp" => format!("sip:{}", l.udp_addr()),
        _ => format!("sip:{}", l.tcp_addr()),
    }
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn contacts_of(v: &Value) -> Vec<(String, Option<u64>, bool)> {
    v["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["contact"].as_str().unwrap().to_string(),
                b["expires"].as_u64(),
                b["ours"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Register once, query, remove one, remove all, over one transport.
fn lifecycle(registrar: &str, transport: &str, contact_host: &str) {
    let c1 = format!("sip:alice@{contact_host}:5062");
    let c2 = format!("sip:alice@{contact_host}:5063");
    let base = ["--registrar", registrar, "--transport", transport, "--json"];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = vec![AOR];
        args.extend(base);
        args.extend(extra);
        let r = register_cmd(&args, None);
        assert!(
            r.status.success(),
            "{args:?} failed: {}\n{}",
            r.stdout,
            r.stderr
        );
        let lines = json_lines(&r.stdout);
        assert_eq!(lines.len(), 1, "{}", r.stdout);
        lines.into_iter().next().unwrap()
    };
    let c2_with_q = format!("<{c2}>;q=0.5;expires=300");
    let v = run(&[
        "--once",
        "--contact",
        &c1,
        "--contact",
        &c2_with_q,
        "--expires",
        "600",
    ]);
    assert_eq!(v["status"], 200);
    assert_eq!(v["operation"], "register");
    assert_eq!(v["granted"], 300, "the shortest lifetime granted to ours");
    let mut got = contacts_of(&v);
    got.sort();
    assert_eq!(
        got,
        vec![(c1.clone(), Some(600), true), (c2.clone(), Some(300), true)]
    );
    let q2 = v["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["contact"] == c2.as_str())
        .unwrap()["q"]
        .clone();
    assert_eq!(q2, "0.5");

    let v = run(&["--query"]);
    assert_eq!(v["operation"], "query");
    assert_eq!(contacts_of(&v).len(), 2);

    let v = run(&["--remove", &c1]);
    let left = contacts_of(&v);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, c2);

    let v = run(&["--remove-all"]);
    assert!(contacts_of(&v).is_empty());
    let v = run(&["--query"]);
    assert!(contacts_of(&v).is_empty());
}

#[test]
fn once_query_remove_and_remove_all_over_udp_and_tcp() {
    let l = server("127.0.0.1", &[]);
    lifecycle(&uri_of(&l, "udp"), "udp", "192.0.2.4");
    lifecycle(&uri_of(&l, "tcp"), "tcp", "192.0.2.4");
}

#[test]
fn once_query_remove_and_remove_all_over_ipv6() {
    let l = server("[::1]", &[]);
    lifecycle(&uri_of(&l, "udp"), "udp", "[2001:db8::4]");
    lifecycle(&uri_of(&l, "tcp"), "tcp", "[2001:db8::4]");
}

#[test]
fn human_output_is_a_table_and_derived_contact_is_ours() {
    let l = server("127.0.0.1", &[]);
    let registrar = uri_of(&l, "udp");
    let r = register_cmd(&[AOR, "--registrar", &registrar, "--once"], None);
    assert!(r.status.success(), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("registered sip:alice@example.com at udp:127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert!(lines[1].starts_with("CONTACT"), "{}", r.stdout);
    assert!(lines[1].contains("EXPIRES") && lines[1].ends_with('Q'));
    // Contact derived from the local socket, marked as ours.
    assert!(
        lines[2].starts_with("sip:alice@127.0.0.1:") && lines[2].contains(" *"),
        "{}",
        r.stdout
    );
    assert!(lines[2].contains("3600"));
}

#[test]
fn verbose_prints_every_message_and_423_is_retried_with_min_expires() {
    let l = server("127.0.0.1", &["--min-expires", "60"]);
    let registrar = uri_of(&l, "udp");
    let r = register_cmd(
        &[
            AOR,
            "--registrar",
            &registrar,
            "--once",
            "--expires",
            "10",
            "--contact",
            "sip:alice@192.0.2.4",
            "--json",
            "-v",
        ],
        None,
    );
    assert!(r.status.success(), "{}", r.stderr);
    let v = &json_lines(&r.stdout)[0];
    assert_eq!(v["granted"], 60);
    let e = &r.stderr;
    assert!(e.contains("REGISTER sip:example.com SIP/2.0"), "{e}");
    assert!(e.contains("SIP/2.0 423 Interval Too Brief"), "{e}");
    assert!(e.contains("Min-Expires: 60"), "{e}");
    assert!(
        e.contains("CSeq: 1 REGISTER") && e.contains("CSeq: 2 REGISTER"),
        "{e}"
    );
    assert!(
        e.contains("Contact: <sip:alice@192.0.2.4>;expires=60"),
        "{e}"
    );
    assert!(e.contains("SIP/2.0 200 OK"), "{e}");
    // One Call-ID for both requests.
    let call_ids: std::collections::BTreeSet<&str> = e
        .lines()
        .filter_map(|l| l.strip_prefix("Call-ID: "))
        .collect();
    assert_eq!(call_ids.len(), 1, "{e}");
}

#[test]
fn refresh_loop_keeps_the_binding_across_expiry_and_unregisters_on_sigterm() {
    for transport in ["udp", "tcp"] {
        let l = server("127.0.0.1", &["--min-expires", "1"]);
        let registrar = uri_of(&l, transport);
        // The queries name no transport: they go to the UDP listener.
        let query = uri_of(&l, "udp");
        let child = Command::new(bin())
            .args([
                "register",
                AOR,
                "--registrar",
                &registrar,
                "--transport",
                transport,
                "--expires",
                "2",
                "--contact",
                "sip:alice@192.0.2.4:5062",
                "--json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let out = Lines::new(child.0.stdout.take().unwrap());
        let started = Instant::now();
        let mut registrations = 0;
        // Three successful registrations span more than one 2 s lifetime.
        while registrations < 3 {
            let line = out.next_line("registration line").expect("client exited");
            let v: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["operation"], "register");
            assert_eq!(v["granted"], 2);
            // The refresh is due halfway through the 2 s granted.
            let refresh_in = v["refresh_in"].as_u64().unwrap();
            assert!(refresh_in <= 1, "refreshed before expiry: {v}");
            registrations += 1;
            assert!(started.elapsed() < WAIT, "refresh loop too slow to observe");
        }
        // Still registered now, after more than one expiry interval.
        let q = register_cmd(&[AOR, "--registrar", &query, "--query", "--json"], None);
        let v = &json_lines(&q.stdout)[0];
        assert_eq!(contacts_of(v).len(), 1, "{}", q.stdout);
        // SIGTERM: the client removes its binding and exits 0.
        send_signal(&child.0, libc::SIGTERM);
        let rest = out.rest("client after SIGTERM").join("\n");
        let status = wait_within(&mut child.0, WAIT).expect("client did not exit after SIGTERM");
        assert!(status.success(), "{status:?}");
        let last = json_lines(&rest).pop().expect("an unregister line");
        assert_eq!(last["operation"], "unregister");
        let q = register_cmd(&[AOR, "--registrar", &query, "--query", "--json"], None);
        assert!(contacts_of(&json_lines(&q.stdout)[0]).is_empty());
    }
}

#[test]
fn refusals_exit_1_with_the_status_and_bad_flags_exit_2_naming_the_flag() {
    let l = server("127.0.0.1", &[]);
    let registrar = uri_of(&l, "udp");
    let r = register_cmd(
        &[
            "sip:alice@other.example",
            "--registrar",
            &registrar,
            "--once",
        ],
        None,
    );
    assert_eq!(r.status.code(), Some(1));
    assert!(
        r.stderr.contains("404 Domain Not Served Here"),
        "{}",
        r.stderr
    );

    for (args, flag) in [
        (vec![AOR, "--q", "1.5"], "--q"),
        (vec![AOR, "--registrar", "http://x"], "--registrar"),
        (vec![AOR, "--contact", "not a uri"], "--contact"),
        (vec![AOR, "--transport", "sctp"], "--transport"),
        (vec![AOR, "--once", "--query"], "--once"),
        (vec![AOR, "--dns-server", "nowhere"], "--dns-server"),
        (vec!["alice"], "AOR"),
    ] {
        let r = register_cmd(&args, None);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(flag), "{args:?}: {}", r.stderr);
    }
}
