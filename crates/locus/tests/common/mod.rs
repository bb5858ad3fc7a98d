//! Shared end-to-end harness: starts the real `locus` binary on free
//! loopback ports with its own data directory, and speaks SIP to it over
//! real UDP and TCP sockets.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Upper bound for any single wait in these tests (not a performance
/// threshold: a hang guard).
pub const WAIT: Duration = Duration::from_secs(20);

/// A running `locus serve` started by a test; stopped (by PID) on drop.
pub struct Locus {
    pub child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    pub stdout_lines: Vec<String>,
    pub _tmp: Option<tempfile::TempDir>,
}

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_locus")
}

/// A port free on 127.0.0.1 for both UDP and TCP at the time of the call.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Locus {
    /// Starts a server on a fresh port and data directory, serving
    /// example.com with min 60 / max 7200, plus `extra` flags.
    pub fn start(extra: &[&str]) -> Locus {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let mut l = Locus::start_in(&data, free_port(), extra);
        l._tmp = Some(tmp);
        l
    }

    /// Starts a server on `port` with data in `data_dir`.
    pub fn start_in(data_dir: &Path, port: u16, extra: &[&str]) -> Locus {
        let udp = format!("udp:127.0.0.1:{port}");
        let tcp = format!("tcp:127.0.0.1:{port}");
        let mut args: Vec<&str> = vec![
            "serve",
            "--listen",
            &udp,
            "--listen",
            &tcp,
            "--domain",
            "example.com",
            "--min-expires",
            "60",
            "--max-expires",
            "7200",
        ];
        let data = data_dir.to_str().unwrap().to_string();
        args.extend(["--data-dir", &data]);
        args.extend(extra);
        let mut child = Command::new(bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start locus");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "locus exited before it was ready; output so far: {lines:?}"
            );
            lines.push(line.trim_end().to_string());
            if line.starts_with("location store:") {
                break;
            }
            assert!(Instant::now() < deadline, "locus not ready");
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = reader.read_to_string(&mut sink);
        });
        Locus {
            child: Some(child),
            port,
            data_dir: data_dir.to_path_buf(),
            stdout_lines: lines,
            _tmp: None,
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Sends SIGKILL (no cleanup at all) and waits for the process.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let pid = c.id().to_string();
        let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(st.success());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "locus did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Locus {
    fn drop(&mut self) {
        self.kill9();
    }
}

static SEQ: AtomicU32 = AtomicU32::new(1);

/// A unique token for Call-IDs, branches and tags.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A REGISTER builder with sensible defaults.
#[derive(Clone)]
pub struct Register {
    pub ruri: String,
    pub aor: String,
    pub call_id: String,
    pub cseq: u32,
    pub contacts: Vec<String>,
    pub expires: Option<String>,
    pub extra: Vec<String>,
    pub transport: &'static str,
    pub via_host: String,
    pub rport: bool,
}

impl Register {
    /// A REGISTER for `user@example.com` with one contact.
    pub fn new(user: &str) -> Register {
        Register {
            ruri: "sip:example.com".into(),
            aor: format!("sip:{user}@example.com"),
            call_id: unique("cid"),
            cseq: 1,
            contacts: vec![format!("<sip:{user}@192.0.2.10:5062>")],
            expires: None,
            extra: Vec::new(),
            transport: "UDP",
            via_host: "192.0.2.10:5062".into(),
            rport: true,
        }
    }

