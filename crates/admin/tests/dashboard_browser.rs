//! The dashboard in a real browser: the real SIP server and admin listener
//! run in-process on loopback port 0, and `tests/browser/dashboard.mjs`
//! (playwright-core driving Debian's Chromium, headless) signs in with the
//! token, waits until the dashboard is live, and tells this test; the test
//! then registers a contact over a real UDP socket with a User-Agent that
//! is HTML, and the script checks that the row appears without a reload,
//! shows the User-Agent as text (no element made of it, no dialog, no CSP
//! violation), takes a screenshot, filters, removes the binding with the
//! row's button and logs out. The test then checks the store and the
//! audit log.
//!
//! Node, playwright-core and Chromium missing make the test fail, saying
//! to run `scripts/test` (which installs them); it never passes without
//! the browser.
//!
//! With `LOCUS_DASHBOARD_DOCS=PATH` set, the test also keeps a few phones
//! registering (and some failing) for a couple of minutes and writes a
//! screenshot of that state to PATH (how `docs/dashboard.png` is made).

use location::MemoryStore;
use server::{ListenAddr, ServerConfig, Shutdown};
use sip_core::abuse::AbuseConfig;
use sip_core::{CoreConfig, RegistrarConfig};
use sip_message::Limits;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A hang guard for each wait of the Rust side (not a speed threshold).
const WAIT: Duration = Duration::from_secs(15);

/// The deadline of the whole browser run (Chromium's start included): a
/// hang guard; a passing run takes a few seconds.
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

/// How long the docs run lets the phones register before its screenshot,
/// so that the chart has two minutes of history.
const DOCS_TRAFFIC: Duration = Duration::from_secs(125);

/// UDP retransmission interval of the test's REGISTER (RFC 3261 T1).
const T1: Duration = Duration::from_millis(500);

/// The domain the registrar serves.
const DOMAIN: &str = "example.com";

/// The User-Agent registered by the test: HTML that would run script if
/// the page parsed it.
const HOSTILE_UA: &str = "<img src=x onerror=alert(1)>";

/// Where the browser is, as the script expects it (Debian's package).
const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn dashboard_shows_a_live_registration_as_text_and_removes_it() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.mjs");
    require_browser_tools(&repo);
    let docs = std::env::var_os("LOCUS_DASHBOARD_DOCS").map(PathBuf::from);

    let dir = tempfile::tempdir().expect("temp dir");
    let servers = Servers::start(dir.path());

    // Phones for the docs picture, registering from the start so that the
    // history fills while the browser runs.
    let traffic = docs.as_ref().map(|_| Traffic::start(servers.udp));

    let ua = UdpSocket::bind("127.0.0.1:0").expect("bind the UA socket");
    let ua_addr = ua.local_addr().expect("UA address");
    let user = format!("browser{}", std::process::id());
    let aor = format!("sip:{user}@{DOMAIN}");
    let contact = format!("sip:{user}@{ua_addr}");
    let shot = dir.path().join("dashboard.png");

    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .current_dir(&repo)
        .env("LOCUS_ADMIN_URL", format!("http://{}", servers.admin))
        .env("LOCUS_ADMIN_TOKEN", &servers.token)
        .env("LOCUS_CONTACT", &contact)
        .env("LOCUS_USER_AGENT", HOSTILE_UA)
        .env("LOCUS_SCREENSHOT", &shot)
        .env("LOCUS_CHROMIUM", CHROMIUM);
    let mut deadline = BROWSER_DEADLINE;
    if let Some(path) = &docs {
        cmd.env("LOCUS_DOCS_SCREENSHOT", path)
            .env("LOCUS_DOCS_WAIT_MS", DOCS_TRAFFIC.as_millis().to_string());
        deadline += DOCS_TRAFFIC;
    }
    cmd.env("LOCUS_DEADLINE_MS", deadline.as_millis().to_string());
    let mut browser = Browser::spawn(cmd, deadline);

    browser.expect_line("READY");
    let mut register = Register::new(&user, &contact, HOSTILE_UA);
    let answer = register.send(&ua, servers.udp);
    assert!(
        answer.starts_with("SIP/2.0 200"),
        "the REGISTER was answered {answer:?}"
    );
    browser.say("REGISTERED");
    browser.expect_line("DONE");
    browser.expect_success();

    let png = std::fs::read(&shot).expect("the script wrote its screenshot");
    assert!(
        png.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        shot.display()
    );
    let left = servers.lookup(&aor);
    assert!(
        left.is_empty(),
        "{aor} still has bindings after the remove button: {left:?}"
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).expect("the audit log");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"bindings.delete\"") && l.contains(&user)),
        "the audit log does not record the removal:\n{audit}"
    );

    if let Some(traffic) = traffic {
        traffic.stop();
    }
    servers.stop();
}

