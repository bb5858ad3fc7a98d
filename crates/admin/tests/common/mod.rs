//! Shared harness of the admin listener's tests: the real SIP server
//! in-process (UDP and TCP on 127.0.0.1 port 0, over a MemoryStore or a
//! SqliteStore in a temp dir), the real admin listener beside it (port 0,
//! token and audit log in the temp dir), reqwest over real HTTP, and a UDP
//! UA that sends REGISTERs.
//!
//! Every wait has a deadline ([`WAIT`]): a hang guard, not a performance
//! threshold.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use admin::{AdminConfig, AdminContext, Reload, TlsFiles};
use location::{LocationStore, MemoryStore, SqliteStore, SqliteUsers, UserStore};
use server::{ListenAddr, ServerConfig, Shutdown};
use sip_core::abuse::AbuseConfig;
use sip_core::{CoreConfig, RegistrarConfig};
use sip_message::Limits;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Upper bound of any single wait (a hang guard).
pub const WAIT: Duration = Duration::from_secs(10);

/// The domain the test registrar serves.
pub const DOMAIN: &str = "example.com";

/// The SIP server's settings: UDP and TCP on loopback port 0, serving
/// [`DOMAIN`], no authentication, lifetimes down to 1 s (so that a test
/// can see a binding expire).
pub fn server_config() -> ServerConfig {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    ServerConfig {
        listen: vec![ListenAddr::Udp(any), ListenAddr::Tcp(any)],
        tcp_idle_timeout: Duration::from_secs(300),
        core: CoreConfig {
            registrar: RegistrarConfig {
                domains: vec![DOMAIN.to_string()],
                min_expires: 1,
                ..RegistrarConfig::default()
            },
            ..CoreConfig::default()
        },
        limits: Limits::default(),
        local_hosts: Vec::new(),
        multicast: None,
        auth: None,
        abuse: AbuseConfig::default(),
        enumeration_protection: false,
        shards: 4,
    }
}

/// A [`Reload`] that counts its calls and answers what the test set.
pub struct FakeReload {
    /// Calls so far.
    pub calls: AtomicUsize,
    /// The answer: `Err(reason)`, or the settings needing a restart.
    pub answer: Mutex<Result<Vec<String>, String>>,
}

impl Default for FakeReload {
    fn default() -> Self {
        FakeReload {
            calls: AtomicUsize::new(0),
            answer: Mutex::new(Ok(Vec::new())),
        }
    }
}

impl Reload for FakeReload {
    fn reload(&self) -> Result<server::Reloaded, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer.lock().expect("lock").clone();
        answer.map(|restart_needed| server::Reloaded { restart_needed })
    }
}

/// How a test wants its node.
#[derive(Default)]
pub struct Options {
    /// A SqliteStore in the temp dir instead of a MemoryStore.
    pub sqlite: bool,
    /// Accounts in a SqliteUsers in the temp dir.
    pub users: bool,
    /// Serve HTTPS with these files.
    pub tls: Option<TlsFiles>,
    /// The certificate (PEM) the client trusts for HTTPS.
    pub trust: Option<Vec<u8>>,
}

