//! Shared end-to-end harness: starts the real `locus` binary on ports the
//! kernel picks (port 0, read back from its startup banner) with its own
//! data directory, speaks SIP to it over real UDP and TCP sockets, and runs
//! child processes with a deadline on every wait.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Upper bound for any single wait in these tests (not a performance
/// threshold: a hang guard).
pub const WAIT: Duration = Duration::from_secs(20);

/// Upper bound for one run of a SIP client (`locus register`, `locus
/// bench`, SIPp, sipsak): a client gives up on a silent server after
/// Timer F (64·T1 = 32 s) or its own `-timeout 30`, and WAIT more is left
/// for the rest of its work. A hang guard too.
pub const CLIENT_WAIT: Duration = Duration::from_secs(WAIT.as_secs() + 40);

/// How many free ports a third-party server that cannot bind port 0 is
/// started on before the test gives up (each retry follows a start that
/// failed because another process took the port meanwhile).
pub const PORT_TRIES: usize = 5;

/// A running `locus serve` started by a test; stopped (by PID) on drop.
pub struct Locus {
    pub child: Option<Child>,
    /// Every listener the banner names, in its order: transport (`udp` or
    /// `tcp`) and the bound address.
    pub listeners: Vec<(String, SocketAddr)>,
    /// The admin API's URL (`http://127.0.0.1:PORT`) from the banner,
    /// unless it is off.
    pub admin_url: Option<String>,
    /// The admin token's file from the banner.
    pub token_file: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub stdout_lines: Vec<String>,
    pub _tmp: Option<tempfile::TempDir>,
}

/// The admin URL of the last server each data directory was served by:
/// the management commands the tests run on a data directory are pointed
/// at that server (or, once it stopped, at its closed port, so they use
/// the store), never at whatever else listens on the default port.
static ADMIN_URLS: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

/// The admin URL of the last server of `data_dir`, if one was started.
pub fn admin_url_of(data_dir: &Path) -> Option<String> {
    let urls = ADMIN_URLS.lock().unwrap_or_else(PoisonError::into_inner);
    urls.iter()
        .rev()
        .find(|(dir, _)| dir == data_dir)
        .map(|(_, url)| url.clone())
}

/// `--admin-url URL` of the last server of `data_dir`, for a management
/// command (none when no server was started there).
pub fn admin_url_args(data_dir: &Path) -> Vec<String> {
    admin_url_of(data_dir)
        .map(|url| vec!["--admin-url".to_owned(), url])
        .unwrap_or_default()
}

/// `--admin-listen 127.0.0.1:0` unless `extra` sets the admin listener:
/// servers started in parallel must not all take the default port.
fn admin_listen_args(extra: &[&str]) -> Vec<&'static str> {
    if extra.iter().any(|a| a.starts_with("--admin-listen")) {
        Vec::new()
    } else {
        vec!["--admin-listen", "127.0.0.1:0"]
    }
}

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_locus")
}

/// A port free on 127.0.0.1 for both UDP and TCP at the time of the call,
/// for third-party servers that cannot bind port 0 and report it (a
/// caller retries on another port when the server finds it taken).
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The path of program `name`, looked up in PATH and then in /usr/sbin and
/// /sbin (where Debian installs kamailio and ip, outside a user's PATH).
/// A missing tool fails the test saying which Debian package has it.
pub fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    found.unwrap_or_else(|| {
        panic!("{name} is required: scripts/test installs it (Debian package {package})")
    })
}

/// The lines a child writes to stdout, read on a thread so that each read
/// here has a deadline (a hung child fails the test instead of hanging it).
/// The thread reads to the end even when nobody asks for the lines any
/// more, so the child never blocks on a full pipe.
pub struct Lines(mpsc::Receiver<String>);

