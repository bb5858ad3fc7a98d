//! Finding the registrar: RFC 3263 DNS (NAPTR → SRV → A, with the TCP
//! fallback when only `_sip._tcp` exists) against a small DNS responder
//! started by the test on loopback, and multicast discovery (224.0.1.75,
//! TTL 1, 302 to the unicast registrar) inside a network namespace the
//! test creates with a loopback-scoped multicast route.

mod common;

use common::*;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, NAPTR, SRV};
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinDecodable, BinEncodable};
use serde_json::Value;
use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A DNS responder on 127.0.0.1 answering from a fixed record list.
struct Dns {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Dns {
    fn start(records: Vec<Record>) -> Dns {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(req) = Message::from_bytes(&buf[..n]) else {
                    continue;
                };
                let mut resp = Message::new();
                resp.set_id(req.id())
                    .set_message_type(MessageType::Response)
                    .set_op_code(req.op_code())
                    .set_recursion_desired(req.recursion_desired())
                    .set_recursion_available(true)
                    .set_authoritative(true);
                let mut known = false;
                for q in req.queries() {
                    resp.add_query(q.clone());
                    let qname = q.name().to_ascii().to_ascii_lowercase();
                    for r in &records {
                        if r.name().to_ascii().to_ascii_lowercase() == qname {
                            known = true;
                            if r.record_type() == q.query_type() {
                                resp.add_answer(r.clone());
                            }
                        }
                    }
                }
                if !known {
                    resp.set_response_code(ResponseCode::NXDomain);
                }
                let _ = sock.send_to(&resp.to_bytes().unwrap(), from);
            }
        });
        Dns { addr, stop }
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

fn naptr(owner: &str, order: u16, service: &str, replacement: &str) -> Record {
    Record::from_rdata(
        name(owner),
        60,
        RData::NAPTR(NAPTR::new(
            order,
            10,
            b"S".to_vec().into_boxed_slice(),
            service.as_bytes().to_vec().into_boxed_slice(),
            Vec::new().into_boxed_slice(),
            name(replacement),
        )),
    )
}

fn srv(owner: &str, port: u16, target: &str) -> Record {
    Record::from_rdata(
        name(owner),
        60,
        RData::SRV(SRV::new(0, 10, port, name(target))),
    )
}

fn a(owner: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::A(A(Ipv4Addr::LOCALHOST)))
}

