//! A test harness that drives the sans-IO core exactly as the server shell
//! does: handle_request, then (for a REGISTER) `MemoryStore::update` with
//! `PendingRegister::apply`, `register_outcome` and `write_response`. The
//! response bytes are parsed back so tests assert on what a UA would see.

#![allow(dead_code)]

use bytes::Bytes;
use location::{LocationStore, MemoryStore};
use sip_core::{Action, Core, CoreConfig, RegistrarConfig, RequestContext, Transport};
use sip_message::headers::{parse_contacts, ContactList};
use sip_message::{HeaderName, Limits, Message, NameAddr};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// 2023-11-14T22:13:20Z.
pub const T0: u64 = 1_700_000_000_000;

/// Polls a future that must already be ready (MemoryStore's are).
pub fn block_on_ready<F: Future>(fut: F) -> F::Output {
    fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: every vtable function ignores the (null) data pointer.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("MemoryStore future was not ready at once"),
    }
}

/// The configuration most tests use.
pub fn std_config() -> RegistrarConfig {
    RegistrarConfig {
        domains: vec!["example.com".to_string()],
        default_expires: 3600,
        min_expires: 60,
        max_expires: 7200,
        max_contacts: 3,
    }
}

/// Default peer address: matches the Via sent-by the builder writes.
pub fn ua_addr() -> SocketAddr {
    "192.0.2.10:5060".parse().unwrap()
}

/// Default local socket of the registrar.
pub fn server_addr() -> SocketAddr {
    "198.51.100.1:5060".parse().unwrap()
}

/// The core, a memory store, and the addresses of one socket.
pub struct Registrar {
    pub core: Core,
    pub store: MemoryStore,
    pub local: SocketAddr,
    pub local_hosts: Vec<String>,
    /// Digest authentication, when set.
    pub auth: Option<sip_core::auth::Authenticator>,
    /// The outcome of the last refused request.
    pub last_refusal: std::cell::RefCell<Option<sip_core::auth::AuthOutcome>>,
}

impl Registrar {
    pub fn new(cfg: RegistrarConfig) -> Registrar {
        Registrar::with_local(cfg, server_addr())
    }

    pub fn with_local(cfg: RegistrarConfig, local: SocketAddr) -> Registrar {
        Registrar {
            core: Core::new(CoreConfig {
                registrar: cfg,
                ..CoreConfig::default()
            }),
            store: MemoryStore::new(),
            local,
            local_hosts: Vec::new(),
            auth: None,
            last_refusal: Default::default(),
        }
    }

    /// Sends `raw` from the default UA address; `None` when the core ignores it.
    pub fn send(&self, raw: &str, now_ms: u64) -> Option<Resp> {
        self.send_from(raw, ua_addr(), now_ms)
    }

    /// Sends `raw` from `source` at `now_ms`, as the shell would.
    pub fn send_from(&self, raw: &str, source: SocketAddr, now_ms: u64) -> Option<Resp> {
        let req = Message::parse(Bytes::from(raw.to_string()), &Limits::default())
            .unwrap_or_else(|e| panic!("test request does not parse ({e}):\n{raw}"));
        let ctx = RequestContext {
            source,
            local: self.local,
            transport: Transport::Udp,
            local_hosts: &self.local_hosts,
            multicast: false,
            auth: self.auth.as_ref(),
        };
        let reply = match self.core.handle_request(&req, &ctx, now_ms) {
            Action::Ignore => return None,
            Action::Respond(reply) => reply,
            Action::Refuse(refusal) => {
                *self.last_refusal.borrow_mut() = Some(refusal.outcome.clone());
                refusal.reply
            }
            Action::Register(pending) => {
                let p = (*pending).clone();
                let fut = self.store.update(&pending.aor, now_ms, move |bindings| {
                    p.apply(bindings, now_ms).map(|()| bindings.clone())
                });
                let outcome = block_on_ready(fut).expect("memory store never fails");
                self.core.register_outcome(&pending, outcome, now_ms)
            }
        };
        let bytes = self.core.write_response(&req, source, &reply);
        let resp = Resp::parse(bytes);
        resp.check_mirrors(&req);
        Some(resp)
    }

    /// Sends and expects an answer.
    pub fn answer(&self, raw: &str, now_ms: u64) -> Resp {
        self.send(raw, now_ms).expect("the registrar must answer")
    }
}

/// A parsed response.
pub struct Resp {
    pub raw: Vec<u8>,
    pub msg: Message,
}

/// One Contact of a 200 OK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub uri: String,
    pub expires: Option<u64>,
    pub q: Option<String>,
}

impl Resp {
    fn parse(raw: Vec<u8>) -> Resp {
        let msg =
            Message::parse(Bytes::from(raw.clone()), &Limits::default()).unwrap_or_else(|e| {
                panic!(
                    "response does not parse ({e}):\n{}",
                    String::from_utf8_lossy(&raw)
                )
            });
        let code = msg.status().expect("a response");
        assert!(
            (100..600).contains(&code),
            "never a 6xx (or other class): {code}"
        );
        assert!(!msg.reason().is_empty(), "a reason phrase is always given");
        Resp { raw, msg }
    }

