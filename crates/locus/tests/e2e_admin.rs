//! The admin listener of the real `locus serve` over real HTTP, after real
//! SIP REGISTERs: health, metrics (checked by Prometheus's `promtool`),
//! the REST API, and the management commands (`locus bindings`, `users`,
//! `stats`) through `--admin-url`, and without a server (the data
//! directory); the token never shows in any output.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

fn register(locus: &Locus, user: &str) {
    let udp = UdpClient::new(locus.udp_addr());
    let mut reg = Register::new(user);
    reg.expires = Some("600".into());
    assert_eq!(udp.request(&reg.build()).code, 200, "REGISTER of {user}");
}

fn get_json(url: &str, token: &str) -> Value {
    let response = http().get(url).bearer_auth(token).send().unwrap();
    assert_eq!(response.status().as_u16(), 200, "GET {url}");
    response.json().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn succeeded(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    stdout
}

#[test]
fn health_metrics_and_the_api_after_registrations() {
    let locus = Locus::start(&[]);
    register(&locus, "alice");
    register(&locus, "bob");
    let base = locus.admin();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let token = locus.token();

    let health: Value = http()
        .get(format!("{base}/healthz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");

    let metrics = http().get(format!("{base}/metrics")).send().unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    let metrics = metrics.text().unwrap();
    assert!(
        metrics.contains("locus_register_requests_total{result=\"ok\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("locus_bindings 2"), "{metrics}");
    let promtool = tool("promtool", "prometheus");
    let checked = run(
        std::process::Command::new(promtool).args(["check", "metrics"]),
        Some(&metrics),
        WAIT,
    );
    assert!(
        checked.status.success(),
        "promtool check metrics: {:?}\n{metrics}",
        text(&checked)
    );

    let unauthorized = http().get(format!("{base}/api/v1/stats")).send().unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    let stats = get_json(&format!("{base}/api/v1/stats"), &token);
    assert_eq!(stats["bindings"], 2);
    assert_eq!(stats["aors"], 2);
    assert_eq!(stats["register"]["ok"], 2);
    let listeners = stats["listeners"].to_string();
    assert!(
        listeners.contains(&format!("udp:{}", locus.udp_addr())),
        "{listeners}"
    );

    let alice = get_json(
        &format!("{base}/api/v1/bindings?aor=sip:alice@example.com"),
        &token,
    );
    let list = alice["bindings"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{alice}");
    assert_eq!(list[0]["contact"], "sip:alice@192.0.2.10:5062");
}

#[test]
fn management_commands_go_through_the_server() {
    let locus = Locus::start(&[]);
    register(&locus, "alice");
    let url = locus.admin().to_owned();
    let token_file = locus.token_file.clone().unwrap();
    let token_file = token_file.to_str().unwrap();
    // A data directory that does not exist: only the server can answer.
    let nowhere = tempfile::tempdir().unwrap();
    let elsewhere = nowhere.path().join("not-the-data-dir");
    let elsewhere = elsewhere.to_str().unwrap();
    let via = [
        "--admin-url",
        url.as_str(),
        "--admin-token-file",
        token_file,
        "--data-dir",
        elsewhere,
    ];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(via.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let call = |args: &[&str], stdin: Option<&str>| {
        let args = with(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        locus_cmd(&args, stdin)
    };

    let table = succeeded(&call(&["bindings"], None));
    assert!(
        table.contains("sip:alice@example.com") && table.contains("1 binding(s)"),
        "{table}"
    );
    let one = succeeded(&call(&["bindings", "alice@example.com"], None));
    assert!(one.contains("sip:alice@192.0.2.10:5062"), "{one}");

    let added = succeeded(&call(
        &[
            "users",
            "add",
            "carol",
            "--domain",
            "example.com",
            "--password-stdin",
        ],
        Some("carol-pw\n"),
    ));
    assert_eq!(added, "added carol@example.com (realm \"example.com\")\n");
    let again = call(
        &[
            "users",
            "add",
            "carol",
            "--domain",
            "example.com",
            "--password-stdin",
        ],
        Some("x\n"),
    );
    assert_eq!(again.status.code(), Some(1), "{:?}", text(&again));
    assert!(
        text(&again).1.contains("already exists"),
        "{:?}",
        text(&again)
    );
    let changed = succeeded(&call(
        &[
            "users",
            "passwd",
            "carol",
            "--domain",
            "example.com",
            "--password-stdin",
        ],
        Some("carol-pw2\n"),
    ));
    assert!(
        changed.starts_with("password changed for carol@example.com"),
        "{changed}"
    );
    let list = succeeded(&call(&["users", "list"], None));
    assert!(
        list.contains("carol@example.com") && list.contains("SHA-512-256,SHA-256,MD5"),
        "{list}"
    );

    let stats = succeeded(&call(&["stats"], None));
    assert!(stats.contains("bindings: 1 (1 AORs)"), "{stats}");
    assert!(
        stats.contains(&format!("udp:{}", locus.udp_addr())),
        "{stats}"
    );
    let json: Value = serde_json::from_str(&succeeded(&call(&["stats", "--json"], None))).unwrap();
    assert_eq!(json["bindings"], 1);
    assert!(json["version"].is_string(), "{json}");

    let removed = succeeded(&call(
        &["users", "remove", "carol", "--domain", "example.com"],
        None,
    ));
    assert_eq!(removed, "removed carol@example.com\n");
    let gone = call(
        &["users", "remove", "carol", "--domain", "example.com"],
        None,
    );
    assert_eq!(gone.status.code(), Some(1), "{:?}", text(&gone));

    // The account went to the server's data directory, nowhere else.
    let added = succeeded(&call(
        &[
            "users",
            "add",
            "dave",
            "--domain",
            "example.com",
            "--password-stdin",
        ],
        Some("dave-pw\n"),
    ));
    assert!(added.starts_with("added dave@example.com"), "{added}");
    assert!(!Path::new(elsewhere).exists());
    let mut locus = locus;
    assert_eq!(locus.terminate().code(), Some(0));
    let local = users_cmd(&locus.data_dir, &["list"], None);
    let list = succeeded(&local);
    assert!(
        list.contains("dave@example.com") && list.contains("1 account(s)"),
        "{list}"
    );
}

#[test]
fn without_a_server_the_commands_use_the_data_directory() {
    let mut locus = Locus::start(&[]);
    register(&locus, "alice");
    add_user(&locus.data_dir, "erin", "example.com", "erin-pw");
    let url = locus.admin().to_owned();
    let data = locus.data_dir.clone();
    assert_eq!(locus.terminate().code(), Some(0));
    let dir = data.to_str().unwrap();

    let out = locus_cmd(&["bindings", "--admin-url", &url, "--data-dir", dir], None);
    let (table, note) = text(&out);
    assert!(out.status.success(), "{table}{note}");
    assert!(table.contains("sip:alice@example.com"), "{table}");
    assert!(
        note.contains("no server answers at") && note.contains(dir),
        "{note}"
    );

    let out = locus_cmd(
        &["users", "list", "--admin-url", &url, "--data-dir", dir],
        None,
    );
    assert!(succeeded(&out).contains("erin@example.com"));
    let out = locus_cmd(
        &[
            "users",
            "add",
            "fay",
            "--domain",
            "example.com",
            "--password-stdin",
            "--admin-url",
            &url,
            "--store",
            &format!("sqlite:{dir}"),
        ],
        Some("fay-pw\n"),
    );
    assert!(succeeded(&out).starts_with("added fay@example.com"));

    let out = locus_cmd(&["stats", "--admin-url", &url, "--data-dir", dir], None);
    let stats = succeeded(&out);
    assert!(stats.starts_with("no server running"), "{stats}");
    assert!(stats.contains("bindings: 1 (1 AORs)"), "{stats}");
    assert!(stats.contains("accounts: 2"), "{stats}");

    let out = locus_cmd(&["stats", "--store", "redis://127.0.0.1:6379"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("supported: sqlite:DIR"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn the_token_stays_secret() {
    let listen = vec!["udp:127.0.0.1:0".to_string()];
    let (mut locus, log) = Locus::start_logged(
        &listen,
        &["--domain", "example.com", "--log-level", "trace"],
    );
    let token_file = locus.token_file.clone().unwrap();
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", token_file.display());
    let token = locus.token();
    assert!(token.len() >= 32, "a token of 32 random bytes");

    register(&locus, "alice");
    let base = locus.admin().to_owned();
    let _ = get_json(&format!("{base}/api/v1/stats"), &token);
    let wrong = http()
        .get(format!("{base}/api/v1/bindings"))
        .bearer_auth("not-the-token")
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let reload = http()
        .post(format!("{base}/api/v1/reload"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(reload.status().as_u16(), 200);
    let data = locus.data_dir.to_str().unwrap().to_owned();
    let mut outputs = Vec::new();
    for args in [
        vec!["bindings", "--admin-url", &base, "--data-dir", &data],
        vec!["stats", "--admin-url", &base, "--data-dir", &data],
        vec!["users", "list", "--admin-url", &base, "--data-dir", &data],
    ] {
        let out = locus_cmd(&args, None);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
        outputs.push(stdout);
        outputs.push(stderr);
    }
    assert_eq!(locus.terminate().code(), Some(0));

    outputs.push(locus.stdout_lines.join("\n"));
    outputs.push(read_log(&log));
    let audit = locus.data_dir.join("audit.log");
    outputs.push(std::fs::read_to_string(&audit).unwrap_or_default());
    for output in &outputs {
        assert!(!output.contains(&token), "the token leaked into: {output}");
    }
    let banner = locus.stdout_lines.join("\n");
    assert!(
        banner.contains(&format!("admin token in {}", token_file.display())),
        "{banner}"
    );
}
