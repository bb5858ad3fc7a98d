//! Shared harness of the server's own tests: starts a real server
//! in-process (its own tokio runtime, listeners on 127.0.0.1 port 0, the
//! real endpoint behind them), speaks SIP to it over real loopback sockets
//! the way a UA would, and stops it with [`server::Shutdown`].
//!
//! Every read and every wait has a deadline: [`WAIT`] is a hang guard, not
//! a performance threshold. Nothing sleeps a guessed time in place of a
//! wait: a client reads until what it waits for arrives, and
//! [`poll_until`] looks again every few milliseconds against a deadline.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use location::{LocationStore, MemoryStore, StoreError};
use server::{ListenAddr, ServerConfig, Shutdown};
use sip_core::abuse::AbuseConfig;
use sip_core::{CoreConfig, RegistrarConfig};
use sip_message::Limits;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Upper bound of any single wait in these tests: a hang guard, so that a
/// server that never answers fails the test instead of hanging it. Not a
/// performance threshold; passing tests wait milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// How long a UDP client waits for an answer before it retransmits (T1 of
/// RFC 3261 §17.1.1.1): a UA's retransmission, which also recovers an
/// answer the server legitimately withheld (a retransmission absorbed while
/// the first copy was still being processed).
pub const T1: Duration = Duration::from_millis(500);

/// How long to listen for the answer that must *not* come (a stopped
/// server's port): the one place a bounded wait for nothing is the test.
pub const SILENCE: Duration = Duration::from_secs(1);

/// The domain the test registrar serves.
pub const DOMAIN: &str = "example.com";

/// The configuration the tests serve with: UDP and TCP on 127.0.0.1 port
/// 0, the registrar serving [`DOMAIN`], the proxy on (the default mode), no
/// authentication, default parser limits, and several endpoint instances
/// so that sharding by Call-ID is exercised as in the binary.
pub fn config() -> ServerConfig {
    let loopback_any: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    ServerConfig {
        listen: vec![ListenAddr::Udp(loopback_any), ListenAddr::Tcp(loopback_any)],
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
        shards: 4,
    }
}

/// A server running in-process on a runtime of its own. Dropping it (a
/// failed test) triggers the shutdown and stops the runtime; a test that
/// checks the shutdown calls [`TestServer::stop`].
pub struct TestServer {
    runtime: Option<tokio::runtime::Runtime>,
    task: Option<tokio::task::JoinHandle<Result<(), StoreError>>>,
    shutdown: Shutdown,
    /// The bound UDP listener.
    pub udp: SocketAddr,
    /// The bound TCP listener.
    pub tcp: SocketAddr,
    /// The running server's handle.
    pub node: server::Node,
}

impl TestServer {
    /// [`config`] over a fresh in-memory store.
    pub fn start() -> TestServer {
        TestServer::start_with(config(), Arc::new(MemoryStore::new()))
    }

    /// Binds `cfg` (which must have one UDP and one TCP listener) and runs
    /// it over `store` until stopped.
    pub fn start_with(cfg: ServerConfig, store: Arc<dyn LocationStore>) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let bound = runtime
            .block_on(server::bind(cfg))
            .expect("bind the test listeners");
        let addrs = bound.local_addrs();
        let find = |udp: bool| {
            addrs
                .iter()
                .find_map(|a| match (a, udp) {
                    (ListenAddr::Udp(s), true) | (ListenAddr::Tcp(s), false) => Some(*s),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("listeners {addrs:?} lack one of UDP and TCP"))
        };
        let (udp, tcp) = (find(true), find(false));
        for a in [udp, tcp] {
            assert!(a.ip().is_loopback() && a.port() != 0, "bound {a}");
        }
        let shutdown = Shutdown::new();
        let (started, node) = std::sync::mpsc::channel();
        let task = runtime.spawn(bound.run_with(store, shutdown.clone(), move |node| {
            let _ = started.send(node);
        }));
        let node = node
            .recv_timeout(WAIT)
            .expect("the server hands out its node once it serves");
        TestServer {
            runtime: Some(runtime),
            task: Some(task),
            shutdown,
            udp,
            tcp,
            node,
        }
    }

    /// Runs `f` on the server's runtime and waits for it.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.as_ref().expect("running").block_on(f)
    }

    /// Triggers the shutdown and waits (within [`WAIT`]) for `run` to
    /// return; fails the test unless it returned `Ok(())`. The runtime is
    /// kept (in the [`Stopped`]) so that whatever the server left running
    /// would still run while the test looks at it: a connection found
    /// closed was closed by the server, not by the end of the runtime.
    pub fn stop(mut self) -> Stopped {
        let runtime = self.runtime.take().expect("running");
        let task = self.task.take().expect("running");
        let started = Instant::now();
        self.shutdown.trigger();
        let outcome = runtime.block_on(async { tokio::time::timeout(WAIT, task).await });
        let took = started.elapsed();
        match outcome {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("run returned an error: {e}"),
            Ok(Err(e)) => panic!("the server task failed: {e}"),
            Err(_) => panic!("run did not return within {WAIT:?} of the shutdown"),
        }
        Stopped {
            runtime: Some(runtime),
            took,
        }
    }
}

