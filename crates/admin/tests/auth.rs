//! Who gets in: the uniform 401 (for every path, existing or not), the
//! bearer token, the session cookie and its CSRF value, the headers of
//! every response and the CSP of the pages, over real HTTP.

mod common;

use common::{json_of, Harness};
use reqwest::header;
use reqwest::Method;

const PROTECTED: [(&str, &str); 12] = [
    ("GET", "/api/v1/bindings"),
    ("GET", "/api/v1/stats"),
    ("GET", "/api/v1/stats/history"),
    ("GET", "/api/v1/security"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/drain"),
    ("DELETE", "/api/v1/bindings/sip%3Aa%40example.com"),
    ("GET", "/api/v1/session"),
    ("GET", "/no/such/path"),
    ("POST", "/api/v1/nothing"),
    ("GET", "/assets/missing.js"),
];

/// The status, WWW-Authenticate and body of `resp`.
async fn answer(resp: reqwest::Response) -> (u16, Option<String>, String) {
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ascii").to_string());
    (status, www, resp.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_or_with_a_wrong_token_every_path_gets_the_same_401() {
    let h = Harness::start().await;
    let expected = (
        401,
        Some("Bearer realm=\"locus\"".to_string()),
        r#"{"error":"unauthorized"}"#.to_string(),
    );
    for (method, path) in PROTECTED {
        let m: Method = method.parse().expect("method");
        let none = answer(
            h.http
                .request(m.clone(), h.url(path))
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(none, expected, "{method} {path} without a token");
        let wrong = h
            .http
            .request(m.clone(), h.url(path))
            .bearer_auth("not-the-token")
            .send()
            .await
            .expect("send");
        assert_eq!(
            answer(wrong).await,
            expected,
            "{method} {path} with a wrong token"
        );
        let cookie = h
            .http
            .request(m, h.url(path))
            .header(header::COOKIE, "locus_session=forged")
            .send()
            .await
            .expect("send");
        assert_eq!(
            answer(cookie).await,
            expected,
            "{method} {path} with a forged cookie"
        );
    }
    // A token that is a prefix of the real one, or a different scheme.
    let prefix = &h.token[..h.token.len() - 1];
    let resp = h
        .http
        .get(h.url("/api/v1/stats"))
        .bearer_auth(prefix)
        .send()
        .await
        .expect("send");
    assert_eq!(answer(resp).await, expected);
    let resp = h
        .http
        .get(h.url("/api/v1/stats"))
        .header(header::AUTHORIZATION, format!("Basic {}", h.token))
        .send()
        .await
        .expect("send");
    assert_eq!(answer(resp).await, expected);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_paths_need_no_token_and_unknown_paths_are_404_with_one() {
    let h = Harness::start().await;
    for path in [
        "/metrics",
        "/healthz",
        "/readyz",
        "/api/v1/openapi.json",
        "/assets/dashboard.js",
        "/assets/login.js",
        "/assets/dashboard.css",
    ] {
        let resp = h.http.get(h.url(path)).send().await.expect("send");
        assert_eq!(resp.status(), 200, "{path}");
    }
    let (status, body) = json_of(h.http.get(h.url("/healthz")).send().await.expect("send")).await;
    assert_eq!((status, body), (200, serde_json::json!({"status": "ok"})));
    let (status, body) = json_of(h.http.get(h.url("/readyz")).send().await.expect("send")).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"status": "ready"}))
    );
    let (status, body) = h.get_json("/no/such/path").await;
    assert_eq!(
        (status, body),
        (404, serde_json::json!({"error": "not found"}))
    );
    let (status, body) = h.send(Method::PUT, "/api/v1/stats", None).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"], "method not allowed");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers_and_pages_the_csp() {
    let h = Harness::start().await;
    let csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
               connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    for (path, bearer) in [
        ("/healthz", false),
        ("/api/v1/stats", false),
        ("/api/v1/stats", true),
        ("/", false),
        ("/", true),
    ] {
        let mut req = h.http.get(h.url(path));
        if bearer {
            req = req.bearer_auth(&h.token);
        }
        let resp = req.send().await.expect("send");
        let hd = resp.headers();
        assert_eq!(hd[header::CACHE_CONTROL], "no-store", "{path}");
        assert_eq!(hd[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(hd[header::REFERRER_POLICY], "no-referrer", "{path}");
        assert_eq!(hd[header::X_FRAME_OPTIONS], "DENY", "{path}");
        let html = hd[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("text/html");
        assert_eq!(html, path == "/", "{path}");
        assert_eq!(
            hd.get(header::CONTENT_SECURITY_POLICY)
                .map(|v| v.to_str().expect("ascii")),
            html.then_some(csp),
            "{path}"
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_is_the_login_page_without_a_token_and_the_dashboard_with_one() {
    let h = Harness::start().await;
    let login = h.http.get(h.url("/")).send().await.expect("send");
    assert_eq!(login.status(), 401);
    let login = login.text().await.expect("body");
    let dashboard = h.get("/").await;
    assert_eq!(dashboard.status(), 200);
    let dashboard = dashboard.text().await.expect("body");
    assert_ne!(login, dashboard);
    for page in [&login, &dashboard] {
        assert!(page.contains("<html"), "{page}");
        // The CSP forbids inline script and style: the pages have none.
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<style"), "{page}");
        assert!(!page.contains(" style="), "{page}");
        assert!(!has_inline_handler(page), "inline handler in {page}");
    }
    h.stop().await;
}

/// True when `html` has an attribute like ` onclick=`.
fn has_inline_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        name > 0 && rest[name..].trim_start().starts_with('=')
    })
}

/// Signs in with the token; the cookie pair and the CSRF value.
async fn sign_in(h: &Harness) -> (String, String) {
    let resp = h
        .http
        .post(h.url("/api/v1/session"))
        .json(&serde_json::json!({"token": h.token}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let set = resp.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_string();
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 200);
    let csrf = body["csrf"].as_str().expect("csrf").to_string();
    assert_eq!(csrf.len(), 64);
    let mut parts = set.split("; ");
    let pair = parts.next().expect("cookie pair").to_string();
    assert!(pair.starts_with("locus_session="), "{set}");
    let attrs: Vec<&str> = parts.collect();
    for a in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(&a), "{a} missing in {set}");
    }
    assert!(
        !attrs.contains(&"Secure"),
        "no Secure over plain HTTP: {set}"
    );
    (pair, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cookie_works_and_its_changes_need_the_csrf_token() {
    let h = Harness::start().await;
    // A wrong token at sign-in gets the uniform 401.
    let resp = h
        .http
        .post(h.url("/api/v1/session"))
        .json(&serde_json::json!({"token": "wrong"}))
        .send()
        .await
        .expect("send");
    assert_eq!(answer(resp).await.2, r#"{"error":"unauthorized"}"#);
    // Bad bodies are the client's fault, never a 500.
    let resp = h
        .http
        .post(h.url("/api/v1/session"))
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let resp = h
        .http
        .post(h.url("/api/v1/session"))
        .json(&serde_json::json!({"t": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 422);

    let (cookie, csrf) = sign_in(&h).await;
    let with_cookie = |m: Method, path: &str| {
        h.http
            .request(m, h.url(path))
            .header(header::COOKIE, &cookie)
    };
    let (status, body) = json_of(
        with_cookie(Method::GET, "/api/v1/session")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((status, body["csrf"].as_str()), (200, Some(csrf.as_str())));
    let (status, _) = json_of(
        with_cookie(Method::GET, "/api/v1/stats")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 200);
    let page = with_cookie(Method::GET, "/").send().await.expect("send");
    assert_eq!(page.status(), 200, "the dashboard with the cookie");
    // The live feed takes the cookie too (EventSource sends no header).
    let feed = with_cookie(Method::GET, "/api/v1/events")
        .send()
        .await
        .expect("send");
    assert_eq!(feed.status(), 200);
    assert_eq!(feed.headers()[header::CONTENT_TYPE], "text/event-stream");
    drop(feed);

    // A change with the cookie but without (or with a wrong) CSRF value: 403.
    for value in [None, Some("0000")] {
        let mut req = with_cookie(Method::POST, "/api/v1/drain");
        if let Some(v) = value {
            req = req.header("X-CSRF-Token", v);
        }
        let (status, body) = json_of(req.send().await.expect("send")).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"], "missing or wrong CSRF token");
    }
    assert!(!h.node.draining(), "a refused change changed nothing");
    // With it, the change is made.
    let resp = with_cookie(Method::POST, "/api/v1/drain")
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 202);
    assert!(h.node.draining());
    // A bearer change needs no CSRF value.
    let (status, body) = h.send(Method::DELETE, "/api/v1/drain", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["draining"], false);

    // Sign out (a change too: it needs the CSRF value); the cookie is dead after.
    let resp = with_cookie(Method::DELETE, "/api/v1/session")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 403);
    let resp = with_cookie(Method::DELETE, "/api/v1/session")
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 204);
    let cleared = resp.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        cleared.starts_with("locus_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let resp = with_cookie(Method::GET, "/api/v1/stats")
        .send()
        .await
        .expect("send");
    assert_eq!(answer(resp).await.0, 401);

    // Login and logout are in the audit log, with the token's id, never the token.
    let log = std::fs::read_to_string(&h.audit_log).expect("audit log");
    assert!(!log.contains(&h.token), "the audit log shows the token");
    let actions: Vec<String> = h
        .audit_entries()
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect();
    assert_eq!(
        actions,
        ["session.login", "drain", "undrain", "session.logout"]
    );
    h.stop().await;
}