impl Lines {
    /// Starts reading `stdout`.
    pub fn new(stdout: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).trim_end().to_string();
                        let _ = tx.send(text);
                    }
                }
            }
        });
        Lines(rx)
    }

    /// The next line (without its line end), or None once the child has
    /// closed stdout. Fails the test, naming `what`, if no line comes
    /// within WAIT.
    pub fn next_line(&self, what: &str) -> Option<String> {
        match self.0.recv_timeout(WAIT) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no {what} within {WAIT:?}"),
        }
    }

    /// Every line until the child closes stdout. Fails the test, naming
    /// `what`, if stdout is still open after WAIT.
    pub fn rest(&self, what: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => return lines,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{what}: output still open after {WAIT:?}; so far {lines:?}")
                }
            }
        }
    }
}

/// Everything `r` yields until it closes, read on a thread (the receiver
/// gets it once, so the wait for it can have a deadline).
fn read_to_end_on_thread(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = r.read_to_end(&mut all);
        let _ = tx.send(all);
    });
    rx
}

/// Waits up to `limit` for `child` (a process this test started) to exit,
/// polling. If it has not exited by then it is killed, and None returned.
pub fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            kill_and_reap(child);
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGKILL to `child` (through its handle, so to its own PID) and
/// reaps it, giving up (without failing) after WAIT: used on drop, where
/// a failure must not panic.
pub fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            _ => return,
        }
    }
}

/// Sends `signal` (e.g. `libc::SIGTERM`) to `child`, a process this test
/// started, by its PID.
pub fn send_signal(child: &Child, signal: libc::c_int) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) on the PID of our own unreaped child: it cannot
    // have been reused by another process.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// Runs `cmd` to completion with `stdin` written to it (or its stdin
/// closed) and its output captured. Fails the test, naming the command, if
/// it has not finished within `limit` (it is killed then).
pub fn run(cmd: &mut Command, stdin: Option<&str>, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = read_to_end_on_thread(child.stdout.take().unwrap());
    let stderr = read_to_end_on_thread(child.stderr.take().unwrap());
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        // The command may exit before reading (e.g. the account exists).
        let _ = input.write_all(text.as_bytes());
    }
    drop(input);
    let status = wait_within(&mut child, limit)
        .unwrap_or_else(|| panic!("{cmd:?} did not finish within {limit:?}"));
    let closed = |rx: mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("{cmd:?} exited but its output stayed open"))
    };
    Output {
        status,
        stdout: closed(stdout),
        stderr: closed(stderr),
    }
}

/// SIPp's message (on stderr, exit status 254) when its `-p` port is taken.
pub const SIPP_PORT_TAKEN: &str = "Unable to bind main socket";

/// Runs SIPp as `sipp(port)` builds it, to completion, with `-p` on a
/// free port: its scenarios name the local port, so it cannot bind port 0.
/// When another process took the port meanwhile, SIPp says so and the run
/// is retried on another port, up to PORT_TRIES times. Returns the port
/// and the output.
pub fn run_sipp(mut sipp: impl FnMut(u16) -> Command) -> (u16, Output) {
    for _ in 0..PORT_TRIES {
        let port = free_port();
        let out = run(&mut sipp(port), None, CLIENT_WAIT);
        if !String::from_utf8_lossy(&out.stderr).contains(SIPP_PORT_TAKEN) {
            return (port, out);
        }
    }
    panic!("sipp found each of {PORT_TRIES} free ports taken");
}

impl Locus {
    /// Starts a server on fresh ports and data directory, serving
    /// example.com with min 60 / max 7200, plus `extra` flags.
    pub fn start(extra: &[&str]) -> Locus {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let mut l = Locus::start_in(&data, extra);
        l._tmp = Some(tmp);
        l
    }