    /// The request bytes (each call uses a fresh branch).
    pub fn build(&self) -> String {
        let mut s = format!(
            "REGISTER {} SIP/2.0\r\nVia: SIP/2.0/{} {};branch={}{}\r\nMax-Forwards: 70\r\n\
             From: <{}>;tag={}\r\nTo: <{}>\r\nCall-ID: {}\r\nCSeq: {} REGISTER\r\n",
            self.ruri,
            self.transport,
            self.via_host,
            unique("z9hG4bK"),
            if self.rport { ";rport" } else { "" },
            self.aor,
            unique("t"),
            self.aor,
            self.call_id,
            self.cseq
        );
        for c in &self.contacts {
            s.push_str(&format!("Contact: {c}\r\n"));
        }
        if let Some(e) = &self.expires {
            s.push_str(&format!("Expires: {e}\r\n"));
        }
        for h in &self.extra {
            s.push_str(h);
            s.push_str("\r\n");
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    }
}

/// A parsed response, as text.
#[derive(Debug, Clone)]
pub struct Response {
    pub raw: String,
    pub code: u16,
    pub reason: String,
}

impl Response {
    /// Parses response text.
    pub fn parse(raw: &str) -> Response {
        let first = raw.lines().next().unwrap_or("");
        let mut parts = first.splitn(3, ' ');
        assert_eq!(parts.next(), Some("SIP/2.0"), "not a response: {raw}");
        let code = parts.next().unwrap().parse().unwrap();
        let reason = parts.next().unwrap_or("").to_string();
        Response {
            raw: raw.to_string(),
            code,
            reason,
        }
    }

    /// Values of every line of header `name` (case-insensitive).
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.raw
            .split("\r\n")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    /// The `(contact URI, expires)` pairs listed in Contact headers.
    pub fn contacts(&self) -> Vec<(String, u64)> {
        self.headers("Contact")
            .iter()
            .flat_map(|v| {
                v.split(", <")
                    .map(|s| s.trim_start_matches('<').to_string())
                    .collect::<Vec<_>>()
            })
            .map(|c| {
                let uri = c.split('>').next().unwrap().to_string();
                let exp = c
                    .split(';')
                    .find_map(|p| p.trim().strip_prefix("expires="))
                    .map(|v| v.parse().unwrap())
                    .unwrap_or(0);
                (uri, exp)
            })
            .collect()
    }
}

/// A UDP client bound to an ephemeral loopback port.
pub struct UdpClient {
    pub sock: UdpSocket,
    pub server: SocketAddr,
}

impl UdpClient {
    /// A client for `server`.
    pub fn new(server: SocketAddr) -> UdpClient {
        UdpClient::bound("127.0.0.1", server)
    }

    /// A client on loopback address `ip` (127.0.0.2 is another source).
    pub fn bound(ip: &str, server: SocketAddr) -> UdpClient {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        UdpClient { sock, server }
    }

    /// Sends `msg` and waits for one response, retransmitting like a UAC
    /// (T1 doubling) until WAIT passes.
    pub fn request(&self, msg: &str) -> Response {
        let deadline = Instant::now() + WAIT;
        let mut buf = vec![0u8; 65536];
        let branch = branch_of(msg.as_bytes());
        loop {
            self.sock.send_to(msg.as_bytes(), self.server).unwrap();
            match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => {
                    let r = Response::parse(&String::from_utf8_lossy(&buf[..n]));
                    // Skip late answers to earlier requests (retransmissions).
                    if r.code >= 200 && branch_of(r.raw.as_bytes()) == branch {
                        return r;
                    }
                }
                Err(_) => assert!(Instant::now() < deadline, "no response to:\n{msg}"),
            }
        }
    }

    /// Sends raw bytes once and returns the response, if one comes within 2 s.
    pub fn send_raw(&self, bytes: &[u8]) -> Option<Response> {
        self.sock.send_to(bytes, self.server).unwrap();
        let mut buf = vec![0u8; 65536];
        let branch = branch_of(bytes);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                let r = Response::parse(&String::from_utf8_lossy(&buf[..n]));
                if branch.is_none() || branch_of(r.raw.as_bytes()) == branch {
                    return Some(r);
                }
            }
        }
        None
    }
}