/// A server whose `run` returned `Ok(())`, with its runtime still up.
pub struct Stopped {
    runtime: Option<tokio::runtime::Runtime>,
    /// How long `run` took to return after the trigger (reported, never
    /// asserted on).
    pub took: Duration,
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(WAIT);
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(WAIT);
        }
    }
}

static SEQ: AtomicU32 = AtomicU32::new(1);

/// A token unique in this process, for Call-IDs, branches and tags (so
/// that the tests of one binary, run in parallel, never share one).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A request as a UA builds it. Every field is public so a test can make
/// the one change it is about; [`Request::bytes`] writes it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub ruri: String,
    /// Transport token of the top Via (`UDP`, `TCP`).
    pub via_transport: String,
    /// Sent-by of the top Via (`host:port`).
    pub sent_by: String,
    /// Whether the top Via asks for `rport` (RFC 3581).
    pub rport: bool,
    pub branch: String,
    pub from: String,
    pub from_tag: String,
    pub to: String,
    pub call_id: String,
    pub cseq: u32,
    /// The Contact header value, if any.
    pub contact: Option<String>,
    /// Further header lines, written as given.
    pub headers: Vec<String>,
    /// The body; Content-Length always matches it.
    pub body: Vec<u8>,
}

impl Request {
    /// A `method` request for `ruri` from alice to `to`, over UDP from
    /// 192.0.2.10:5062 (a documentation address: nothing may be sent
    /// there), with rport, a fresh branch, tag and Call-ID.
    pub fn new(method: &str, ruri: &str, to: &str) -> Request {
        Request {
            method: method.to_string(),
            ruri: ruri.to_string(),
            via_transport: "UDP".to_string(),
            sent_by: "192.0.2.10:5062".to_string(),
            rport: true,
            branch: unique("z9hG4bK"),
            from: format!("sip:alice@{DOMAIN}"),
            from_tag: unique("t"),
            to: to.to_string(),
            call_id: unique("cid"),
            cseq: 1,
            contact: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A REGISTER of `user@DOMAIN` binding `contact` (a URI).
    pub fn register(user: &str, contact: &str) -> Request {
        let aor = format!("sip:{user}@{DOMAIN}");
        let mut r = Request::new("REGISTER", &format!("sip:{DOMAIN}"), &aor);
        r.from = aor;
        r.contact = Some(format!("<{contact}>"));
        r
    }

    /// An OPTIONS to the server itself.
    pub fn options() -> Request {
        Request::new(
            "OPTIONS",
            &format!("sip:{DOMAIN}"),
            &format!("sip:{DOMAIN}"),
        )
    }

    /// The same request with the top Via of `transport` and `sent_by`.
    pub fn via(mut self, transport: &str, sent_by: &str, rport: bool) -> Request {
        self.via_transport = transport.to_string();
        self.sent_by = sent_by.to_string();
        self.rport = rport;
        self
    }

    /// The request's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut s = format!(
            "{} {} SIP/2.0\r\nVia: SIP/2.0/{} {};branch={}{}\r\nMax-Forwards: 70\r\n\
             From: <{}>;tag={}\r\nTo: <{}>\r\nCall-ID: {}\r\nCSeq: {} {}\r\n",
            self.method,
            self.ruri,
            self.via_transport,
            self.sent_by,
            self.branch,
            if self.rport { ";rport" } else { "" },
            self.from,
            self.from_tag,
            self.to,
            self.call_id,
            self.cseq,
            self.method,
        );
        if let Some(c) = &self.contact {
            s.push_str(&format!("Contact: {c}\r\n"));
        }
        for h in &self.headers {
            s.push_str(h);
            s.push_str("\r\n");
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// A message the server sent, split into start line and headers (enough
/// to assert on; the server's own parser is not used, so that a defect in
/// it cannot hide one in what it sends).
#[derive(Debug, Clone)]
pub struct SipMsg {
    /// Exactly the bytes received.
    pub raw: Vec<u8>,
    pub start_line: String,
    pub headers: Vec<(String, String)>,
}

impl SipMsg {
    /// Splits `raw`, one whole message; fails the test, showing it, if it
    /// has no end of headers.
    pub fn parse(raw: &[u8]) -> SipMsg {
        let end = find(raw, b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..end]).to_string();
        let mut lines = head.split("\r\n");
        let start_line = lines.next().unwrap_or_default().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        SipMsg {
            raw: raw.to_vec(),
            start_line,
            headers,
        }
    }

    /// The status code of a response; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        let rest = self.start_line.strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }

    /// The reason phrase of a response ("" for a request).
    pub fn reason(&self) -> &str {
        self.start_line
            .strip_prefix("SIP/2.0 ")
            .and_then(|r| r.get(4..))
            .unwrap_or("")
    }

    /// The method of a request; `None` for a response.
    pub fn method(&self) -> Option<&str> {
        if self.start_line.starts_with("SIP/") {
            return None;
        }
        self.start_line.split(' ').next()
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&str> {
        self.method()?;
        self.start_line.split(' ').nth(1)
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).into_iter().next()
    }

    /// The branch of the top Via.
    pub fn branch(&self) -> Option<&str> {
        let via = self.header("Via")?;
        let start = via.find("branch=")? + "branch=".len();
        let rest = &via[start..];
        let end = rest.find([';', ',', ' ']).unwrap_or(rest.len());
        Some(&rest[..end])
    }

    /// The text, for failure messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).to_string()
    }

    /// The response a UA gives to this request: `code reason`, its Vias,
    /// From, Call-ID and CSeq copied, To with `to_tag` added.
    pub fn answer(&self, code: u16, reason: &str, to_tag: &str) -> Vec<u8> {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for v in self.headers("Via") {
            s.push_str(&format!("Via: {v}\r\n"));
        }
        for name in ["From", "Call-ID", "CSeq"] {
            let v = self
                .header(name)
                .unwrap_or_else(|| panic!("no {name} in {}", self.text()));
            s.push_str(&format!("{name}: {v}\r\n"));
        }
        let to = self
            .header("To")
            .unwrap_or_else(|| panic!("no To in {}", self.text()));
        s.push_str(&format!(
            "To: {to};tag={to_tag}\r\nContent-Length: 0\r\n\r\n"
        ));
        s.into_bytes()
    }
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The time left until `deadline`, at least a millisecond (a zero read
/// timeout means "block forever" to the socket API).
fn left(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

/// Polls `done` until it holds, failing the test (naming `what`) if it
/// does not within [`WAIT`]; for a state change the test cannot be told
/// of, so it looks again every few milliseconds instead of sleeping a
/// guessed time.
pub fn poll_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "waited {WAIT:?} for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A UA's UDP socket on an ephemeral 127.0.0.1 port.
pub struct UdpUa {
    sock: UdpSocket,
}

impl UdpUa {
    /// A fresh socket.
    pub fn new() -> UdpUa {
        UdpUa {
            sock: UdpSocket::bind("127.0.0.1:0").expect("bind a client UDP socket"),
        }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.sock.local_addr().expect("client UDP address")
    }

    /// Sends one datagram to `to`.
    pub fn send(&self, bytes: &[u8], to: SocketAddr) {
        self.sock.send_to(bytes, to).expect("send a datagram");
    }

    /// The next datagram and its source, if one arrives before `deadline`.
    pub fn recv_until(&self, deadline: Instant) -> Option<(SipMsg, SocketAddr)> {
        let mut buf = vec![0u8; 65_536];
        while Instant::now() < deadline {
            self.sock
                .set_read_timeout(Some(left(deadline)))
                .expect("set a read timeout");
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => return Some((SipMsg::parse(&buf[..n]), from)),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // ICMP port unreachable of an earlier datagram, on some systems.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(e) => panic!("udp receive: {e}"),
            }
        }
        None
    }

    /// Sends `bytes` to `server` and returns the final response for its
    /// branch, retransmitting every [`T1`] as a UA does; fails the test if
    /// none comes within [`WAIT`]. Responses for other branches and
    /// provisional ones are skipped.
    pub fn request(&self, bytes: &[u8], server: SocketAddr) -> SipMsg {
        self.request_answered_at(bytes, server, self)
    }

    /// [`UdpUa::request`] sent from this socket but answered at `listener`
    /// (the socket a Via without rport names).
    pub fn request_answered_at(
        &self,
        bytes: &[u8],
        server: SocketAddr,
        listener: &UdpUa,
    ) -> SipMsg {
        let sent = SipMsg::parse(bytes);
        let branch = sent.branch().expect("the request has a branch");
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            self.send(bytes, server);
            let retransmit_at = (Instant::now() + T1).min(deadline);
            while let Some((msg, _)) = listener.recv_until(retransmit_at) {
                if msg.branch() == Some(branch) && msg.status().is_some_and(|c| c >= 200) {
                    return msg;
                }
            }
        }
        panic!(
            "no final response at {} within {WAIT:?} to:\n{}",
            listener.addr(),
            sent.text()
        );
    }

    /// The next message whose top Via has `branch` and for which `wanted`
    /// holds, received within [`WAIT`] without sending anything; fails the
    /// test otherwise.
    pub fn expect(&self, branch: &str, wanted: impl Fn(&SipMsg) -> bool) -> SipMsg {
        let deadline = Instant::now() + WAIT;
        while let Some((msg, _)) = self.recv_until(deadline) {
            if msg.branch() == Some(branch) && wanted(&msg) {
                return msg;
            }
        }
        panic!("nothing expected for branch {branch} within {WAIT:?}");
    }
}

/// A UA's TCP connection to the server, framing what it reads by
/// Content-Length as RFC 3261 §18.3 says.
pub struct TcpUa {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl TcpUa {
    /// Connects to `server` (within [`WAIT`]).
    pub fn connect(server: SocketAddr) -> TcpUa {
        let stream = TcpStream::connect_timeout(&server, WAIT)
            .unwrap_or_else(|e| panic!("connect to {server}: {e}"));
        stream.set_nodelay(true).expect("TCP_NODELAY");
        TcpUa {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes `bytes` in one write.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("tcp write");
    }

    /// Writes `bytes` in writes of `chunk` bytes (TCP_NODELAY is set, so
    /// each leaves as a segment of its own as far as the kernel allows).
    pub fn send_in_chunks(&mut self, bytes: &[u8], chunk: usize) {
        for piece in bytes.chunks(chunk) {
            self.stream.write_all(piece).expect("tcp write");
        }
    }

    /// Reads once more into the buffer before `deadline`; false at end of
    /// stream. Fails the test at the deadline.
    fn fill(&mut self, deadline: Instant, what: &str) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            assert!(
                Instant::now() < deadline,
                "no {what} within {WAIT:?}; buffered: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.stream
                .set_read_timeout(Some(left(deadline)))
                .expect("set a read timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A reset after the server closed: the end of the stream.
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return false,
                Err(e) => panic!("tcp read: {e}"),
            }
        }
    }

    /// Exactly the next `n` bytes, within [`WAIT`].
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        while self.buf.len() < n {
            assert!(
                self.fill(deadline, "bytes"),
                "connection closed before {n} bytes"
            );
        }
        self.buf.drain(..n).collect()
    }

    /// The next whole message, within [`WAIT`]. Nothing is skipped: a
    /// stray CRLF before it would show in its start line, so a test sees
    /// exactly what the server wrote.
    pub fn read_message(&mut self) -> SipMsg {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = SipMsg::parse(&self.buf[..end + 4]);
                let length = head
                    .header("Content-Length")
                    .or_else(|| head.header("l"))
                    .unwrap_or_else(|| panic!("no Content-Length in {}", head.text()));
                let length: usize = length
                    .parse()
                    .unwrap_or_else(|_| panic!("bad Content-Length in {}", head.text()));
                let total = end + 4 + length;
                if self.buf.len() >= total {
                    let raw: Vec<u8> = self.buf.drain(..total).collect();
                    return SipMsg::parse(&raw);
                }
            }
            assert!(
                self.fill(deadline, "message"),
                "connection closed before a whole message; buffered: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// The next final response, skipping provisional ones.
    pub fn read_final(&mut self) -> SipMsg {
        loop {
            let msg = self.read_message();
            if msg.status().is_some_and(|c| c >= 200) {
                return msg;
            }
        }
    }

    /// Sends `bytes` and returns the final response; fails the test if it
    /// answers another branch.
    pub fn request(&mut self, bytes: &[u8]) -> SipMsg {
        self.request_in_chunks(bytes, bytes.len().max(1))
    }

    /// [`TcpUa::request`], the request written `chunk` bytes at a time.
    pub fn request_in_chunks(&mut self, bytes: &[u8], chunk: usize) -> SipMsg {
        let branch = SipMsg::parse(bytes)
            .branch()
            .expect("the request has a branch")
            .to_string();
        self.send_in_chunks(bytes, chunk);
        let resp = self.read_final();
        assert_eq!(resp.branch(), Some(branch.as_str()), "{}", resp.text());
        resp
    }

    /// Waits (within [`WAIT`]) for the server to close the connection,
    /// failing the test if it sends anything more first.
    pub fn expect_closed(&mut self) {
        let deadline = Instant::now() + WAIT;
        while self.fill(deadline, "end of stream") {}
        assert!(
            self.buf.is_empty(),
            "the server sent more before closing: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }
}