/// The SIP server and the admin listener, running.
pub struct Harness {
    /// The temp dir holding the token, the audit log and the databases.
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT` (or https).
    pub base: String,
    /// The admin token.
    pub token: String,
    /// The SIP UDP listener.
    pub udp: SocketAddr,
    /// The running server's handle.
    pub node: server::Node,
    /// The reload the API calls.
    pub reload: Arc<FakeReload>,
    /// The token file.
    pub token_file: PathBuf,
    /// The audit log.
    pub audit_log: PathBuf,
    /// The certificate reloader of an HTTPS listener.
    pub tls_reloader: Option<admin::TlsReloader>,
    /// An HTTP client (no cookie store: tests handle the cookie).
    pub http: reqwest::Client,
    shutdown: Shutdown,
    server: Option<tokio::task::JoinHandle<Result<(), location::StoreError>>>,
    admin: Option<tokio::task::JoinHandle<()>>,
}

impl Harness {
    /// A node over a MemoryStore, without accounts, plain HTTP.
    pub async fn start() -> Harness {
        Harness::start_with(Options::default()).await
    }

    /// A node as `opts` says.
    pub async fn start_with(opts: Options) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn LocationStore> = if opts.sqlite {
            Arc::new(SqliteStore::open(dir.path(), server::now_ms()).expect("sqlite store"))
        } else {
            Arc::new(MemoryStore::new())
        };
        let users: Option<Arc<dyn UserStore>> = if opts.users {
            Some(Arc::new(SqliteUsers::open(dir.path()).expect("users db")))
        } else {
            None
        };
        let bound = server::bind(server_config()).await.expect("bind SIP");
        let udp = bound
            .local_addrs()
            .iter()
            .find_map(|a| match a {
                ListenAddr::Udp(s) => Some(*s),
                ListenAddr::Tcp(_) => None,
            })
            .expect("a UDP listener");
        let shutdown = Shutdown::new();
        let (started, node) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(bound.run_with(store, shutdown.clone(), move |node| {
            let _ = started.send(node);
        }));
        let node = tokio::time::timeout(WAIT, node)
            .await
            .expect("the node within the wait")
            .expect("the server hands out its node");
        let token_file = dir.path().join("admin-token");
        let audit_log = dir.path().join("audit.log");
        let token = admin::load_or_create_token(&token_file).expect("token");
        let secure = opts.tls.is_some();
        let cfg = AdminConfig {
            listen: "127.0.0.1:0".parse().expect("literal address"),
            token_file: token_file.clone(),
            tls: opts.tls,
            insecure: false,
            audit_log: audit_log.clone(),
        };
        let listener = admin::bind(&cfg).await.expect("bind admin");
        let base = format!("{}://{}", listener.scheme(), listener.local_addr());
        let tls_reloader = listener.tls_reloader();
        assert_eq!(listener.scheme(), if secure { "https" } else { "http" });
        let reload = Arc::new(FakeReload::default());
        let ctx = AdminContext {
            node: node.clone(),
            users,
            realm_for: Arc::new(|d: &str| d.to_string()),
            reload: reload.clone(),
            version: "0.1.0-test",
        };
        let secret = token.as_str().to_string();
        let admin = tokio::spawn(listener.serve(token, ctx, shutdown.clone()));
        let mut http = reqwest::Client::builder().timeout(WAIT);
        if let Some(pem) = &opts.trust {
            http = http.add_root_certificate(reqwest::Certificate::from_pem(pem).expect("PEM"));
        }
        let http = http.build().expect("http client");
        // Serving (and sampling) once it answers.
        let health = format!("{base}/healthz");
        poll("the admin listener answers", || {
            let (http, health) = (http.clone(), health.clone());
            async move {
                let resp = http.get(health).send().await.ok()?;
                (resp.status() == 200).then_some(())
            }
        })
        .await;
        Harness {
            dir,
            base,
            token: secret,
            udp,
            node,
            reload,
            token_file,
            audit_log,
            tls_reloader,
            http,
            shutdown,
            server: Some(server),
            admin: Some(admin),
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A GET with the bearer token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET")
    }

    /// A GET with the bearer token, its status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        json_of(self.get(path).await).await
    }

    /// A request of `method` with the bearer token, its status and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        json_of(req.send().await.expect("request")).await
    }

    /// The audit log's entries so far.
    pub fn audit_entries(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit_log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("an audit line is JSON"))
            .collect()
    }

    /// Stops both and waits (within [`WAIT`]) for them to return.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        if let Some(admin) = self.admin.take() {
            tokio::time::timeout(WAIT, admin)
                .await
                .expect("the admin listener stops within the wait")
                .expect("the admin task");
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(WAIT, server)
                .await
                .expect("the server stops within the wait")
                .expect("the server task")
                .expect("run returns Ok");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// The status and JSON body (`null` when empty) of `resp`.
pub async fn json_of(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

/// Percent-encodes `s` as one path segment.
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Percent-encodes `s` as a query value.
pub fn query(s: &str) -> String {
    segment(s)
}

/// Looks again every 20 ms until `f` gives `Some`, failing after [`WAIT`].
pub async fn poll<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

static SEQ: AtomicU32 = AtomicU32::new(1);

/// A token unique in this process.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A SIP UA on a UDP socket of its own.
pub struct Ua {
    sock: UdpSocket,
}

impl Ua {
    /// A UA on 127.0.0.1, port 0.
    pub async fn new() -> Ua {
        Ua {
            sock: UdpSocket::bind("127.0.0.1:0").await.expect("bind UA"),
        }
    }

    /// Sends a REGISTER of `user@DOMAIN` binding `contact` for `expires`
    /// seconds to `server` (`*` is sent bare, anything else in `<>`), retransmitting every 500 ms (as RFC 3261's T1)
    /// until the final answer; returns its status code.
    pub async fn register(
        &self,
        server: SocketAddr,
        user: &str,
        contact: &str,
        expires: u32,
    ) -> u16 {
        let local = self.sock.local_addr().expect("local addr");
        let aor = format!("sip:{user}@{DOMAIN}");
        let call_id = unique("cid");
        let contact = if contact == "*" {
            "*".to_string()
        } else {
            format!("<{contact}>")
        };
        let msg = format!(
            "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={};rport\r\n\
             Max-Forwards: 70\r\nFrom: <{aor}>;tag={}\r\nTo: <{aor}>\r\nCall-ID: {}\r\n\
             CSeq: 1 REGISTER\r\nContact: {contact}\r\nExpires: {expires}\r\n\
             User-Agent: admin-test/1.0\r\nContent-Length: 0\r\n\r\n",
            unique("z9hG4bK"),
            unique("t"),
            call_id,
        );
        let deadline = Instant::now() + WAIT;
        let mut buf = vec![0u8; 65536];
        loop {
            self.sock
                .send_to(msg.as_bytes(), server)
                .await
                .expect("send");
            let got =
                tokio::time::timeout(Duration::from_millis(500), self.sock.recv_from(&mut buf))
                    .await;
            if let Ok(Ok((n, _))) = got {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                let code: u16 = text
                    .split(' ')
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or_else(|| panic!("not a response: {text}"));
                // An answer to this request (not a late copy of an earlier one's).
                if code >= 200 && text.contains(&call_id) {
                    return code;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no final answer to REGISTER within {WAIT:?}"
            );
        }
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// Its `event:` name (`message` when none).
    pub name: String,
    /// Its `data:` lines joined.
    pub data: String,
}

/// Reads the events of a `text/event-stream` response.
pub struct Sse {
    resp: reqwest::Response,
    buf: String,
    /// Comment lines seen so far (`: keepalive`).
    pub comments: Vec<String>,
}

impl Sse {
    /// Opens the live feed with the bearer token.
    pub async fn open(h: &Harness) -> Sse {
        let resp = h
            .http
            .get(h.url("/api/v1/events"))
            .bearer_auth(&h.token)
            // The client's own timeout would end the stream.
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .expect("GET /api/v1/events");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Sse {
            resp,
            buf: String::new(),
            comments: Vec::new(),
        }
    }

    /// The next event, whatever it is, within [`WAIT`]; `None` when the
    /// stream ended.
    pub async fn next(&mut self) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = "message".to_string();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        self.comments.push(c.to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.trim_start().to_string());
                    }
                }
                if !data.is_empty() {
                    return Some(SseEvent {
                        name,
                        data: data.join("\n"),
                    });
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .expect("an event within the wait")
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }

    /// The next event named `name` (others skipped), as JSON.
    pub async fn next_named(&mut self, name: &str) -> serde_json::Value {
        loop {
            let ev = self.next().await.expect("the stream goes on");
            if ev.name == name {
                return serde_json::from_str(&ev.data).expect("event data is JSON");
            }
        }
    }
}