    /// RFC 3261 §8.2.6.2: From, Call-ID, CSeq and the Via list copied; To
    /// copied with a tag added; Content-Length present.
    fn check_mirrors(&self, req: &Message) {
        for name in [HeaderName::From, HeaderName::CallId, HeaderName::CSeq] {
            assert_eq!(self.msg.header(name), req.header(name), "{name:?} copied");
        }
        assert_eq!(
            self.msg.header_values(HeaderName::Via).count(),
            req.header_values(HeaderName::Via).count(),
            "every Via copied"
        );
        let to = self.msg.header(HeaderName::To).expect("To in response");
        let req_to = req.header(HeaderName::To).unwrap();
        assert!(to.starts_with(req_to), "To copied: {to} vs {req_to}");
        assert!(
            NameAddr::parse(to)
                .unwrap()
                .tag()
                .is_some_and(|t| !t.is_empty()),
            "To tag: {to}"
        );
        assert_eq!(self.msg.header(HeaderName::ContentLength), Some("0"));
    }

    pub fn status(&self) -> u16 {
        self.msg.status().unwrap()
    }

    pub fn reason(&self) -> &str {
        self.msg.reason()
    }

    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.msg.header(name)
    }

    pub fn named<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        self.msg.headers_named(name).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// Asserts the status code and reason phrase.
    #[track_caller]
    pub fn expect(&self, code: u16, reason: &str) -> &Self {
        assert_eq!(
            (self.status(), self.reason()),
            (code, reason),
            "response:\n{}",
            self.text()
        );
        self
    }

    /// The Contacts of the response, in order.
    pub fn contacts(&self) -> Vec<Listed> {
        match parse_contacts(self.msg.header_values(HeaderName::Contact)).unwrap() {
            ContactList::None => Vec::new(),
            ContactList::Star { .. } => panic!("a response never lists *"),
            ContactList::List(list) => list
                .into_iter()
                .map(|na| {
                    assert!(na.bracketed, "contacts are written in <>");
                    Listed {
                        uri: na.uri.to_string(),
                        expires: na
                            .params
                            .get("expires")
                            .map(|v| v.expect("expires has a value").parse().unwrap()),
                        q: na
                            .params
                            .get("q")
                            .map(|v| v.expect("q has a value").to_string()),
                    }
                })
                .collect(),
        }
    }

    /// The (uri, expires) pairs listed, for compact assertions.
    pub fn bindings(&self) -> Vec<(String, u64)> {
        self.contacts()
            .into_iter()
            .map(|c| (c.uri, c.expires.expect("every binding shows expires")))
            .collect()
    }
}

static BRANCH: AtomicU64 = AtomicU64::new(1);

/// Builds a request the way a UA would write it.
#[derive(Clone)]
pub struct Req {
    method: String,
    ruri: String,
    via: String,
    from: String,
    to: String,
    call_id: Option<String>,
    cseq: String,
    contacts: Vec<String>,
    extra: Vec<(String, String)>,
}

impl Req {
    /// A REGISTER for alice@example.com with Call-ID "reg-1", CSeq 1, no Contact.
    pub fn register() -> Req {
        Req::new("REGISTER", "sip:example.com").to("<sip:alice@example.com>")
    }

    pub fn new(method: &str, ruri: &str) -> Req {
        let n = BRANCH.fetch_add(1, Ordering::Relaxed);
        Req {
            method: method.to_string(),
            ruri: ruri.to_string(),
            via: format!("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-t{n}"),
            from: "\"Alice\" <sip:alice@example.com>;tag=from-1".to_string(),
            to: "<sip:alice@example.com>".to_string(),
            call_id: Some("reg-1@192.0.2.10".to_string()),
            cseq: format!("1 {method}"),
            contacts: Vec::new(),
            extra: Vec::new(),
        }
    }

    pub fn ruri(mut self, ruri: &str) -> Req {
        self.ruri = ruri.to_string();
        self
    }

    pub fn via(mut self, via: &str) -> Req {
        self.via = via.to_string();
        self
    }

    pub fn to(mut self, to: &str) -> Req {
        self.to = to.to_string();
        self
    }

    pub fn call_id(mut self, id: &str) -> Req {
        self.call_id = Some(id.to_string());
        self
    }

    pub fn no_call_id(mut self) -> Req {
        self.call_id = None;
        self
    }

    /// CSeq number with the request's own method.
    pub fn cseq(mut self, n: u32) -> Req {
        self.cseq = format!("{n} {}", self.method);
        self
    }

    /// The whole CSeq value as written.
    pub fn cseq_raw(mut self, v: &str) -> Req {
        self.cseq = v.to_string();
        self
    }

    /// Adds one Contact header line.
    pub fn contact(mut self, c: &str) -> Req {
        self.contacts.push(c.to_string());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.extra.push((name.to_string(), value.to_string()));
        self
    }

    pub fn expires(self, v: &str) -> Req {
        self.header("Expires", v)
    }

    pub fn build(&self) -> String {
        let mut s = format!("{} {} SIP/2.0\r\n", self.method, self.ruri);
        s += &format!("Via: {}\r\n", self.via);
        s += "Max-Forwards: 70\r\n";
        s += &format!("From: {}\r\n", self.from);
        s += &format!("To: {}\r\n", self.to);
        if let Some(id) = &self.call_id {
            s += &format!("Call-ID: {id}\r\n");
        }
        s += &format!("CSeq: {}\r\n", self.cseq);
        for c in &self.contacts {
            s += &format!("Contact: {c}\r\n");
        }
        for (n, v) in &self.extra {
            s += &format!("{n}: {v}\r\n");
        }
        s += "Content-Length: 0\r\n\r\n";
        s
    }
}
