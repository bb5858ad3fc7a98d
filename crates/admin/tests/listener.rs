//! The listener itself: HTTPS with a certificate made here (and swapped
//! by a reload), plain HTTP refused on a non-loopback address unless
//! allowed, the token file (made 0600 in a new directory, read again the
//! same), the audit log's mode.

mod common;

use admin::{AdminConfig, TlsFiles};
use common::{json_of, Harness, Options, WAIT};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A self-signed certificate for 127.0.0.1, written to `dir`: the files
/// and the certificate's PEM.
fn certificate(dir: &Path, name: &str) -> (TlsFiles, Vec<u8>) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("a certificate");
    let files = TlsFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&files.cert, made.cert.pem()).expect("write cert");
    std::fs::write(&files.key, made.key_pair.serialize_pem()).expect("write key");
    (files, made.cert.pem().into_bytes())
}

fn client_trusting(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT)
        .add_root_certificate(reqwest::Certificate::from_pem(pem).expect("PEM"))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_with_the_certificate_and_a_reload_swaps_it() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (files, pem) = certificate(certs.path(), "first");
    let h = Harness::start_with(Options {
        tls: Some(files.clone()),
        trust: Some(pem.clone()),
        ..Options::default()
    })
    .await;
    assert!(h.base.starts_with("https://127.0.0.1:"), "{}", h.base);
    let (status, body) = h.get_json("/api/v1/stats").await;
    assert_eq!(status, 200, "{body}");
    // The session cookie is Secure under TLS.
    let resp = h
        .http
        .post(h.url("/api/v1/session"))
        .json(&serde_json::json!({"token": h.token}))
        .send()
        .await
        .expect("send");
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    // Plain HTTP on the TLS port gets nothing served.
    let plain = h.base.replace("https://", "http://");
    let refused = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("client")
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(refused.is_err() || refused.is_ok_and(|r| r.status() != 200));

    // A reload with a broken key is refused and the old certificate serves on.
    let reloader = h
        .tls_reloader
        .clone()
        .expect("an HTTPS listener has a reloader");
    std::fs::write(&files.key, "not a key").expect("write");
    let err = reloader.reload().expect_err("a broken key is refused");
    assert!(err.contains("first.key"), "{err}");
    assert_eq!(h.get("/healthz").await.status(), 200);
    // A new pair in the same files: new handshakes use it.
    let (second, second_pem) = certificate(certs.path(), "second");
    std::fs::copy(&second.cert, &files.cert).expect("copy");
    std::fs::copy(&second.key, &files.key).expect("copy");
    reloader.reload().expect("the new pair loads");
    let fresh = client_trusting(&second_pem);
    let (status, _) = json_of(
        fresh
            .get(h.url("/healthz"))
            .send()
            .await
            .expect("the new certificate is served"),
    )
    .await;
    assert_eq!(status, 200);
    let old = client_trusting(&pem);
    assert!(
        old.get(h.url("/healthz")).send().await.is_err(),
        "the old certificate is still served"
    );
    h.stop().await;
}

fn config(dir: &Path, listen: &str) -> AdminConfig {
    AdminConfig {
        listen: listen.parse().expect("address"),
        token_file: dir.join("admin-token"),
        tls: None,
        insecure: false,
        audit_log: dir.join("audit.log"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_off_loopback_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = config(dir.path(), "0.0.0.0:0");
    let err = admin::bind(&cfg)
        .await
        .expect_err("0.0.0.0 without TLS is refused");
    let text = err.to_string();
    for flag in ["--admin-tls-cert", "--admin-tls-key", "--admin-insecure"] {
        assert!(text.contains(flag), "{flag} not named in: {text}");
    }
    cfg.insecure = true;
    let listener = admin::bind(&cfg)
        .await
        .expect("allowed with --admin-insecure");
    assert_eq!(listener.scheme(), "http");
    assert_ne!(listener.local_addr().port(), 0);
    drop(listener);
    // With TLS it is allowed too; a missing certificate file is named.
    cfg.insecure = false;
    cfg.tls = Some(TlsFiles {
        cert: dir.path().join("missing.crt"),
        key: dir.path().join("missing.key"),
    });
    let err = admin::bind(&cfg).await.expect_err("no such certificate");
    assert!(err.to_string().contains("missing.crt"), "{err}");
    // Loopback is fine without either.
    let listener = admin::bind(&config(dir.path(), "127.0.0.1:0"))
        .await
        .expect("loopback");
    assert!(listener.local_addr().ip().is_loopback());
    assert!(listener.tls_reloader().is_none());
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_token_file_is_made_0600_in_a_new_directory_and_read_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("new/dir/admin-token");
    let token = admin::load_or_create_token(&path).expect("created");
    assert_eq!(mode(&path), 0o600);
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.trim(), token.as_str());
    assert_eq!(token.as_str().len(), 64);
    assert!(token.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !format!("{token:?}").contains(token.as_str()),
        "Debug shows the token"
    );
    let again = admin::load_or_create_token(&path).expect("read back");
    assert_eq!(again.as_str(), token.as_str());
    // A file others can read still loads (with a warning in the log).
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_eq!(
        admin::load_or_create_token(&path).expect("loads").as_str(),
        token.as_str()
    );
    // An empty file is an error, not an empty token.
    std::fs::write(&path, "\n").expect("write");
    let err = admin::load_or_create_token(&path).expect_err("empty");
    assert!(err.to_string().contains("empty"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_0600() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path(), "127.0.0.1:0");
    std::fs::write(&cfg.audit_log, "").expect("write");
    std::fs::set_permissions(&cfg.audit_log, std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let _listener = admin::bind(&cfg).await.expect("bind");
    assert_eq!(mode(&cfg.audit_log), 0o600);
    let h = Harness::start().await;
    assert_eq!(mode(&h.audit_log), 0o600);
    h.stop().await;
}
