//! The README's run command: `locus serve` with no arguments works on a
//! fresh machine (UDP and TCP on 127.0.0.1:5060, any domain, ./locus-data).

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn serve_without_arguments_uses_the_embedded_defaults() {
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .arg("serve")
        .current_dir(cwd.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            break;
        }
        lines.push(l.trim_end().to_string());
        if l.starts_with("location store:") {
            break;
        }
    }
    let mut locus = Locus {
        child: Some(child),
        port: 5060,
        data_dir: cwd.path().join("locus-data"),
        stdout_lines: lines,
        _tmp: None,
    };
    let text = locus.stdout_lines.join("\n");
    assert!(text.contains("listening on udp:127.0.0.1:5060"), "{text}");
    assert!(text.contains("listening on tcp:127.0.0.1:5060"), "{text}");
    assert!(text.contains("serving any domain"), "{text}");
    assert!(text.contains("locus-data/locus.db"), "{text}");

    // Any domain is served.
    let c = UdpClient::new(locus.addr());
    let mut reg = Register::new("newcomer");
    reg.ruri = "sip:anything.example.org".into();
    reg.aor = "sip:newcomer@anything.example.org".into();
    assert_eq!(c.request(&reg.build()).code, 200);
    let mut t = TcpClient::connect(locus.addr());
    reg.transport = "TCP";
    reg.cseq = 2;
    assert_eq!(t.request(&reg.build()).code, 200);

    assert_eq!(locus.terminate().code(), Some(0));
    assert!(cwd.path().join("locus-data").join("locus.db").exists());
    let (st, table) = bindings_cmd(&cwd.path().join("locus-data"), None);
    assert!(st.success());
    assert!(
        table.contains("sip:newcomer@anything.example.org"),
        "{table}"
    );
}
