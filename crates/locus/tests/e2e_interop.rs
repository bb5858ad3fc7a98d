//! Interop: third-party SIP tools (SIPp, sipsak) register against locus.
//! These tools are required (Debian packages sip-tester and sipsak, which
//! scripts/test installs); a missing tool fails the test rather than
//! skipping it.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;

fn sipp() -> PathBuf {
    tool("sipp", "sip-tester")
}

fn sipsak() -> PathBuf {
    tool("sipsak", "sipsak")
}

const SIPP_REGISTER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register, refresh, query, unregister">
  <send retrans="500">
    <![CDATA[
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:sipp[call_number]@example.com>;tag=[call_number]
To: <sip:sipp[call_number]@example.com>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:sipp[call_number]@[local_ip]:[local_port]>
Max-Forwards: 70
Expires: 300
Content-Length: 0

    ]]>
  </send>
  <recv response="200">
    <action>
      <ereg regexp="expires=300" search_in="hdr" header="Contact:" check_it="true" assign_to="e1"/>
    </action>
  </recv>
  <Reference variables="e1"/>
  <send retrans="500">
    <![CDATA[
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:sipp[call_number]@example.com>;tag=[call_number]
To: <sip:sipp[call_number]@example.com>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:sipp[call_number]@[local_ip]:[local_port]>;expires=0
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"#;

#[test]
fn sipp_registers_and_unregisters_over_udp_and_tcp() {
    let sipp = sipp();
    let locus = Locus::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("register.xml");
    std::fs::write(&scenario, SIPP_REGISTER).unwrap();
    for (transport, server) in [("u1", locus.udp_addr()), ("t1", locus.tcp_addr())] {
        let (_, out) = run_sipp(|port| {
            let mut cmd = Command::new(&sipp);
            cmd.current_dir(tmp.path())
                .args([
                    "-sf",
                    scenario.to_str().unwrap(),
                    "-t",
                    transport,
                    "-i",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-m",
                    "20",
                    "-r",
                    "200",
                    "-timeout",
                    "30",
                    "-timeout_error",
                    "-nostdin",
                    "-trace_err",
                ])
                .arg(server.to_string());
            cmd
        });
        assert_eq!(
            out.status.code(),
            Some(0),
            "sipp ({transport}) failed; see *_errors.log in {:?}",
            tmp.path()
        );
    }
}

#[test]
fn sipsak_usrloc_mode_registers() {
    let sipsak = sipsak();
    let locus = Locus::start(&[]);
    let out = run(
        Command::new(&sipsak).args([
            "-U",
            "-C",
            "sip:sak@127.0.0.1:5099",
            "-s",
            &format!("sip:sak@{}", locus.udp_addr()),
            "-x",
            "120",
            "-vv",
        ]),
        None,
        CLIENT_WAIT,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // usrloc mode registers the contact, checks it, then removes it again.
    assert!(out.status.success(), "sipsak failed: {text}");
    assert!(text.contains("completed successful"), "{text}");
}

const SIPP_AUTH_REGISTER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="digest register">
  <send retrans="500">
    <![CDATA[
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:alice@example.com>;tag=[call_number]
To: <sip:alice@example.com>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:alice@[local_ip]:[local_port]>
Max-Forwards: 70
Expires: 300
Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:alice@example.com>;tag=[call_number]
To: <sip:alice@example.com>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:alice@[local_ip]:[local_port]>
[authentication username=alice password=alice-pw]
Max-Forwards: 70
Expires: 300
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"#;

/// A server with alice in example.com and in 127.0.0.1 (sipsak's AOR),
/// with the default algorithms (MD5 only): SIPp and sipsak answer only the
/// first challenge and implement MD5 only.
fn auth_server(tmp: &std::path::Path) -> Locus {
    let data = tmp.join("data");
    add_user(&data, "alice", "example.com", "alice-pw");
    add_user(&data, "alice", "127.0.0.1", "alice-pw");
    // The defaults: MD5-only clients register without any flag.
    Locus::start_in(&data, &[])
}

#[test]
fn sipp_authenticates_with_digest() {
    let sipp = sipp();
    let tmp = tempfile::tempdir().unwrap();
    let locus = auth_server(tmp.path());
    let scenario = tmp.path().join("auth.xml");
    std::fs::write(&scenario, SIPP_AUTH_REGISTER).unwrap();
    for (transport, server) in [("u1", locus.udp_addr()), ("t1", locus.tcp_addr())] {
        let (_, out) = run_sipp(|port| {
            let mut cmd = Command::new(&sipp);
            cmd.current_dir(tmp.path())
                .args([
                    "-sf",
                    scenario.to_str().unwrap(),
                    "-t",
                    transport,
                    "-i",
                    "127.0.0.1",
                ])
                .args(["-p", &port.to_string(), "-m", "5", "-timeout", "30"])
                .args(["-timeout_error", "-nostdin", "-trace_err"])
                .arg(server.to_string());
            cmd
        });
        assert_eq!(
            out.status.code(),
            Some(0),
            "sipp ({transport}) failed; see *_errors.log in {:?}",
            tmp.path()
        );
    }
    let (_, table) = bindings_cmd(&locus.data_dir, Some("alice@example.com"));
    assert!(table.contains("sip:alice@example.com"), "{table}");
}

#[test]
fn sipsak_authenticates_with_digest() {
    let sipsak = sipsak();
    let tmp = tempfile::tempdir().unwrap();
    let locus = auth_server(tmp.path());
    let register = |password: &str| {
        run(
            Command::new(&sipsak)
                .args(["-U", "-C", "sip:alice@127.0.0.1:5099"])
                .args(["-s", &format!("sip:alice@{}", locus.udp_addr())])
                .args(["-x", "120", "-u", "alice", "-a", password, "-vv"]),
            None,
            CLIENT_WAIT,
        )
    };
    let out = register("alice-pw");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sipsak failed: {text}");
    assert!(text.contains("completed successful"), "{text}");
    let out = register("wrong");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("authorization failed"), "{text}");
}
