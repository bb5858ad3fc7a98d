//! Multicast registration (RFC 3261 §10.2.6, sip.mcast.net): the server and
//! a SIPp UA run in a network namespace the test creates, with a multicast
//! route on its loopback interface. Creating the namespace needs root; a
//! test that cannot create it fails and says why.

mod common;

use common::*;
use std::process::{Command, Stdio};

/// A network namespace created (and deleted on drop) by this test.
struct Netns(String);

impl Netns {
    fn create() -> Netns {
        let ip = tool("ip", "iproute2");
        let name = unique("locus-mc-");
        let out = run(Command::new(&ip).args(["netns", "add", &name]), None, WAIT);
        assert!(
            out.status.success(),
            "the multicast test needs `ip netns add` (root and iproute2): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Netns(name);
        ns.run(&["ip", "link", "set", "lo", "up"]);
        ns.run(&["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]);
        ns
    }

    fn cmd(&self, argv: &[&str]) -> Command {
        let mut c = Command::new(tool("ip", "iproute2"));
        c.args(["netns", "exec", &self.0]).args(argv);
        c
    }

    fn run(&self, argv: &[&str]) {
        let out = run(&mut self.cmd(argv), None, WAIT);
        assert!(out.status.success(), "in netns: {argv:?} failed");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // No panic here (this may run while a failed test unwinds).
        if let Ok(mut child) = Command::new(tool("ip", "iproute2"))
            .args(["netns", "del", &self.0])
            .spawn()
        {
            let _ = wait_within(&mut child, WAIT);
        }
    }
}

/// `locus serve` inside the namespace, unicast on 127.0.0.1 (a port the
/// kernel picks, read from its banner).
fn start_in(ns: &Netns, data: &std::path::Path, extra: &[&str]) -> Locus {
    let mut argv = vec![
        bin(),
        "serve",
        "--listen",
        "udp:127.0.0.1:0",
        "--domain",
        "example.com",
        "--data-dir",
        data.to_str().unwrap(),
        "--multicast",
        "--multicast-interface",
        "127.0.0.1",
        "--admin-listen",
        "127.0.0.1:0",
    ];
    argv.extend(extra);
    let mut cmd = ns.cmd(&argv);
    cmd.stderr(Stdio::inherit());
    let locus = Locus::spawn(cmd, data, None);
    assert!(
        locus
            .stdout_lines
            .iter()
            .any(|l| l.starts_with("joined multicast group 224.0.1.75:5060")),
        "locus did not report joining the group: {:?}",
        locus.stdout_lines
    );
    locus
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
    let sipp = tool("sipp", "sip-tester");
    let (_, out) = run_sipp(|port| {
        let port = port.to_string();
        let mut cmd = ns.cmd(&[
            sipp.to_str().unwrap(),
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
        ]);
        cmd.current_dir(dir);
        cmd
    });
    out.status.code()
}

#[test]
fn register_to_the_multicast_group_is_redirected_or_processed() {
    let ns = Netns::create();
    let tmp = tempfile::tempdir().unwrap();

    let server = start_in(&ns, &tmp.path().join("redirect"), &[]);
    let unicast = server.udp_addr().to_string().replace('.', "\\.");
    let code = sipp_register_to_group(
        &ns,
        tmp.path(),
        &format!(
            r#"<recv response="302"><action><ereg regexp="sip:{unicast}" search_in="hdr" header="Contact:" check_it="true" assign_to="c"/></action></recv>
  <Reference variables="c"/>"#
        ),
    );
    drop(server);
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
    drop(server);
    assert_eq!(
        code,
        Some(0),
        "multicast REGISTER not processed; logs in {:?}",
        tmp.path()
    );
}
