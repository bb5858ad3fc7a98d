//! End-to-end: what was acknowledged survives kill -9; SIGTERM flushes
//! and exits 0; `locus bindings` shows the store.

mod common;

use common::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn every_acknowledged_binding_survives_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut locus = Locus::start_in(&data, &[]);
    let acked = Arc::new(Mutex::new(Vec::new()));
    // Four clients register concurrently; kill -9 while they are busy.
    let mut handles = Vec::new();
    for worker in 0..4 {
        let addr = locus.udp_addr();
        let acked = acked.clone();
        handles.push(std::thread::spawn(move || {
            let c = UdpClient::new(addr);
            c.sock
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            for i in 0..150 {
                let user = format!("u{worker}n{i}");
                let msg = Register::new(&user).build();
                // Single shot: after the kill there is no answer.
                match c.send_raw(msg.as_bytes()) {
                    Some(r) if r.code == 200 => acked.lock().unwrap().push(user),
                    Some(r) => panic!("unexpected {}", r.raw),
                    None => return,
                }
            }
        }));
    }
    // Let some registrations through, then kill.
    let deadline = Instant::now() + WAIT;
    while acked.lock().unwrap().len() < 100 {
        assert!(
            Instant::now() < deadline,
            "fewer than 100 registrations acknowledged"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    locus.kill9();
    for h in handles {
        h.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 100);

    let locus = Locus::start_in(&data, &[]);
    let c = UdpClient::new(locus.udp_addr());
    for user in &acked {
        let mut q = Register::new(user);
        q.contacts.clear();
        let r = c.request(&q.build());
        let contacts = r.contacts();
        assert_eq!(contacts.len(), 1, "binding of {user} lost after kill -9");
        assert!(
            contacts[0].1 <= 3600 && contacts[0].1 > 3000,
            "remaining lifetime kept: {contacts:?}"
        );
    }
}

#[test]
fn sigterm_exits_zero_and_bindings_command_reads_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut locus = Locus::start_in(&data, &[]);
    let c = UdpClient::new(locus.udp_addr());
    let mut reg = Register::new("henry");
    reg.extra.push("User-Agent: test-phone/1.0".into());
    assert_eq!(c.request(&reg.build()).code, 200);
    let (st, out) = bindings_cmd(&data, None);
    assert!(st.success());
    assert!(out.contains("sip:henry@example.com"), "{out}");
    assert!(out.contains("test-phone/1.0"), "{out}");
    let status = locus.terminate();
    assert_eq!(status.code(), Some(0));
    let (st, out) = bindings_cmd(&data, Some("sip:henry@example.com"));
    assert!(st.success());
    assert!(out.contains("sip:henry@192.0.2.10:5062"), "{out}");
    assert!(out.contains("1 binding(s)"), "{out}");
    // An unknown data dir is an error, not an empty table.
    let (st, _) = bindings_cmd(&tmp.path().join("nope"), None);
    assert!(!st.success());
}