/// A TCP client connection.
pub struct TcpClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl TcpClient {
    /// Connects to `server`.
    pub fn connect(server: SocketAddr) -> TcpClient {
        let stream = TcpStream::connect(server).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        TcpClient {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads one framed response.
    pub fn read_response(&mut self) -> Response {
        loop {
            // Skip CRLF keep-alive pongs between messages.
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let cl: usize = head
                    .split("\r\n")
                    .filter_map(|l| l.split_once(':'))
                    .find(|(n, _)| {
                        n.trim().eq_ignore_ascii_case("content-length") || n.trim() == "l"
                    })
                    .map(|(_, v)| v.trim().parse().unwrap())
                    .unwrap_or(0);
                let total = end + 4 + cl;
                if self.buf.len() >= total {
                    let msg: Vec<u8> = self.buf.drain(..total).collect();
                    return Response::parse(&String::from_utf8_lossy(&msg));
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("read response");
            assert!(n > 0, "connection closed before a response");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `msg` and reads the response.
    pub fn request(&mut self, msg: &str) -> Response {
        self.send(msg.as_bytes());
        self.read_response()
    }
}

/// The first Via branch in a message, to match responses to requests.
pub fn branch_of(msg: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(msg);
    let start = text.find("branch=")? + 7;
    let rest = &text[start..];
    let end = rest.find([';', '\r', ',', ' ']).unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Runs `locus bindings` and returns (exit status, stdout).
pub fn bindings_cmd(data_dir: &Path, aor: Option<&str>) -> (std::process::ExitStatus, String) {
    let mut cmd = Command::new(bin());
    cmd.args(["bindings", "--data-dir", data_dir.to_str().unwrap()]);
    if let Some(a) = aor {
        cmd.arg(a);
    }
    let out = cmd.output().unwrap();
    (out.status, String::from_utf8_lossy(&out.stdout).to_string())
}

/// Runs `locus users ARGS --data-dir DIR`, writing `stdin` to it.
pub fn users_cmd(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(bin())
        .arg("users")
        .args(args)
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        // The command may exit before reading (e.g. the account exists).
        let _ = input.write_all(text.as_bytes());
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Adds an account with `locus users add --password-stdin`.
pub fn add_user(data_dir: &Path, user: &str, domain: &str, password: &str) {
    let out = users_cmd(
        data_dir,
        &["add", user, "--domain", domain, "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    assert!(
        out.status.success(),
        "users add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Locus {
    /// Starts `locus serve` with exactly these listen specs and flags (no
    /// default min/max expires), optionally under a wrapper command such
    /// as `ip netns exec NS`. Waits until it is ready.
    pub fn start_with(wrapper: &[&str], listen: &[String], extra: &[&str]) -> Locus {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        cmd.arg("serve");
        for l in listen {
            cmd.args(["--listen", l]);
        }
        cmd.args(["--data-dir", data.to_str().unwrap()]).args(extra);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start locus");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "locus exited before it was ready; output so far: {lines:?}"
            );
            lines.push(line.trim_end().to_string());
            if line.starts_with("location store:") {
                break;
            }
        }
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = reader.read_to_string(&mut sink);
        });
        Locus {
            child: Some(child),
            port: 0,
            data_dir: data,
            stdout_lines: lines,
            _tmp: Some(tmp),
        }
    }
}

/// Output of one `locus register` run.
pub struct RegisterRun {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `locus register ARGS` (with `stdin` fed to it) to completion,
/// bounded by WAIT plus Timer F.
pub fn register_cmd(args: &[&str], stdin: Option<&str>) -> RegisterRun {
    register_cmd_wrapped(&[], args, stdin)
}

/// As [`register_cmd`], under a wrapper command (`ip netns exec NS`).
pub fn register_cmd_wrapped(wrapper: &[&str], args: &[&str], stdin: Option<&str>) -> RegisterRun {
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin());
            c
        }
        None => Command::new(bin()),
    };
    let mut child = cmd
        .arg("register")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start locus register");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let pid = child.id();
    let guard = std::thread::spawn(move || {
        let deadline = Instant::now() + WAIT + Duration::from_secs(40);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let out = child.wait_with_output().unwrap();
    let _ = guard.join();
    RegisterRun {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// A child process killed (by PID) when dropped, so a failing test
/// leaves nothing running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
