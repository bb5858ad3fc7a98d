//! Running locus as an operator does, with the real binary:
//! `serve --check-config`, the example config of `contrib/`, JSON logs,
//! an admin listener that cannot bind, HTTPS on the admin API (with its
//! certificate reloaded), and management commands run as root on a data
//! directory another user owns.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The example config shipped in contrib/.
fn contrib_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/locus.toml")
}

#[test]
fn check_config_accepts_a_good_file_and_binds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("locus.toml");
    std::fs::write(
        &file,
        "max_expires = 7200\nadmin_listen = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let file_text = file.to_str().unwrap();
    let out = locus_cmd(
        &[
            "serve",
            "--check-config",
            file_text,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("config OK: {file_text}\n"));
    // No store was opened, no token made.
    assert!(!data.exists());

    let contrib = contrib_config();
    let out = locus_cmd(
        &["serve", "--check-config", contrib.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("config OK: "), "{}", stdout(&out));
}

#[test]
fn check_config_names_the_bad_key() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("locus.toml");
    for (text, key) in [
        ("max_expires = \"long\"\n", "max_expires"),
        ("[auth]\nmode = \"maybe\"\n", "auth.mode"),
        ("admin_listen = \"0.0.0.0:8060\"\n", "admin_listen"),
        ("admin_tls_cert = \"/c.pem\"\n", "admin_tls_key"),
        ("log_format = \"xml\"\n", "log_format"),
        ("no_such_key = 1\n", "no_such_key"),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = locus_cmd(&["serve", "--check-config", file.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", stderr(&out));
        assert!(stderr(&out).contains(key), "{text}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{text}: {}", stdout(&out));
    }
    // Flags are checked with the file.
    std::fs::write(&file, "max_expires = 100\n").unwrap();
    let out = locus_cmd(
        &[
            "serve",
            "--check-config",
            file.to_str().unwrap(),
            "--min-expires",
            "200",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("min_expires"), "{}", stderr(&out));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let listen = vec!["udp:127.0.0.1:0".to_string()];
    let (mut locus, log) = Locus::start_logged(
        &listen,
        &["--domain", "example.com", "--log-format", "json"],
    );
    let udp = UdpClient::new(locus.udp_addr());
    assert_eq!(udp.request(&Register::new("alice").build()).code, 200);
    send_signal(locus.child.as_ref().unwrap(), libc::SIGHUP);
    wait_for_log(&log, "configuration reloaded");
    assert_eq!(locus.terminate().code(), Some(0));
    let text = read_log(&log);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{text}");
    for line in lines {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["timestamp"].is_string(), "{line}");
        assert!(value["level"].is_string(), "{line}");
        assert!(value["message"].is_string(), "{line}");
    }
    assert!(
        text.contains("\"message\":\"SIGTERM: shutting down\""),
        "{text}"
    );
}

#[test]
fn an_admin_address_in_use_stops_the_start_naming_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let out = locus_cmd(
        &[
            "serve",
            "--listen",
            "udp:127.0.0.1:0",
            "--data-dir",
            tmp.path().join("d").to_str().unwrap(),
            "--admin-listen",
            &addr,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--admin-listen") && err.contains(&addr),
        "{err}"
    );
    assert!(!stdout(&out).contains("admin API on"), "{}", stdout(&out));
}

/// A self-signed certificate for 127.0.0.1, written as `name`-cert.pem
/// and `name`-key.pem in `dir`.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    (cert, key)
}

#[test]
fn https_admin_api_with_its_certificate_reloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(tmp.path(), "admin");
    let listen = vec!["udp:127.0.0.1:0".to_string()];
    let (locus, log) = Locus::start_logged(
        &listen,
        &[
            "--domain",
            "example.com",
            "--admin-tls-cert",
            cert.to_str().unwrap(),
            "--admin-tls-key",
            key.to_str().unwrap(),
        ],
    );
    let url = locus.admin().to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let token_file = locus.token_file.clone().unwrap();
    let cli = |ca: &Path, args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "--admin-url",
            &url,
            "--admin-ca",
            ca.to_str().unwrap(),
            "--admin-token-file",
            token_file.to_str().unwrap(),
            "--data-dir",
            "/nonexistent/locus",
        ]);
        locus_cmd(&all, None)
    };
    let out = cli(&cert, &["stats"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("listeners: udp:127.0.0.1:"),
        "{}",
        stdout(&out)
    );

    // A certificate the client does not trust: a TLS failure, not a
    // fallback to the store.
    let (other, _) = certificate(tmp.path(), "other");
    let out = cli(&other, &["stats"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("cannot talk to the server"),
        "{}",
        stderr(&out)
    );

    // The reload re-reads the files: a broken key refuses it...
    let post = || {
        let response = reqwest::blocking::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap(),
            )
            .timeout(WAIT)
            .build()
            .unwrap()
            .post(format!("{url}/api/v1/reload"))
            .bearer_auth(locus.token())
            .send()
            .unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let good_key = std::fs::read(&key).unwrap();
    std::fs::write(&key, "not a key\n").unwrap();
    let (status, body) = post();
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("admin TLS certificate"), "{body}");
    wait_for_log(&log, "reload refused");
    // ...and the old certificate keeps serving.
    std::fs::write(&key, good_key).unwrap();
    assert!(cli(&cert, &["stats"]).status.success());
    let (status, body) = post();
    assert_eq!(status, 200, "{body}");
}

