//! The router end to end: the real `locus` binary proxies and redirects
//! requests to registered contacts over loopback. UAs are raw sockets
//! driven by the test (so each step is observed in order) and SIPp UAC/UAS
//! processes with scenarios written here.

mod common;

use common::*;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

/// A raw UDP user agent on an ephemeral loopback port.
struct Ua {
    sock: UdpSocket,
    addr: SocketAddr,
}

impl Ua {
    fn new() -> Ua {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(WAIT)).unwrap();
        let addr = sock.local_addr().unwrap();
        Ua { sock, addr }
    }

    fn send(&self, to: SocketAddr, msg: &str) {
        self.sock.send_to(msg.as_bytes(), to).unwrap();
    }

    /// The next message for which `keep` holds (others, such as 100 Trying
    /// or retransmissions, are skipped).
    fn recv_where(&self, what: &str, keep: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        let mut buf = vec![0u8; 65536];
        loop {
            assert!(Instant::now() < deadline, "{}: no {what}", self.addr);
            match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => {
                    let m = String::from_utf8_lossy(&buf[..n]).to_string();
                    if keep(&m) {
                        return m;
                    }
                }
                Err(e) => panic!("{}: no {what}: {e}", self.addr),
            }
        }
    }

    /// The next request with this method.
    fn request(&self, method: &str) -> String {
        self.recv_where(method, |m| m.starts_with(&format!("{method} ")))
    }

    /// The next response with this status code.
    fn response(&self, code: u16) -> String {
        self.recv_where(&code.to_string(), |m| status(m) == Some(code))
    }

    /// True when a message of `method` is already queued (non-blocking).
    fn has_queued(&self, method: &str) -> bool {
        self.sock.set_nonblocking(true).unwrap();
        let mut buf = vec![0u8; 65536];
        let mut found = false;
        while let Ok((n, _)) = self.sock.recv_from(&mut buf) {
            found |= buf[..n].starts_with(format!("{method} ").as_bytes());
        }
        self.sock.set_nonblocking(false).unwrap();
        found
    }

    /// Registers `user@example.com` → this UA's address from this socket.
    fn register(&self, server: SocketAddr, user: &str, params: &str) {
        let mut r = Register::new(user);
        r.contacts = vec![format!("<sip:{user}@{}>{params}", self.addr)];
        r.via_host = self.addr.to_string();
        self.send(server, &r.build());
        self.response(200);
    }
}