/// Fails the test, saying how to get them, when node, playwright-core (in
/// the repository's node_modules) or Chromium is missing.
fn require_browser_tools(repo: &Path) {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        matches!(node, Ok(s) if s.success()),
        "node is missing ({node:?}): run scripts/test, which installs what this test needs"
    );
    let playwright = repo.join("node_modules/playwright-core/package.json");
    assert!(
        playwright.is_file(),
        "{} is missing: run scripts/test, which installs playwright-core into ./node_modules",
        playwright.display()
    );
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: run scripts/test, which installs Chromium"
    );
}

/// The SIP server and its admin listener, running in-process on a runtime
/// of their own, over an in-memory store.
struct Servers {
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Shutdown,
    node: server::Node,
    /// The SIP server's UDP listener.
    udp: SocketAddr,
    /// The admin listener.
    admin: SocketAddr,
    /// The admin token (hex).
    token: String,
}

impl Servers {
    /// Binds UDP on 127.0.0.1 port 0 and the admin listener likewise, the
    /// token and audit log in `dir`, and serves both.
    fn start(dir: &Path) -> Servers {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let bound = runtime
            .block_on(server::bind(sip_config()))
            .expect("bind the SIP listener");
        let udp = bound
            .local_addrs()
            .iter()
            .find_map(|a| match a {
                ListenAddr::Udp(s) => Some(*s),
                _ => None,
            })
            .expect("a UDP listener");
        let shutdown = Shutdown::new();
        let (started, node) = mpsc::channel();
        let store = Arc::new(MemoryStore::new());
        runtime.spawn(bound.run_with(store, shutdown.clone(), move |node| {
            let _ = started.send(node);
        }));
        let node: server::Node = node
            .recv_timeout(WAIT)
            .expect("the server hands out its node once it serves");

        let cfg = admin::AdminConfig {
            listen: "127.0.0.1:0".parse().expect("literal address"),
            token_file: dir.join("admin-token"),
            tls: None,
            insecure: false,
            audit_log: dir.join("audit.log"),
        };
        let token = admin::load_or_create_token(&cfg.token_file).expect("create the admin token");
        let hex = token.as_str().to_string();
        let listener = runtime
            .block_on(admin::bind(&cfg))
            .expect("bind the admin listener");
        let admin = listener.local_addr();
        assert!(
            admin.ip().is_loopback() && admin.port() != 0,
            "admin on {admin}"
        );
        let ctx = admin::AdminContext {
            node: node.clone(),
            users: None,
            realm_for: Arc::new(|domain: &str| domain.to_string()),
            reload: Arc::new(NoReload),
            version: env!("CARGO_PKG_VERSION"),
        };
        runtime.spawn(listener.serve(token, ctx, shutdown.clone()));
        Servers {
            runtime: Some(runtime),
            shutdown,
            node,
            udp,
            admin,
            token: hex,
        }
    }

    /// The live bindings of `aor` in the store.
    fn lookup(&self, aor: &str) -> Vec<location_model::Binding> {
        let (tx, rx) = mpsc::channel();
        self.node.store().lookup(
            &[aor.to_string()],
            server::now_ms(),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv_timeout(WAIT)
            .expect("the store answers a lookup")
            .expect("the lookup succeeds")
    }

    /// Stops both listeners and the runtime.
    fn stop(mut self) {
        self.shutdown.trigger();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(WAIT);
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(WAIT);
        }
    }
}