fn registrar_of(out: &str) -> String {
    let v: Value = serde_json::from_str(out.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{out}: {e}"));
    assert_eq!(v["status"], 200, "{out}");
    v["registrar"].as_str().unwrap().to_string()
}

#[test]
fn dns_naptr_srv_a_and_the_tcp_fallback_find_the_registrar() {
    let listen = vec!["udp:127.0.0.1:0".to_string(), "tcp:127.0.0.1:0".to_string()];
    let locus = Locus::start_with(
        &[],
        &listen,
        &[
            "--domain",
            "naptr.test",
            "--domain",
            "srv.test",
            "--domain",
            "plain.test",
        ],
    );
    let (udp_port, tcp_port) = (locus.udp_addr().port(), locus.tcp_addr().port());
    let dns = Dns::start(vec![
        // NAPTR prefers TCP (order 10) over UDP (order 20).
        naptr("naptr.test.", 20, "SIP+D2U", "_sip._udp.naptr.test."),
        naptr("naptr.test.", 10, "SIP+D2T", "_sip._tcp.naptr.test."),
        srv("_sip._udp.naptr.test.", udp_port, "reg.naptr.test."),
        srv("_sip._tcp.naptr.test.", tcp_port, "reg.naptr.test."),
        a("reg.naptr.test."),
        // No NAPTR and no _sip._udp: the TCP SRV is the fallback.
        srv("_sip._tcp.srv.test.", tcp_port, "reg.srv.test."),
        a("reg.srv.test."),
        a("srv.test."),
        // An explicit port: A only, UDP.
        a("plain.test."),
    ]);
    let dns_server = dns.addr.to_string();
    let run = |aor: &str, extra: &[&str]| {
        let mut args = vec![aor, "--dns-server", &dns_server, "--once", "--json"];
        args.extend(extra);
        let r = register_cmd(&args, None);
        assert!(r.status.success(), "{aor}: {}\n{}", r.stdout, r.stderr);
        registrar_of(&r.stdout)
    };
    let tcp = format!("tcp:{}", locus.tcp_addr());
    let udp = format!("udp:{}", locus.udp_addr());
    assert_eq!(run("sip:alice@naptr.test", &[]), tcp);
    // --transport restricts the NAPTR choice.
    assert_eq!(run("sip:alice@naptr.test", &["--transport", "udp"]), udp);
    assert_eq!(run("sip:alice@srv.test", &[]), tcp);
    assert_eq!(run(&format!("sip:alice@plain.test:{udp_port}"), &[]), udp);
    // --registrar with a name is resolved the same way.
    assert_eq!(
        run("sip:alice@naptr.test", &["--registrar", "sip:srv.test"]),
        tcp
    );

    // A domain with no records at all: a clear error, exit 1.
    let r = register_cmd(
        &[
            "sip:alice@nowhere.test",
            "--dns-server",
            &dns_server,
            "--once",
        ],
        None,
    );
    assert_eq!(r.status.code(), Some(1));
    assert!(r.stderr.contains("nowhere.test"), "{}", r.stderr);
}

/// A network namespace removed on drop.
struct Netns(String);

impl Netns {
    fn create() -> Netns {
        let ip = tool("ip", "iproute2");
        let name = format!("locus-mcast-{}", std::process::id());
        let ip_ok = |args: &[&str]| {
            let out = run(Command::new(&ip).args(args), None, WAIT);
            assert!(
                out.status.success(),
                "multicast test needs a network namespace (run as root with iproute2): `ip {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        // Left over from an earlier run of this process ID, if any.
        let _ = run(Command::new(&ip).args(["netns", "del", &name]), None, WAIT);
        ip_ok(&["netns", "add", &name]);
        let ns = Netns(name.clone());
        ip_ok(&["-n", &name, "link", "set", "lo", "up"]);
        ip_ok(&["-n", &name, "route", "add", "224.0.0.0/4", "dev", "lo"]);
        ns
    }

    fn exec(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.0]
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // No panic here (this may run while a failed test unwinds).
        if let Ok(mut child) = Command::new(tool("ip", "iproute2"))
            .args(["netns", "del", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            let _ = wait_within(&mut child, WAIT);
        }
    }
}

/// A socket in namespace `ns`, joined to 224.0.1.75:5060: the multicast
/// registrar. It answers the first REGISTER with 302 to `target` and
/// returns how many it answered; `ready` is signalled once it has joined.
fn multicast_redirector(
    ns: &str,
    target: String,
    ready: std::sync::mpsc::Sender<()>,
) -> std::thread::JoinHandle<usize> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        // Enter the namespace in this thread only.
        let f = std::fs::File::open(&path).unwrap();
        let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        let sock = UdpSocket::bind("0.0.0.0:5060").unwrap();
        sock.join_multicast_v4(&Ipv4Addr::new(224, 0, 1, 75), &Ipv4Addr::LOCALHOST)
            .unwrap();
        sock.set_read_timeout(Some(WAIT)).unwrap();
        ready.send(()).unwrap();
        let mut buf = [0u8; 65536];
        let mut answered = 0;
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            if !req.starts_with("REGISTER ") {
                continue;
            }
            let mut resp = String::from("SIP/2.0 302 Moved Temporarily\r\n");
            for line in req.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
                let lower = line.to_ascii_lowercase();
                if ["via:", "from:", "call-id:", "cseq:"]
                    .iter()
                    .any(|h| lower.starts_with(h))
                {
                    resp.push_str(line);
                    resp.push_str("\r\n");
                } else if lower.starts_with("to:") {
                    resp.push_str(line);
                    resp.push_str(";tag=mcast\r\n");
                }
            }
            resp.push_str(&format!("Contact: <{target}>\r\nContent-Length: 0\r\n\r\n"));
            sock.send_to(resp.as_bytes(), from).unwrap();
            answered += 1;
            return answered;
        }
        answered
    })
}

#[test]
fn multicast_discovery_follows_the_302_to_the_unicast_registrar() {
    let ns = Netns::create();
    let listen = vec!["udp:127.0.0.1:0".to_string(), "tcp:127.0.0.1:0".to_string()];
    let locus = Locus::start_with(&ns.exec(), &listen, &["--domain", "example.com"]);
    let port = locus.udp_addr().port();
    let (tx, rx) = std::sync::mpsc::channel();
    let redirector = multicast_redirector(&ns.0, format!("sip:127.0.0.1:{port}"), tx);
    rx.recv_timeout(WAIT)
        .expect("the multicast registrar joined 224.0.1.75");
    let r = register_cmd_wrapped(
        &ns.exec(),
        &[
            "sip:alice@example.com",
            "--multicast",
            "--once",
            "--json",
            "-v",
        ],
        None,
    );
    assert!(r.status.success(), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("-> 224.0.1.75:5060"),
        "first REGISTER goes to sip.mcast.net: {}",
        r.stderr
    );
    assert!(r.stderr.contains("302 Moved Temporarily"), "{}", r.stderr);
    assert_eq!(registrar_of(&r.stdout), format!("udp:127.0.0.1:{port}"));
    assert!(
        r.stderr
            .contains(&format!("REGISTER sip:127.0.0.1:{port} SIP/2.0")),
        "{}",
        r.stderr
    );
    assert_eq!(redirector.join().unwrap(), 1);
}