fn status(m: &str) -> Option<u16> {
    m.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn headers(m: &str, name: &str) -> Vec<String> {
    m.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

fn header(m: &str, name: &str) -> String {
    headers(m, name).into_iter().next().unwrap_or_default()
}

/// A response to `req` as a UAS writes it: Vias, From, Call-ID, CSeq and
/// Record-Route copied, To with `tag`, and a Contact.
fn reply(req: &str, code: u16, reason: &str, tag: &str, contact: SocketAddr) -> String {
    let mut s = format!("SIP/2.0 {code} {reason}\r\n");
    for v in headers(req, "Via") {
        s += &format!("Via: {v}\r\n");
    }
    for rr in headers(req, "Record-Route") {
        s += &format!("Record-Route: {rr}\r\n");
    }
    s += &format!("From: {}\r\n", header(req, "From"));
    let to = header(req, "To");
    if to.contains("tag=") {
        s += &format!("To: {to}\r\n");
    } else {
        s += &format!("To: {to};tag={tag}\r\n");
    }
    s += &format!(
        "Call-ID: {}\r\nCSeq: {}\r\n",
        header(req, "Call-ID"),
        header(req, "CSeq")
    );
    s += &format!("Contact: <sip:ua@{contact}>\r\nContent-Length: 0\r\n\r\n");
    s
}

/// An INVITE from `from` for `ruri`.
fn invite(ruri: &str, from: SocketAddr, call_id: &str) -> String {
    format!(
        "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch={};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:caller@example.com>;tag=c1\r\nTo: <{ruri}>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:caller@{from}>\r\nContent-Length: 0\r\n\r\n",
        unique("z9hG4bK")
    )
}

/// The ACK (2xx: new branch; non-2xx: the INVITE's branch) or CANCEL a
/// caller sends for `inv`, with `to` as the To header.
fn in_transaction(inv: &str, method: &str, to: &str, route: &[String]) -> String {
    let ruri = inv.split(' ').nth(1).unwrap();
    let mut s = format!(
        "{method} {ruri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {to}\r\n\
         Call-ID: {}\r\nCSeq: 1 {method}\r\n",
        header(inv, "Via"),
        header(inv, "From"),
        header(inv, "Call-ID")
    );
    for r in route {
        s += &format!("Route: {r}\r\n");
    }
    s + "Content-Length: 0\r\n\r\n"
}

/// The ACK for a 2xx, sent along the route set the 2xx's Record-Route gave
/// (reversed, as the caller's route set, RFC 3261 §12.1.2).
fn ack_for_2xx(ok: &str, from: SocketAddr) -> String {
    let mut route: Vec<String> = headers(ok, "Record-Route")
        .iter()
        .flat_map(|l| l.split(", ").map(str::to_string).collect::<Vec<_>>())
        .collect();
    route.reverse();
    let contact = header(ok, "Contact");
    let target = contact.trim_start_matches('<').split('>').next().unwrap();
    let mut s = format!(
        "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch={};rport\r\nMax-Forwards: 70\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\n",
        unique("z9hG4bK"),
        header(ok, "From"),
        header(ok, "To"),
        header(ok, "Call-ID")
    );
    for r in route {
        s += &format!("Route: {r}\r\n");
    }
    s + "Content-Length: 0\r\n\r\n"
}

#[test]
fn aor_without_bindings_is_480() {
    let locus = Locus::start(&[]);
    let caller = Ua::new();
    caller.send(
        locus.udp_addr(),
        &invite("sip:nobody@example.com", caller.addr, &unique("c")),
    );
    caller.response(100);
    let r = caller.response(480);
    assert!(r.starts_with("SIP/2.0 480 Temporarily Unavailable"), "{r}");
}

#[test]
fn parallel_fork_one_answers_and_the_other_is_cancelled() {
    let locus = Locus::start(&[]);
    let (ua1, ua2, caller) = (Ua::new(), Ua::new(), Ua::new());
    ua1.register(locus.udp_addr(), "carol", "");
    ua2.register(locus.udp_addr(), "carol", "");
    let inv = invite("sip:carol@example.com", caller.addr, &unique("fork"));
    caller.send(locus.udp_addr(), &inv);

    let in1 = ua1.request("INVITE");
    let in2 = ua2.request("INVITE");
    assert!(
        in1.starts_with(&format!("INVITE sip:carol@{} ", ua1.addr)),
        "{in1}"
    );
    assert!(
        in2.starts_with(&format!("INVITE sip:carol@{} ", ua2.addr)),
        "{in2}"
    );
    assert_eq!(header(&in1, "Max-Forwards"), "69");
    assert_eq!(headers(&in1, "Via").len(), 2, "{in1}");
    assert!(!headers(&in1, "Record-Route").is_empty(), "{in1}");
    ua2.send(
        locus.udp_addr(),
        &reply(&in2, 180, "Ringing", "t2", ua2.addr),
    );
    caller.response(180);
    ua1.send(locus.udp_addr(), &reply(&in1, 200, "OK", "t1", ua1.addr));
    let ok = caller.response(200);
    assert_eq!(headers(&ok, "Via").len(), 1, "only the caller's Via: {ok}");
    assert!(header(&ok, "To").contains("tag=t1"), "{ok}");

    // The ringing branch is cancelled hop by hop.
    let cancel = ua2.request("CANCEL");
    assert_eq!(header(&cancel, "CSeq"), "1 CANCEL");
    ua2.send(locus.udp_addr(), &reply(&cancel, 200, "OK", "t2", ua2.addr));
    ua2.send(
        locus.udp_addr(),
        &reply(&in2, 487, "Request Terminated", "t2", ua2.addr),
    );
    let ack = ua2.request("ACK");
    assert!(header(&ack, "To").contains("tag=t2"), "{ack}");

    // The caller's ACK for the 2xx follows the Record-Route to the answerer.
    caller.send(locus.udp_addr(), &ack_for_2xx(&ok, caller.addr));
    let ack = ua1.request("ACK");
    assert!(
        ack.starts_with(&format!("ACK sip:ua@{} ", ua1.addr)),
        "{ack}"
    );
}

#[test]
fn sequential_fallback_by_q_after_a_failure() {
    let locus = Locus::start(&[]);
    let (high, low, caller) = (Ua::new(), Ua::new(), Ua::new());
    high.register(locus.udp_addr(), "dave", ";q=1.0");
    low.register(locus.udp_addr(), "dave", ";q=0.5");
    caller.send(
        locus.udp_addr(),
        &invite("sip:dave@example.com", caller.addr, &unique("seq")),
    );

    let first = high.request("INVITE");
    high.send(
        locus.udp_addr(),
        &reply(&first, 180, "Ringing", "h", high.addr),
    );
    caller.response(180);
    // The lower-q contact is not tried while the higher one may answer.
    assert!(!low.has_queued("INVITE"), "lower q tried in parallel");
    high.send(
        locus.udp_addr(),
        &reply(&first, 486, "Busy Here", "h", high.addr),
    );
    high.request("ACK");
    let second = low.request("INVITE");
    low.send(locus.udp_addr(), &reply(&second, 200, "OK", "l", low.addr));
    let ok = caller.response(200);
    assert!(header(&ok, "To").contains("tag=l"), "{ok}");
}

#[test]
fn cancel_before_answer_reaches_the_callee_and_the_caller_gets_487() {
    let locus = Locus::start(&[]);
    let (callee, caller) = (Ua::new(), Ua::new());
    callee.register(locus.udp_addr(), "erin", "");
    let inv = invite("sip:erin@example.com", caller.addr, &unique("cancel"));
    caller.send(locus.udp_addr(), &inv);
    let fwd = callee.request("INVITE");
    callee.send(
        locus.udp_addr(),
        &reply(&fwd, 180, "Ringing", "e", callee.addr),
    );
    caller.response(180);

    let to = header(&inv, "To");
    caller.send(locus.udp_addr(), &in_transaction(&inv, "CANCEL", &to, &[]));
    let ok = caller.response(200);
    assert_eq!(header(&ok, "CSeq"), "1 CANCEL");
    let cancel = callee.request("CANCEL");
    callee.send(
        locus.udp_addr(),
        &reply(&cancel, 200, "OK", "e", callee.addr),
    );
    callee.send(
        locus.udp_addr(),
        &reply(&fwd, 487, "Request Terminated", "e", callee.addr),
    );
    callee.request("ACK");
    let terminated = caller.response(487);
    // The caller's ACK for the 487 is absorbed by the proxy.
    let to = header(&terminated, "To");
    caller.send(locus.udp_addr(), &in_transaction(&inv, "ACK", &to, &[]));
}

#[test]
fn redirect_mode_answers_302_by_q_and_the_caller_calls_the_contact() {
    let locus = Locus::start(&["--mode", "redirect"]);
    let (a, b, caller) = (Ua::new(), Ua::new(), Ua::new());
    a.register(locus.udp_addr(), "fay", ";q=0.3");
    b.register(locus.udp_addr(), "fay", ";q=0.8");
    let inv = invite("sip:fay@example.com", caller.addr, &unique("redir"));
    caller.send(locus.udp_addr(), &inv);
    let moved = caller.response(302);
    let contacts = headers(&moved, "Contact");
    assert_eq!(contacts.len(), 2, "{moved}");
    assert!(
        contacts[0].starts_with(&format!("<sip:fay@{}>;q=0.8;expires=", b.addr)),
        "{moved}"
    );
    assert!(
        contacts[1].starts_with(&format!("<sip:fay@{}>;q=0.3;expires=", a.addr)),
        "{moved}"
    );
    let to = header(&moved, "To");
    caller.send(locus.udp_addr(), &in_transaction(&inv, "ACK", &to, &[]));
    // The caller now calls the first contact directly.
    let direct = invite(
        &format!("sip:fay@{}", b.addr),
        caller.addr,
        &unique("direct"),
    );
    caller.send(b.addr, &direct);
    let got = b.request("INVITE");
    assert_eq!(
        headers(&got, "Via").len(),
        1,
        "not through the proxy: {got}"
    );
}

#[test]
fn rfc2543_action_proxy_binding_is_proxied_in_redirect_mode() {
    let locus = Locus::start(&["--mode", "redirect"]);
    let (ua, caller) = (Ua::new(), Ua::new());
    ua.register(locus.udp_addr(), "gus", ";action=proxy");
    caller.send(
        locus.udp_addr(),
        &invite("sip:gus@example.com", caller.addr, &unique("act")),
    );
    let fwd = ua.request("INVITE");
    ua.send(locus.udp_addr(), &reply(&fwd, 603, "Decline", "g", ua.addr));
    caller.response(603);
}

#[test]
fn tcp_registered_ua_is_reached_over_its_own_connection() {
    let locus = Locus::start(&[]);
    // The contact names a port nobody listens on: only the registration's
    // own connection can reach the UA.
    let mut tcp = TcpClient::connect(locus.tcp_addr());
    let local = tcp.stream.local_addr().unwrap();
    let mut r = Register::new("tina");
    r.transport = "TCP";
    r.via_host = local.to_string();
    r.contacts = vec!["<sip:tina@127.0.0.1:9;transport=tcp>".into()];
    assert_eq!(tcp.request(&r.build()).code, 200);

    let caller = Ua::new();
    caller.send(
        locus.udp_addr(),
        &invite("sip:tina@example.com", caller.addr, &unique("tcp")),
    );
    let fwd = read_request(&mut tcp.stream);
    assert!(
        fwd.starts_with("INVITE sip:tina@127.0.0.1:9;transport=tcp "),
        "{fwd}"
    );
    assert!(header(&fwd, "Via").starts_with("SIP/2.0/TCP "), "{fwd}");
    tcp.send(reply(&fwd, 200, "OK", "tt", local).as_bytes());
    let ok = caller.response(200);
    assert!(header(&ok, "To").contains("tag=tt"), "{ok}");
    // Two Record-Routes (UDP side, TCP side); the ACK comes back over TCP.
    caller.send(locus.udp_addr(), &ack_for_2xx(&ok, caller.addr));
    let ack = read_request(&mut tcp.stream);
    assert!(ack.starts_with("ACK "), "{ack}");
}

/// Reads one request from a stream (skipping CRLF keep-alives).
fn read_request(stream: &mut TcpStream) -> String {
    use std::io::Read;
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = Vec::new();
    loop {
        while buf.starts_with(b"\r\n") {
            buf.drain(..2);
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).to_string();
            let cl: usize = header(&head, "Content-Length").parse().unwrap_or(0);
            if buf.len() >= end + 4 + cl {
                return head;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).expect("read request");
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

// ------------------------------------------------------------------ SIPp

fn sipp() -> std::path::PathBuf {
    tool("sipp", "sip-tester")
}

const SIPP_REGISTER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register the UAS contact">
  <send retrans="500"><![CDATA[
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:bob@example.com>;tag=[call_number]
To: <sip:bob@example.com>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:bob@[local_ip]:[local_port]>
Max-Forwards: 70
Expires: 300
Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"#;

const SIPP_UAS: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callee">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:bob@[local_ip]:[local_port]>
Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:bob@[local_ip]:[local_port]>
Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
</scenario>
"#;

const SIPP_UAC: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="caller">
  <send retrans="500"><![CDATA[
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:alice@example.com>;tag=[pid]SIPpTag00[call_number]
To: <sip:bob@example.com>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:alice@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
[routes]
From: <sip:alice@example.com>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
[routes]
From: <sip:alice@example.com>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"#;

fn sipp_cmd(dir: &std::path::Path, scenario: &str, port: u16) -> Command {
    let path = dir.join(format!("{}.xml", unique("scn")));
    std::fs::write(&path, scenario).unwrap();
    let mut cmd = Command::new(sipp());
    cmd.current_dir(dir).args([
        "-sf",
        path.to_str().unwrap(),
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-m",
        "1",
        "-timeout",
        "30",
        "-timeout_error",
        "-nostdin",
        "-trace_err",
    ]);
    cmd
}

/// True once process `pid` holds a UDP socket bound to local `port`, as
/// /proc shows it: SIPp says nothing when it is listening, and probing
/// the port with a request would start the scenario's call.
fn holds_udp_port(pid: u32, port: u16) -> bool {
    let inodes: Vec<String> = ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|row| {
                    // sl local_address rem_address st ... uid timeout inode
                    let cols: Vec<&str> = row.split_whitespace().collect();
                    let local = cols.get(1)?.rsplit(':').next()?;
                    (u16::from_str_radix(local, 16).ok()? == port)
                        .then(|| cols.get(9).map(|i| format!("socket:[{i}]")))?
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
}

/// Bob's SIPp UAS on `port`, once it listens there; or, if it exited
/// first (another process took the port), its stderr.
fn start_uas(dir: &std::path::Path, port: u16) -> Result<KillOnDrop, String> {
    let child = sipp_cmd(dir, SIPP_UAS, port)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut uas = KillOnDrop(child);
    let stderr = Lines::new(uas.0.stderr.take().unwrap());
    let deadline = Instant::now() + WAIT;
    loop {
        if holds_udp_port(uas.0.id(), port) {
            return Ok(uas);
        }
        if let Ok(Some(status)) = uas.0.try_wait() {
            let text = stderr.rest("sipp UAS stderr").join("\n");
            return Err(format!("{status}: {text}"));
        }
        assert!(
            Instant::now() < deadline,
            "sipp UAS never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sipp_call_invite_ringing_ok_ack_bye_through_the_proxy() {
    let locus = Locus::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    // Bob registers from the port his UAS then listens on (the proxy sends
    // to the address a REGISTER came from). Should another process take
    // the port between the two, bob's binding is removed and both are
    // done again on another port.
    let mut tries = 0;
    let mut uas = loop {
        let (bob_port, reg) = run_sipp(|port| {
            let mut cmd = sipp_cmd(tmp.path(), SIPP_REGISTER, port);
            cmd.arg(locus.udp_addr().to_string());
            cmd
        });
        assert_eq!(
            reg.status.code(),
            Some(0),
            "sipp REGISTER failed; logs in {:?}",
            tmp.path()
        );
        match start_uas(tmp.path(), bob_port) {
            Ok(uas) => break uas,
            Err(e) if e.contains(SIPP_PORT_TAKEN) && tries + 1 < PORT_TRIES => {
                tries += 1;
                let mut all = Register::new("bob");
                all.contacts = vec!["*".into()];
                all.expires = Some("0".into());
                let c = UdpClient::new(locus.udp_addr());
                assert_eq!(c.request(&all.build()).code, 200);
            }
            Err(e) => panic!("sipp UAS failed to start on {bob_port}: {e}"),
        }
    };
    let (_, uac) = run_sipp(|port| {
        let mut cmd = sipp_cmd(tmp.path(), SIPP_UAC, port);
        cmd.arg(locus.udp_addr().to_string());
        cmd
    });
    let uas_status = wait_within(&mut uas.0, CLIENT_WAIT).and_then(|s| s.code());
    assert_eq!(
        uac.status.code(),
        Some(0),
        "sipp UAC failed; logs in {:?}",
        tmp.path().to_path_buf()
    );
    assert_eq!(
        uas_status,
        Some(0),
        "sipp UAS failed; logs in {:?}",
        tmp.path().to_path_buf()
    );
}