#[test]
fn root_gives_what_it_creates_back_to_the_data_directorys_owner() {
    // SAFETY: geteuid(2) has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root: it chowns a data directory to nobody"
    );
    let tmp = tempfile::tempdir().unwrap();
    // nobody must reach the data directory inside.
    let open = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(tmp.path(), open).unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let nobody = 65534;
    std::os::unix::fs::chown(&data, Some(nobody), Some(nobody)).unwrap();
    let dir = data.to_str().unwrap();

    let out = locus_cmd(
        &[
            "users",
            "add",
            "alice",
            "--domain",
            "example.com",
            "--password-stdin",
            "--data-dir",
            dir,
        ],
        Some("alice-pw\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for args in [
        vec!["users", "list", "--data-dir", dir],
        vec!["bindings", "--data-dir", dir],
        vec!["stats", "--data-dir", dir],
    ] {
        let out = locus_cmd(&args, None);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        names.push(entry.file_name().to_string_lossy().into_owned());
        assert_eq!(
            (meta.uid(), meta.gid()),
            (nobody, nobody),
            "{} is not nobody's",
            entry.path().display()
        );
    }
    assert!(names.contains(&"locus.db".to_string()), "{names:?}");

    // The server, run as that user, can open what root left.
    let mut cmd = Command::new(bin());
    cmd.args([
        "serve",
        "--listen",
        "udp:127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--data-dir",
        dir,
    ])
    .stderr(Stdio::inherit());
    std::os::unix::process::CommandExt::uid(&mut cmd, nobody);
    std::os::unix::process::CommandExt::gid(&mut cmd, nobody);
    let mut locus = Locus::spawn(cmd, &data, None);
    assert!(
        locus
            .stdout_lines
            .iter()
            .any(|l| l.contains("1 account(s)")),
        "{:?}",
        locus.stdout_lines
    );
    assert_eq!(locus.terminate().code(), Some(0));
}

/// The systemd unit of contrib/ passes `systemd-analyze verify` (with its
/// ExecStart pointed at the binary under test, since /usr/local/bin/locus
/// is not installed here) and keeps its sandbox.
#[test]
fn the_systemd_unit_verifies() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/locus.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=locus",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "LimitNOFILE=65536",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LoadCredential=admin-token:/etc/locus/admin-token",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line} in the unit");
    }
    assert!(text.contains("--data-dir /var/lib/locus"), "{text}");
    assert!(text.contains("--admin-token-file %d/admin-token"), "{text}");

    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("locus.service");
    std::fs::write(&copy, text.replace("/usr/local/bin/locus", bin())).unwrap();
    let analyze = tool("systemd-analyze", "systemd");
    let out = run(Command::new(analyze).arg("verify").arg(&copy), None, WAIT);
    assert!(
        out.status.success() && stderr(&out).trim().is_empty(),
        "systemd-analyze verify: {}{}",
        stdout(&out),
        stderr(&out)
    );
}
