//! The README's run command: `locus serve` with no arguments works on a
//! fresh machine (UDP and TCP on 127.0.0.1:5060, any domain, ./locus-data).

mod common;

use common::*;
use std::process::{Command, Stdio};

#[test]
fn serve_without_arguments_uses_the_embedded_defaults() {
    // The fixed default port is what is tested here (nothing else in this
    // test binary runs beside it): if another program holds it, locus says
    // so on stderr and the test fails.
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("serve")
        .current_dir(cwd.path())
        .stderr(Stdio::inherit());
    let mut locus = Locus::spawn(cmd, &cwd.path().join("locus-data"), None);
    let text = locus.stdout_lines.join("\n");
    assert!(text.contains("listening on udp:127.0.0.1:5060"), "{text}");
    assert!(text.contains("listening on tcp:127.0.0.1:5060"), "{text}");
    assert!(text.contains("serving any domain"), "{text}");
    assert!(
        text.contains("admin API on http://127.0.0.1:8060"),
        "{text}"
    );
    assert!(
        text.contains("admin token in ./locus-data/admin-token"),
        "{text}"
    );
    assert!(text.contains("locus-data/locus.db"), "{text}");

    // Any domain is served.
    let c = UdpClient::new(locus.udp_addr());
    let mut reg = Register::new("newcomer");
    reg.ruri = "sip:anything.example.org".into();
    reg.aor = "sip:newcomer@anything.example.org".into();
    assert_eq!(c.request(&reg.build()).code, 200);
    let mut t = TcpClient::connect(locus.tcp_addr());
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