    /// Starts a server on UDP and TCP 127.0.0.1, each on a port the kernel
    /// picks, with data in `data_dir` (a restart on the same data gets new
    /// ports: nothing waits for a port to become free again).
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Locus {
        let mut cmd = Command::new(bin());
        cmd.args([
            "serve",
            "--listen",
            "udp:127.0.0.1:0",
            "--listen",
            "tcp:127.0.0.1:0",
            "--domain",
            "example.com",
            "--min-expires",
            "60",
            "--max-expires",
            "7200",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .args(admin_listen_args(extra))
        .args(extra)
        .stderr(Stdio::inherit());
        Locus::spawn(cmd, data_dir, None)
    }

    /// Starts `locus serve` with exactly these listen specs and flags (no
    /// default min/max expires), optionally under a wrapper command such
    /// as `ip netns exec NS`.
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
        cmd.arg("--data-dir")
            .arg(&data)
            .args(admin_listen_args(extra))
            .args(extra);
        cmd.stderr(Stdio::inherit());
        Locus::spawn(cmd, &data, Some(tmp))
    }

    /// Spawns `cmd` (a `locus serve`, possibly under a wrapper) and waits,
    /// within WAIT, for its banner up to the `location store:` line; the
    /// `listening on` lines give the bound addresses, `admin API on` and
    /// `admin token in` the admin listener's. Stdout keeps being drained
    /// afterwards.
    pub fn spawn(cmd: Command, data_dir: &Path, tmp: Option<tempfile::TempDir>) -> Locus {
        Locus::spawn_reading(cmd, data_dir, tmp).0
    }

    /// [`Locus::spawn`], also returning the rest of the server's stdout.
    pub fn spawn_reading(
        mut cmd: Command,
        data_dir: &Path,
        tmp: Option<tempfile::TempDir>,
    ) -> (Locus, Lines) {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let out = Lines::new(child.stdout.take().unwrap());
        // Owned from here on: a failed start is killed on the way out.
        let mut locus = Locus {
            child: Some(child),
            listeners: Vec::new(),
            admin_url: None,
            token_file: None,
            data_dir: data_dir.to_path_buf(),
            stdout_lines: Vec::new(),
            _tmp: tmp,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            let Some(line) = out.next_line("locus startup banner") else {
                panic!(
                    "locus exited before it was ready; output so far: {:?}",
                    locus.stdout_lines
                );
            };
            if let Some((transport, addr)) = line
                .strip_prefix("listening on ")
                .and_then(|l| l.split_once(':'))
            {
                let addr = addr
                    .parse()
                    .unwrap_or_else(|e| panic!("bad listener in {line:?}: {e}"));
                locus.listeners.push((transport.to_string(), addr));
            }
            if let Some(url) = line.strip_prefix("admin API on ") {
                locus.admin_url = Some(url.to_string());
                ADMIN_URLS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((data_dir.to_path_buf(), url.to_string()));
            }
            if let Some(path) = line.strip_prefix("admin token in ") {
                locus.token_file = Some(PathBuf::from(path));
            }
            let done = line.starts_with("location store:");
            locus.stdout_lines.push(line);
            if done {
                return (locus, out);
            }
            assert!(Instant::now() < deadline, "locus not ready");
        }
    }

    /// [`Locus::start_with`] without a wrapper, its stderr (the log) going
    /// to a file of its temporary directory, whose path is returned.
    pub fn start_logged(listen: &[String], extra: &[&str]) -> (Locus, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let log = tmp.path().join("stderr.log");
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(bin());
        cmd.arg("serve");
        for l in listen {
            cmd.args(["--listen", l]);
        }
        cmd.arg("--data-dir")
            .arg(&data)
            .args(admin_listen_args(extra))
            .args(extra)
            .stderr(file);
        (Locus::spawn(cmd, &data, Some(tmp)), log)
    }

    /// The first listener of `transport` (`udp` or `tcp`) the banner names
    /// whose address is `ip`.
    pub fn listener(&self, transport: &str, ip: IpAddr) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(t, a)| t == transport && a.ip() == ip)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {transport} listener on {ip}: {:?}", self.listeners))
    }

    /// The first UDP listener the banner names.
    pub fn udp_addr(&self) -> SocketAddr {
        self.first("udp")
    }

    /// The first TCP listener the banner names (not the UDP one's port:
    /// each listener on port 0 gets its own).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.first("tcp")
    }

    fn first(&self, transport: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(t, _)| t == transport)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {transport} listener: {:?}", self.listeners))
    }

    /// The admin API's URL; fails the test when the banner named none.
    pub fn admin(&self) -> &str {
        self.admin_url
            .as_deref()
            .unwrap_or_else(|| panic!("no admin API in the banner: {:?}", self.stdout_lines))
    }

    /// The admin token (read from the file the banner names).
    pub fn token(&self) -> String {
        let path = self.token_file.as_ref().unwrap_or_else(|| {
            panic!("no admin token file in the banner: {:?}", self.stdout_lines)
        });
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            .trim()
            .to_string()
    }

    /// The PID of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGKILL (no cleanup at all) and waits for the process.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_and_reap(&mut c);
        }
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        send_signal(&c, libc::SIGTERM);
        wait_within(&mut c, WAIT).expect("locus did not exit after SIGTERM")
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

    /// Sends `msg` and waits for its final response, retransmitting every
    /// 500 ms (the read timeout) like a UAC, until WAIT passes.
    pub fn request(&self, msg: &str) -> Response {
        let deadline = Instant::now() + WAIT;
        let mut buf = vec![0u8; 65536];
        let branch = branch_of(msg.as_bytes());
        loop {
            assert!(Instant::now() < deadline, "no response to:\n{msg}");
            self.sock.send_to(msg.as_bytes(), self.server).unwrap();
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                let r = Response::parse(&String::from_utf8_lossy(&buf[..n]));
                // Skip late answers to earlier requests (retransmissions).
                if r.code >= 200 && branch_of(r.raw.as_bytes()) == branch {
                    return r;
                }
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
    /// Connects to `server`; every read then waits at most WAIT.
    pub fn connect(server: SocketAddr) -> TcpClient {
        let stream = TcpStream::connect_timeout(&server, WAIT)
            .unwrap_or_else(|e| panic!("connect to {server}: {e}"));
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
            let n = self
                .stream
                .read(&mut chunk)
                .unwrap_or_else(|e| panic!("no response within {WAIT:?}: {e}"));
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
pub fn bindings_cmd(data_dir: &Path, aor: Option<&str>) -> (ExitStatus, String) {
    let mut cmd = Command::new(bin());
    cmd.arg("bindings").arg("--data-dir").arg(data_dir);
    cmd.args(admin_url_args(data_dir));
    if let Some(a) = aor {
        cmd.arg(a);
    }
    let out = run(&mut cmd, None, WAIT);
    (out.status, String::from_utf8_lossy(&out.stdout).to_string())
}

/// Runs `locus users ARGS --data-dir DIR`, writing `stdin` to it.
pub fn users_cmd(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("users").args(args).arg("--data-dir").arg(data_dir);
    cmd.args(admin_url_args(data_dir));
    run(&mut cmd, stdin, WAIT)
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

/// Output of one `locus register` run.
pub struct RegisterRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `locus register ARGS` (with `stdin` fed to it) to completion,
/// bounded by CLIENT_WAIT.
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
    cmd.arg("register").args(args);
    let out = run(&mut cmd, stdin, CLIENT_WAIT);
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
        kill_and_reap(&mut self.0);
    }
}

/// What a server wrote to its log file so far.
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Waits, within WAIT, until the log file holds `needle`; returns the log.
pub fn wait_for_log(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = read_log(path);
        if log.contains(needle) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log within {WAIT:?}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An HTTP client for the admin API, every request bounded by WAIT.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(WAIT)
        .build()
        .unwrap()
}

/// Runs `locus ARGS` (a management command) with `stdin` to completion.
pub fn locus_cmd(args: &[&str], stdin: Option<&str>) -> Output {
    run(Command::new(bin()).args(args), stdin, WAIT)
}
