//! The location service through the API: what SIP REGISTERs stored shows
//! in the listing (one AOR, pages, search) and on the live feed; deletes
//! of an AOR or of one contact, their 404s, the audit log; bad queries are
//! 400 and bad URIs 422, never 500.

mod common;

use common::{query, segment, Harness, Options, Sse, Ua};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

fn aor(user: &str) -> String {
    format!("sip:{user}@{}", common::DOMAIN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_shows_in_the_listing_with_every_field() {
    let h = Harness::start().await;
    let ua = Ua::new().await;
    assert_eq!(
        ua.register(h.udp, "alice", "sip:alice@192.0.2.4:5062", 3600)
            .await,
        200
    );
    let (status, body) = h
        .get_json(&format!("/api/v1/bindings?aor={}", query(&aor("alice"))))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["next_cursor"], Value::Null);
    let list = body["bindings"].as_array().expect("bindings");
    assert_eq!(list.len(), 1, "{body}");
    let b = &list[0];
    assert_eq!(b["aor"], "sip:alice@example.com");
    assert_eq!(b["contact"], "sip:alice@192.0.2.4:5062");
    assert_eq!(b["q"], 1.0);
    let expires = b["expires"].as_u64().expect("expires");
    assert!((3500..=3600).contains(&expires), "{b}");
    let now = server::now_ms();
    let at = b["expires_at"].as_u64().expect("expires_at");
    assert!(at > now && at <= now + 3_600_000, "{b}");
    assert!(b["updated_at"].as_u64().expect("updated_at") <= now);
    assert!(b["call_id"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(b["cseq"], 1);
    assert_eq!(b["transport"], "udp");
    assert!(
        b["received"]
            .as_str()
            .is_some_and(|r| r.starts_with("127.0.0.1:")),
        "{b}"
    );
    assert!(b["local"].as_str().is_some(), "{b}");
    assert_eq!(b["user_agent"], "admin-test/1.0");
    assert_eq!(b["path"], serde_json::json!([]));
    assert_eq!(b["instance"], Value::Null);
    assert_eq!(b["reg_id"], Value::Null);
    // The AOR is canonicalised as the registrar does.
    let (_, body) = h
        .get_json(&format!(
            "/api/v1/bindings?aor={}",
            query("sip:alice@EXAMPLE.com")
        ))
        .await;
    assert_eq!(body["bindings"].as_array().map(Vec::len), Some(1));
    // An AOR without bindings is an empty list.
    let (status, body) = h
        .get_json(&format!("/api/v1/bindings?aor={}", query(&aor("nobody"))))
        .await;
    assert_eq!(
        (status, body["bindings"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_pages_with_a_cursor_and_searches() {
    let h = Harness::start().await;
    let ua = Ua::new().await;
    let users: Vec<String> = (1..=7).map(|i| format!("pager{i}")).collect();
    for u in &users {
        assert_eq!(
            ua.register(h.udp, u, &format!("sip:{u}@192.0.2.4:5062"), 600)
                .await,
            200
        );
    }
    assert_eq!(
        ua.register(h.udp, "carol", "sip:carol@192.0.2.9:5070", 600)
            .await,
        200
    );
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/api/v1/bindings?limit=2".to_string(),
            Some(c) => format!("/api/v1/bindings?limit=2&cursor={}", query(c)),
        };
        let (status, body) = h.get_json(&path).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        assert!(pages <= 20, "the listing does not end");
        let list = body["bindings"].as_array().expect("bindings");
        let aors: BTreeSet<&str> = list
            .iter()
            .map(|b| b["aor"].as_str().expect("aor"))
            .collect();
        assert!(aors.len() <= 2, "more AORs than the limit: {body}");
        for a in aors {
            assert!(seen.insert(a.to_string()), "{a} listed twice");
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(pages > 1, "8 AORs at 2 a page took {pages} page(s)");
    let expected: BTreeSet<String> = users.iter().map(|u| aor(u)).chain([aor("carol")]).collect();
    assert_eq!(seen, expected);

    // Search: by contact host, by AOR, case ignored; walk the pages.
    for needle in ["192.0.2.9", "CAROL"] {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let mut path = format!("/api/v1/bindings?search={}", query(needle));
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", query(c)));
            }
            let (status, body) = h.get_json(&path).await;
            assert_eq!(status, 200, "{body}");
            found.extend(
                body["bindings"]
                    .as_array()
                    .expect("bindings")
                    .iter()
                    .map(|b| b["aor"].clone()),
            );
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(found, vec![Value::from(aor("carol"))], "search {needle}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_are_400_and_bad_uris_422() {
    let h = Harness::start().await;
    for path in [
        "/api/v1/bindings?cursor=not-a-cursor",
        "/api/v1/bindings?limit=0",
        "/api/v1/bindings?limit=1001",
        "/api/v1/bindings?limit=many",
        "/api/v1/bindings?limit=-1",
    ] {
        let (status, body) = h.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    for path in [
        "/api/v1/bindings?aor=alice".to_string(),
        format!("/api/v1/bindings?aor={}", query("tel:+4930123")),
        format!("/api/v1/bindings?aor={}", query("sip:a b@example.com")),
    ] {
        let (status, body) = h.get_json(&path).await;
        assert_eq!(status, 422, "{path}: {body}");
    }
    let (status, _) = h.send(Method::DELETE, "/api/v1/bindings/alice", None).await;
    assert_eq!(status, 422);
    let path = format!(
        "/api/v1/bindings/{}?contact={}",
        segment(&aor("a")),
        query("not a uri")
    );
    let (status, _) = h.send(Method::DELETE, &path, None).await;
    assert_eq!(status, 422);
    h.stop().await;
}

async fn contacts(h: &Harness, user: &str) -> Vec<String> {
    let (status, body) = h
        .get_json(&format!("/api/v1/bindings?aor={}", query(&aor(user))))
        .await;
    assert_eq!(status, 200, "{body}");
    let mut c: Vec<String> = body["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .map(|b| b["contact"].as_str().expect("contact").to_string())
        .collect();
    c.sort();
    c
}

async fn deletes_remove_contacts_or_aors(h: Harness) {
    let ua = Ua::new().await;
    let (c1, c2) = ("sip:dave@192.0.2.4:5062", "sip:dave@192.0.2.5:5062");
    assert_eq!(ua.register(h.udp, "dave", c1, 600).await, 200);
    assert_eq!(ua.register(h.udp, "dave", c2, 600).await, 200);
    assert_eq!(contacts(&h, "dave").await, vec![c1, c2]);
    let mut feed = Sse::open(&h).await;

    let one = format!(
        "/api/v1/bindings/{}?contact={}",
        segment(&aor("dave")),
        query(c1)
    );
    let (status, body) = h.send(Method::DELETE, &one, None).await;
    assert_eq!((status, body), (200, serde_json::json!({"removed": 1})));
    assert_eq!(contacts(&h, "dave").await, vec![c2]);
    let ev = feed.next_named("binding").await;
    assert_eq!(ev["aor"], aor("dave"));
    assert_eq!(ev["bindings"].as_array().map(Vec::len), Some(1), "{ev}");
    assert_eq!(ev["bindings"][0]["contact"], c2);
    // That contact is gone: 404.
    let (status, body) = h.send(Method::DELETE, &one, None).await;
    assert_eq!(status, 404, "{body}");

    let all = format!("/api/v1/bindings/{}", segment(&aor("dave")));
    let (status, body) = h.send(Method::DELETE, &all, None).await;
    assert_eq!((status, body), (200, serde_json::json!({"removed": 1})));
    assert!(contacts(&h, "dave").await.is_empty());
    let ev = feed.next_named("binding").await;
    assert_eq!(
        (ev["aor"].as_str(), ev["bindings"].as_array().map(Vec::len)),
        (Some("sip:dave@example.com"), Some(0))
    );
    let (status, body) = h.send(Method::DELETE, &all, None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(h.node.store().counts().bindings, 0);

    let deletes: Vec<(String, String)> = h
        .audit_entries()
        .iter()
        .filter(|e| e["action"] == "bindings.delete")
        .map(|e| {
            assert_eq!(e["target"], aor("dave"));
            assert_eq!(e["token"].as_str().map(str::len), Some(12));
            assert!(
                e["peer"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("127.0.0.1:")),
                "{e}"
            );
            assert!(e["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
            (
                e["outcome"].as_str().expect("outcome").to_string(),
                e["detail"]["contact"].to_string(),
            )
        })
        .collect();
    assert_eq!(deletes.len(), 4, "{deletes:?}");
    assert_eq!(deletes[0].0, "ok");
    assert_ne!(deletes[1].0, "ok");
    assert_eq!(deletes[2].0, "ok");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_remove_one_contact_or_the_aor_from_memory() {
    deletes_remove_contacts_or_aors(Harness::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_remove_one_contact_or_the_aor_from_sqlite() {
    let h = Harness::start_with(Options {
        sqlite: true,
        ..Options::default()
    })
    .await;
    deletes_remove_contacts_or_aors(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_shows_registrations_and_expiries() {
    let h = Harness::start().await;
    let mut feed = Sse::open(&h).await;
    let ua = Ua::new().await;
    assert_eq!(
        ua.register(h.udp, "erin", "sip:erin@192.0.2.4:5062", 600)
            .await,
        200
    );
    let ev = feed.next_named("binding").await;
    assert_eq!(ev["aor"], aor("erin"));
    assert_eq!(ev["bindings"][0]["contact"], "sip:erin@192.0.2.4:5062");
    assert_eq!(ev["bindings"][0]["transport"], "udp");
    // A stats sample comes every interval.
    let sample = feed.next_named("stats").await;
    for k in [
        "t",
        "register_ok",
        "register_failed",
        "auth_failures",
        "blocked_sources",
        "bindings",
    ] {
        assert!(sample[k].is_u64(), "{k} in {sample}");
    }
    // Unregister: the AOR's set is empty now.
    assert_eq!(
        ua.register(h.udp, "erin", "sip:erin@192.0.2.4:5062", 0)
            .await,
        200
    );
    let ev = feed.next_named("binding").await;
    assert_eq!(ev["bindings"].as_array().map(Vec::len), Some(0), "{ev}");
    // A binding that expires.
    assert_eq!(
        ua.register(h.udp, "frank", "sip:frank@192.0.2.4:5062", 1)
            .await,
        200
    );
    let ev = feed.next_named("expired").await;
    assert_eq!(ev["bindings"][0]["aor"], aor("frank"), "{ev}");
    // The feed ends when the listener stops.
    h.stop().await;
    while feed.next().await.is_some() {}
}
