//! `locus bench` against a real `locus serve` over loopback: bounded runs
//! with and without digest auth, over UDP and TCP, in each mode; the JSON
//! report; refusal of non-loopback targets and bad flags; a run against a
//! socket that never answers is bounded by --duration and --drain and
//! reports timeouts. No timing thresholds: only counts and fields.

mod common;

use common::*;
use serde_json::Value;
use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    run(
        Command::new(bin()).arg("bench").args(args),
        None,
        CLIENT_WAIT,
    )
}

fn json_report(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "one JSON object expected on stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON: {}: {e}", lines[0]))
}

/// Checks a run that should have succeeded entirely.
fn assert_all_ok(out: &Output, count: u64) -> Value {
    let v = json_report(out);
    assert!(
        out.status.success(),
        "exit {:?}: {v}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["operations"], count, "{v}");
    assert_eq!(v["successes"], count, "{v}");
    assert_eq!(v["failed"], 0, "{v}");
    assert_eq!(v["timeouts"], 0, "{v}");
    assert!(v["failures"].as_object().unwrap().is_empty(), "{v}");
    let lat = &v["latency_us"];
    for k in ["p50", "p90", "p99", "max"] {
        assert!(lat[k].as_u64().is_some_and(|x| x > 0), "latency {k}: {v}");
    }
    assert!(lat["p50"].as_u64() <= lat["p99"].as_u64(), "{v}");
    assert!(lat["p99"].as_u64() <= lat["max"].as_u64(), "{v}");
    assert!(v["rate"].as_f64().is_some_and(|r| r > 0.0), "{v}");
    assert!(v["elapsed_s"].as_f64().is_some(), "{v}");
    assert!(v["cpu"]["us_per_registration"].as_f64().is_some(), "{v}");
    v
}

fn target(l: &Locus, transport: &str) -> String {
    let addr = match transport {
        "udp" => l.udp_addr(),
        _ => l.tcp_addr(),
    };
    format!("{transport}:{addr}")
}

#[test]
fn bench_without_auth_udp_and_tcp() {
    let server = Locus::start(&["--rate-limit", "0"]);
    for transport in ["udp", "tcp"] {
        let t = target(&server, transport);
        let out = bench(&[
            &t,
            "--users",
            "50",
            "--count",
            "300",
            "--sockets",
            "2",
            "--json",
        ]);
        let v = assert_all_ok(&out, 300);
        assert_eq!(v["mode"], "register");
        assert_eq!(v["auth"], false);
        assert_eq!(v["successes_by_operation"]["register"], 300);
        assert_eq!(v["first_aor"], "sip:u1@example.com");
        assert_eq!(v["last_aor"], "sip:u50@example.com");
    }
    // Every generated AOR is registered at the server.
    let (st, table) = bindings_cmd(&server.data_dir, Some("sip:u50@example.com"));
    assert!(st.success(), "{table}");
    assert!(table.contains("u50@127.0.0.1"), "{table}");
}

#[test]
fn bench_modes_refresh_remove_mixed() {
    let server = Locus::start(&["--rate-limit", "0"]);
    let t = target(&server, "udp");
    let out = bench(&[
        &t,
        "--users",
        "40",
        "--count",
        "120",
        "--mode",
        "refresh",
        "--expires",
        "600",
        "--json",
    ]);
    let v = assert_all_ok(&out, 120);
    assert_eq!(v["setup"]["successes"], 40, "{v}");
    assert_eq!(v["successes_by_operation"]["refresh"], 120, "{v}");

    let out = bench(&[
        &t, "--users", "40", "--count", "40", "--mode", "remove", "--json",
    ]);
    let v = assert_all_ok(&out, 40);
    assert_eq!(v["successes_by_operation"]["remove"], 40, "{v}");
    // The contact is the run's own socket address: the remove run's setup
    // registered one and removed it; the refresh run's binding remains.
    let (_, table) = bindings_cmd(&server.data_dir, Some("sip:u7@example.com"));
    assert_eq!(table.matches("u7@127.0.0.1").count(), 1, "{table}");

    let out = bench(&[
        &t, "--users", "10", "--count", "80", "--mode", "mixed", "--json",
    ]);
    let v = assert_all_ok(&out, 80);
    let b = &v["successes_by_operation"];
    for k in ["register", "refresh", "remove"] {
        assert!(b[k].as_u64().unwrap() > 0, "{k}: {v}");
    }
}

#[test]
fn bench_with_digest_auth() {
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users.htdigest");
    let out = bench(&[
        "--users",
        "60",
        "--password",
        "s3cret",
        "--write-users-file",
        users.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&users).unwrap();
    assert_eq!(text.lines().count(), 60);
    assert!(text.starts_with("u1:example.com:"), "{text}");

    let server = Locus::start(&["--rate-limit", "0", "--users-file", users.to_str().unwrap()]);
    for transport in ["udp", "tcp"] {
        let t = target(&server, transport);
        let out = bench(&[
            &t,
            "--users",
            "60",
            "--count",
            "240",
            "--password",
            "s3cret",
            "--json",
        ]);
        let v = assert_all_ok(&out, 240);
        assert_eq!(v["auth"], true);
    }
    // Refreshes reuse the challenge (nonce count), and still succeed.
    let t = target(&server, "udp");
    let out = bench(&[
        &t,
        "--users",
        "60",
        "--count",
        "120",
        "--password",
        "s3cret",
        "--mode",
        "refresh",
        "--json",
    ]);
    let v = assert_all_ok(&out, 120);
    assert_eq!(v["setup"]["successes"], 60, "{v}");

    // The text report.
    let out = bench(&[&t, "--users", "10", "--count", "20", "--password", "s3cret"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "20 started, 20 succeeded, 0 failed",
        "registrations/s",
        "latency:     p50",
        "401 round trip included",
        "µs/registration",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }

    // Without the password, the challenge is a failure counted by status.
    let out = bench(&[&t, "--users", "3", "--count", "3", "--json"]);
    let v = json_report(&out);
    assert_eq!(out.status.code(), Some(1), "{v}");
    assert_eq!(v["successes"], 0, "{v}");
    assert_eq!(v["failures"]["401 (no --password)"], 3, "{v}");
}

#[test]
fn non_loopback_target_is_refused() {
    for t in [
        "udp:192.0.2.1:5060",
        "tcp:198.51.100.7:5060",
        "[2001:db8::1]:5060",
    ] {
        let out = bench(&[t, "--count", "1"]);
        assert_eq!(out.status.code(), Some(2), "{t}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a loopback address"), "{err}");
        assert!(err.contains("--allow-remote"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["127.0.0.1:5060", "--users", "0"], "--users"),
        (&["127.0.0.1:5060", "--rate", "0"], "--rate"),
        (&["127.0.0.1:5060", "--rate=-5"], "--rate"),
        (&["127.0.0.1:5060", "--duration", "0"], "--duration"),
        (&["127.0.0.1:5060", "--sockets", "0"], "--sockets"),
        (&["127.0.0.1:5060", "--concurrency", "0"], "--concurrency"),
        (&["127.0.0.1:5060", "--mode", "storm"], "--mode"),
        (&["127.0.0.1:5060", "--domain", "a b"], "--domain"),
        (&["127.0.0.1:5060", "--user-prefix", "a@b"], "--user-prefix"),
        (&["127.0.0.1:5060", "--count", "x"], "--count"),
        (&["localhost:5060"], "TARGET"),
        (&["sctp:127.0.0.1:5060"], "TARGET"),
        (&["--users", "3"], "TARGET"),
    ];
    for (args, flag) in cases {
        let out = bench(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn duration_bounds_a_run_against_a_silent_server() {
    // A socket that receives and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let t = format!("udp:{}", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let out = bench(&[
        &t,
        "--users",
        "5",
        "--count",
        "1000000",
        "--duration",
        "1",
        "--drain",
        "1",
        "--json",
    ]);
    // A hang guard, not a performance threshold.
    assert!(started.elapsed() < WAIT, "the run was not bounded");
    let v = json_report(&out);
    assert_eq!(out.status.code(), Some(1), "nothing succeeded: {v}");
    assert_eq!(v["successes"], 0, "{v}");
    let ops = v["operations"].as_u64().unwrap();
    assert!(ops >= 5, "every AOR was tried: {v}");
    assert_eq!(v["timeouts"].as_u64(), Some(ops), "{v}");
    assert_eq!(v["failures"]["timeout"].as_u64(), Some(ops), "{v}");
    assert!(v["latency_us"].is_null(), "{v}");
    assert!(v["retransmissions"].as_u64().unwrap() > 0, "{v}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--rate-limit 0"), "hint expected: {err}");

    // --timeout ends operations before Timer F, so more are tried.
    let out = bench(&[
        &t,
        "--users",
        "2",
        "--duration",
        "2",
        "--timeout",
        "0.3",
        "--json",
    ]);
    let v = json_report(&out);
    assert!(v["operations"].as_u64().unwrap() > 2, "{v}");
    assert_eq!(v["timeouts"], v["operations"], "{v}");
    drop(silent);
}