/// The SIP server of the test: UDP on 127.0.0.1 port 0, the registrar
/// serving [`DOMAIN`], no authentication.
fn sip_config() -> ServerConfig {
    ServerConfig {
        listen: vec![ListenAddr::Udp(
            "127.0.0.1:0".parse().expect("literal address"),
        )],
        tcp_idle_timeout: Duration::from_secs(300),
        core: CoreConfig {
            registrar: RegistrarConfig {
                domains: vec![DOMAIN.to_string()],
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
        shards: 2,
    }
}

/// The reload of the test: there is no config file to re-read.
struct NoReload;

impl admin::Reload for NoReload {
    fn reload(&self) -> Result<server::Reloaded, String> {
        Err("the dashboard test has no config file".to_string())
    }
}

/// The browser script, running as a child process: its stdout lines come
/// through a channel, its stderr is kept for failure messages, and it is
/// killed (by its PID) when the test ends before it did.
struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    deadline: Instant,
}

impl Browser {
    /// Starts `cmd` with its stdio piped; it must finish within `limit`.
    fn spawn(mut cmd: Command, limit: Duration) -> Browser {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node ({e}): run scripts/test"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let keep = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = keep.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Browser {
            child,
            stdin,
            lines,
            stderr,
            deadline: Instant::now() + limit,
        }
    }

    /// What the script wrote on stderr so far.
    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (until the run's deadline) for the script to print `want`;
    /// fails the test with its stderr when it prints something else,
    /// exits or runs out of time.
    fn expect_line(&mut self, want: &str) {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) if line == want => {}
            Ok(line) => panic!(
                "the browser script printed {line:?} instead of {want}; its stderr:\n{}",
                self.stderr()
            ),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.kill();
                panic!(
                    "the browser script did not print {want} in time; its stderr:\n{}",
                    self.stderr()
                )
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.wait();
                panic!(
                    "the browser script ended ({status}) before printing {want}; its stderr:\n{}",
                    self.stderr()
                )
            }
        }
    }

    /// Writes `line` to the script's stdin.
    fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the script's stdin is open");
        if let Err(e) = writeln!(stdin, "{line}").and_then(|_| stdin.flush()) {
            panic!(
                "cannot write to the browser script ({e}); its stderr:\n{}",
                self.stderr()
            );
        }
    }

    /// Waits for the script to exit and fails the test unless it exited 0.
    fn expect_success(&mut self) {
        self.stdin = None;
        let status = self.wait();
        assert!(
            status == "exit status: 0",
            "the browser script ended with {status}; its stderr:\n{}",
            self.stderr()
        );
    }

    /// Waits, until the run's deadline, for the script to exit (killing it
    /// when the deadline passes); how it ended, as text.
    fn wait(&mut self) -> String {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.to_string(),
                Ok(None) if Instant::now() < self.deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    self.kill();
                    return "killed at the deadline".to_string();
                }
                Err(e) => return format!("unknown ({e})"),
            }
        }
    }

    /// Kills the script (its PID) if it still runs, and reaps it.
    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A REGISTER of one contact, as a UA sends it over UDP.
struct Register {
    user: String,
    contact: String,
    user_agent: String,
    call_id: String,
    cseq: u32,
    expires: u32,
}

impl Register {
    fn new(user: &str, contact: &str, user_agent: &str) -> Register {
        Register {
            user: user.to_string(),
            contact: contact.to_string(),
            user_agent: user_agent.to_string(),
            call_id: format!("{user}-{}-{}", std::process::id(), server::now_ms()),
            cseq: 0,
            expires: 3600,
        }
    }

    /// The next request's bytes (CSeq one higher, a fresh branch), sent by
    /// `from`.
    fn bytes(&mut self, from: SocketAddr) -> Vec<u8> {
        self.cseq += 1;
        let aor = format!("sip:{}@{DOMAIN}", self.user);
        format!(
            "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {from};branch=z9hG4bK{}x{};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{aor}>;tag={}\r\n\
             To: <{aor}>\r\n\
             Call-ID: {}\r\n\
             CSeq: {} REGISTER\r\n\
             Contact: <{}>;expires={}\r\n\
             User-Agent: {}\r\n\
             Content-Length: 0\r\n\r\n",
            self.call_id,
            self.cseq,
            self.call_id,
            self.call_id,
            self.cseq,
            self.contact,
            self.expires,
            self.user_agent,
        )
        .into_bytes()
    }

