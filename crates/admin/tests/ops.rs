//! Operations through the API: stats and their history after real SIP
//! traffic, the security view, drain (SIP 503, /readyz 503) and undrain,
//! reload (its Reload impl called, 422 on its error), /metrics accepted by
//! promtool, and the OpenAPI document naming every route the router serves.

mod common;

use common::{json_of, poll, Harness, Ua};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_what_sip_clients_did() {
    let h = Harness::start().await;
    let ua = Ua::new().await;
    for u in ["s1", "s2", "s3"] {
        assert_eq!(
            ua.register(h.udp, u, &format!("sip:{u}@192.0.2.4:5062"), 600)
                .await,
            200
        );
    }
    // A second contact of one AOR.
    assert_eq!(
        ua.register(h.udp, "s1", "sip:s1@192.0.2.5:5062", 600).await,
        200
    );
    // An unregistration of nothing is fine; `Contact: *` with a lifetime is refused (400).
    assert_eq!(
        ua.register(h.udp, "s4", "sip:s4@192.0.2.4:5062", 0).await,
        200
    );
    assert_eq!(ua.register(h.udp, "s4", "*", 600).await, 400);
    let stats = poll("six REGISTERs counted", || async {
        let (status, body) = h.get_json("/api/v1/stats").await;
        assert_eq!(status, 200, "{body}");
        (body["register"]["ok"] == 5 && body["register"]["rejected"] == 1).then_some(body)
    })
    .await;
    assert_eq!(stats["version"], "0.1.0-test");
    assert_eq!(stats["bindings"], 4);
    assert_eq!(stats["aors"], 3);
    assert_eq!(stats["draining"], false);
    assert_eq!(stats["in_flight"], 0);
    assert_eq!(stats["tcp_connections"], 0);
    assert_eq!(stats["blocked_sources"], 0);
    assert_eq!(stats["register_latency"]["count"], 5);
    assert!(stats["register_latency"]["sum_seconds"]
        .as_f64()
        .is_some_and(|s| s > 0.0));
    for k in ["redirect", "challenge", "error", "declined"] {
        assert_eq!(stats["register"][k], 0, "{k}");
    }
    for k in [
        "ok",
        "redirect",
        "challenge",
        "rejected",
        "error",
        "declined",
    ] {
        assert_eq!(stats["proxy"][k], 0, "{k}");
    }
    assert_eq!(stats["security"]["locus_auth_failures_total"], 0);
    assert_eq!(stats["store"], json!({"healthy": true, "error": null}));
    let listeners: Vec<&str> = stats["listeners"]
        .as_array()
        .expect("listeners")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        listeners.contains(&format!("udp:{}", h.udp).as_str()),
        "{listeners:?}"
    );
    assert!(stats["uptime_seconds"].is_u64());

    // The history: per-interval counts add up to what happened.
    let history = poll("the samples hold the six REGISTERs", || async {
        let (status, body) = h.get_json("/api/v1/stats/history").await;
        assert_eq!(status, 200, "{body}");
        let samples = body["samples"].as_array()?.clone();
        let sum = |k: &str| -> u64 { samples.iter().filter_map(|s| s[k].as_u64()).sum() };
        (sum("register_ok") == 5 && sum("register_failed") == 1).then_some(body)
    })
    .await;
    assert_eq!(history["interval_seconds"], 2);
    let samples = history["samples"].as_array().expect("samples");
    let last = samples.last().expect("a sample");
    assert_eq!(last["bindings"], 4);
    assert_eq!(last["auth_failures"], 0);
    let ts: Vec<u64> = samples.iter().filter_map(|s| s["t"].as_u64()).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");

    let (status, security) = h.get_json("/api/v1/security").await;
    assert_eq!(status, 200);
    assert_eq!(security["blocked"], json!([]));
    assert_eq!(security["counters"]["locus_abuse_blocks_total"], 0);
    assert_eq!(security["counters"].as_object().map(|o| o.len()), Some(8));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_node_answers_503_is_not_ready_and_serves_again_after() {
    let h = Harness::start().await;
    let ua = Ua::new().await;
    let (status, body) = h.send(Method::POST, "/api/v1/drain", None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["draining"], true);
    assert!(body["in_flight"].is_u64());
    assert_eq!(
        ua.register(h.udp, "d1", "sip:d1@192.0.2.4:5062", 600).await,
        503
    );
    let (status, body) = json_of(h.http.get(h.url("/readyz")).send().await.expect("send")).await;
    assert_eq!(
        (status, body),
        (503, json!({"status": "not ready", "reason": "draining"}))
    );
    let metrics = h
        .http
        .get(h.url("/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.lines().any(|l| l == "locus_draining 1"),
        "{metrics}"
    );
    let (status, body) = h.get_json("/api/v1/drain").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"draining": true, "in_flight": 0, "drained": true})
        )
    );
    let (status, body) = h.send(Method::POST, "/api/v1/drain?wait=5", None).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"draining": true, "in_flight": 0, "drained": true})
        )
    );
    let (status, _) = h.send(Method::POST, "/api/v1/drain?wait=301", None).await;
    assert_eq!(status, 400);
    let (status, body) = h.send(Method::DELETE, "/api/v1/drain", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["draining"], false);
    assert_eq!(
        ua.register(h.udp, "d1", "sip:d1@192.0.2.4:5062", 600).await,
        200
    );
    let resp = h.http.get(h.url("/readyz")).send().await.expect("send");
    assert_eq!(resp.status(), 200);
    let actions: Vec<Value> = h
        .audit_entries()
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(actions, [json!("drain"), json!("drain"), json!("undrain")]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_calls_the_reload_and_refuses_with_422() {
    let h = Harness::start().await;
    *h.reload.answer.lock().expect("lock") = Ok(vec!["listen".to_string()]);
    let (status, body) = h.send(Method::POST, "/api/v1/reload", None).await;
    assert_eq!(
        (status, body),
        (200, json!({"reloaded": true, "restart_needed": ["listen"]}))
    );
    assert_eq!(h.reload.calls.load(Ordering::SeqCst), 1);
    *h.reload.answer.lock().expect("lock") =
        Err("max_expires: must be at least min_expires".to_string());
    let (status, body) = h.send(Method::POST, "/api/v1/reload", None).await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"error": "max_expires: must be at least min_expires"})
        )
    );
    assert_eq!(h.reload.calls.load(Ordering::SeqCst), 2);
    let outcomes: Vec<(Value, Value)> = h
        .audit_entries()
        .iter()
        .map(|e| (e["action"].clone(), e["outcome"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (json!("reload"), json!("ok")),
            (
                json!("reload"),
                json!("max_expires: must be at least min_expires")
            )
        ]
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_the_metrics() {
    let h = Harness::start().await;
    let ua = Ua::new().await;
    assert_eq!(
        ua.register(h.udp, "m1", "sip:m1@192.0.2.4:5062", 600).await,
        200
    );
    let resp = h.http.get(h.url("/metrics")).send().await.expect("send");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain; version=0.0.4");
    let text = resp.text().await.expect("body");
    assert!(
        text.contains("locus_register_requests_total{result=\"ok\"}"),
        "{text}"
    );
    let promtool = "/usr/bin/promtool";
    assert!(
        std::path::Path::new(promtool).exists(),
        "{promtool} is missing (scripts/test installs the Debian package prometheus)"
    );
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    h.stop().await;
}

/// Every (method, path) the API serves.
const ROUTES: [(&str, &str); 24] = [
    ("get", "/"),
    ("get", "/metrics"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/assets/dashboard.js"),
    ("get", "/assets/login.js"),
    ("get", "/assets/dashboard.css"),
    ("post", "/api/v1/session"),
    ("get", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("get", "/api/v1/bindings"),
    ("delete", "/api/v1/bindings/{aor}"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("delete", "/api/v1/users/{account}"),
    ("get", "/api/v1/stats"),
    ("get", "/api/v1/stats/history"),
    ("get", "/api/v1/security"),
    ("get", "/api/v1/events"),
    ("post", "/api/v1/drain"),
    ("get", "/api/v1/drain"),
    ("delete", "/api/v1/drain"),
    ("post", "/api/v1/reload"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route_and_each_is_served() {
    let h = Harness::start().await;
    let resp = h
        .http
        .get(h.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/json"));
    let doc: Value = resp.json().await.expect("the document is JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .filter(|k| *k != "parameters")
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "locus_session");
    for (m, p) in &expected {
        let op = &doc["paths"][p][m];
        let responses = op["responses"].as_object().expect("responses");
        if op.get("security").is_some() {
            assert!(responses.contains_key("401"), "{m} {p} documents no 401");
        }
        if op.get("requestBody").is_some() {
            for code in ["400", "413", "422"] {
                assert!(responses.contains_key(code), "{m} {p} documents no {code}");
            }
        }
    }
    // Each documented route is served (not the router's 404 or 405); the
    // endless event stream is checked by the bindings tests.
    for (m, p) in ROUTES.iter().filter(|(_, p)| *p != "/api/v1/events") {
        let path = p
            .replace("{aor}", "sip%3Anobody%40example.com")
            .replace("{account}", "nobody%40example.com");
        let method: Method = m.to_uppercase().parse().expect("method");
        let resp = h
            .http
            .request(method, h.url(&path))
            .bearer_auth(&h.token)
            .json(&json!({}))
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        let body = resp.text().await.expect("body");
        assert_ne!(status, 405, "{m} {p}");
        assert!(
            !(status == 404 && body == r#"{"error":"not found"}"#),
            "{m} {p} is not routed"
        );
    }
    h.stop().await;
}
