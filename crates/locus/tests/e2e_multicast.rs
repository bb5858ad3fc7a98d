//! Multicast registration (RFC 3261 §10.2.6, sip.mcast.net): the server and
//! a SIPp UA run in a network namespace the test creates, with a multicast
//! route on its loopback interface. Creating the namespace needs root; a
//! test that cannot create it fails and says why.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// A network namespace created (and deleted on drop) by this test.
struct Netns(String);

impl Netns {
    fn create() -> Netns {
        let name = unique("locus-mc-");
        let out = Command::new("ip").args(["netns", "add", &name]).output();
        let ok = out.as_ref().is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "the multicast test needs `ip netns add` (root and iproute2): {:?}",
            out.map(|o| String::from_utf8_lossy(&o.stderr).to_string())
        );
        let ns = Netns(name);
        ns.run(&["ip", "link", "set", "lo", "up"]);
        ns.run(&["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]);
        ns
    }

    fn cmd(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).args(argv);
        c
    }

    fn run(&self, argv: &[&str]) {
        let st = self.cmd(argv).status().unwrap();
        assert!(st.success(), "in netns: {argv:?} failed");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// `locus serve` inside the namespace, unicast on 127.0.0.1:5070.
fn start_in(ns: &Netns, data: &std::path::Path, extra: &[&str]) -> Child {
    let data = data.to_str().unwrap();
    let mut argv = vec![
        bin(),
        "serve",
        "--listen",
        "udp:127.0.0.1:5070",
        "--domain",
        "example.com",
        "--data-dir",
        data,
        "--multicast",
        "--multicast-interface",
        "127.0.0.1",
    ];
    argv.extend(extra);
    let mut child = ns.cmd(&argv).stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + WAIT;
    let mut joined = false;
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "locus exited early"
        );
        joined |= line.starts_with("joined multicast group 224.0.1.75:5060");
        if line.starts_with("location store:") {
            break;
        }
        assert!(Instant::now() < deadline, "locus not ready");
    }
    assert!(joined, "locus did not report joining the group");
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = std::io::Read::read_to_string(&mut reader, &mut sink);
    });
    child
}

fn scenario(expect: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="multicast register">
  <send retrans="500"><![CDATA[
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:mc@example.com>;tag=[call_number]
To: <sip:mc@example.com>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:mc@[local_ip]:[local_port]>
Max-Forwards: 1
Expires: 300
Content-Length: 0

  ]]></send>
  {expect}
</scenario>
"#
    )
}

fn sipp_register_to_group(ns: &Netns, dir: &std::path::Path, expect: &str) -> Option<i32> {
    let path = dir.join(format!("{}.xml", unique("mc")));
    std::fs::write(&path, scenario(expect)).unwrap();
    let port = free_port().to_string();
    let argv = [
        "sipp",
        "-sf",
        path.to_str().unwrap(),
        "-i",
        "127.0.0.1",
        "-p",
        &port,
        "-m",
        "1",
        "-timeout",
        "20",
        "-timeout_error",
        "-nostdin",
        "-trace_err",
        "224.0.1.75:5060",
    ];
    ns.cmd(&argv)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .code()
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn register_to_the_multicast_group_is_redirected_or_processed() {
    let ns = Netns::create();
    let tmp = tempfile::tempdir().unwrap();

    let server = start_in(&ns, &tmp.path().join("redirect"), &[]);
    let code = sipp_register_to_group(
        &ns,
        tmp.path(),
        r#"<recv response="302"><action><ereg regexp="sip:127\.0\.0\.1:5070" search_in="hdr" header="Contact:" check_it="true" assign_to="c"/></action></recv>
  <Reference variables="c"/>"#,
    );
    stop(server);
    assert_eq!(
        code,
        Some(0),
        "no 302 to the unicast address; logs in {:?}",
        tmp.path()
    );

    let server = start_in(
        &ns,
        &tmp.path().join("process"),
        &["--multicast-register", "process"],
    );
    let code = sipp_register_to_group(&ns, tmp.path(), r#"<recv response="200"/>"#);
    stop(server);
    assert_eq!(
        code,
        Some(0),
        "multicast REGISTER not processed; logs in {:?}",
        tmp.path()
    );
}