    /// Sends the REGISTER from `socket` to `server`, retransmitting every
    /// [`T1`], and returns the status line of its final answer (within
    /// [`WAIT`]).
    fn send(&mut self, socket: &UdpSocket, server: SocketAddr) -> String {
        let from = socket.local_addr().expect("socket address");
        let request = self.bytes(from);
        let cseq = format!("CSeq: {} REGISTER", self.cseq);
        let deadline = Instant::now() + WAIT;
        let mut buf = vec![0u8; 65_536];
        while Instant::now() < deadline {
            socket.send_to(&request, server).expect("send the REGISTER");
            socket.set_read_timeout(Some(T1)).expect("read timeout");
            let resend = Instant::now() + T1;
            while Instant::now() < resend {
                match socket.recv(&mut buf) {
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]);
                        let status = text.lines().next().unwrap_or_default().to_string();
                        let provisional = status.starts_with("SIP/2.0 1");
                        if text.contains(&self.call_id) && text.contains(&cseq) && !provisional {
                            return status;
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        break
                    }
                    Err(e) => panic!("receive the answer: {e}"),
                }
            }
        }
        panic!("no final answer to the REGISTER within {WAIT:?}")
    }
}

/// Phones registering and refreshing at a varying rate, with a few
/// REGISTERs refused (an Expires below the minimum: 423), until stopped:
/// the docs picture's table and chart.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// The docs picture's phones: user, User-Agent, contact host.
const PHONES: [(&str, &str, &str); 9] = [
    (
        "alice",
        "Linphone/5.2.5 (belle-sip/5.2.0)",
        "192.0.2.10:5062",
    ),
    ("alice", "Zoiper rv2.10.20.1", "198.51.100.23:5070"),
    ("bob", "Yealink SIP-T54W 96.86.0.70", "192.0.2.44:5060"),
    ("carol", "Grandstream GXP2170 1.0.11.64", "192.0.2.71:5060"),
    (
        "dave",
        "baresip v3.10.1 (x86_64/linux)",
        "203.0.113.5:45060",
    ),
    ("erin", "Cisco-CP8845/14.2.1", "192.0.2.90:5060"),
    ("frank", "MicroSIP/3.21.3", "198.51.100.7:5080"),
    (
        "grace",
        "Linphone/5.2.5 (belle-sip/5.2.0)",
        "192.0.2.15:5062",
    ),
    (
        "mallory",
        "<script>alert('xss')</script>",
        "203.0.113.66:5060",
    ),
];

impl Traffic {
    fn start(server: SocketAddr) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the phones' socket");
            socket.set_nonblocking(true).expect("non-blocking");
            let from = socket.local_addr().expect("socket address");
            let mut phones: Vec<Register> = PHONES
                .iter()
                .enumerate()
                .map(|(i, (user, ua, host))| {
                    let mut r = Register::new(user, &format!("sip:{user}@{host}"), ua);
                    r.call_id = format!("{}-{i}", r.call_id);
                    r.expires = 600 + 420 * i as u32;
                    r
                })
                .collect();
            let mut refused = Register::new("zed", "sip:zed@192.0.2.200:5060", "SomePhone/1.0");
            refused.expires = 10;
            let started = Instant::now();
            let mut tick = 0u64;
            let mut buf = vec![0u8; 65_536];
            while !flag.load(Ordering::Relaxed) {
                let t = started.elapsed().as_secs_f64();
                let burst = (4.0 + 3.0 * (t / 9.0).sin() + 2.0 * (t / 3.7).cos()).max(1.0) as usize;
                for k in 0..burst {
                    let phone = &mut phones[(tick as usize + k) % PHONES.len()];
                    let _ = socket.send_to(&phone.bytes(from), server);
                }
                if tick.is_multiple_of(7) || (t > 40.0 && t < 55.0 && tick.is_multiple_of(2)) {
                    let _ = socket.send_to(&refused.bytes(from), server);
                }
                while socket.recv(&mut buf).is_ok() {}
                tick += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        Traffic { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
