//! A test harness that drives the sans-IO endpoint exactly as the server
//! shell does: a datagram in, then every store operation it asks for run on
//! a `MemoryStore` (sending a write's response as the shell does), until it
//! asks for nothing more. The response bytes are parsed back so tests
//! assert on what a UA would see.

#![allow(dead_code)]

use bytes::Bytes;
use location::{Binding, LocationStore, MemoryStore, StoreExt};
use sip_core::abuse::AbuseConfig;
use sip_core::auth::{AuthOutcome, Authenticator};
use sip_core::security::{AuthMode, Security};
use sip_core::{
    CoreConfig, Endpoint, EndpointConfig, Event, Received, RegistrarConfig, StoreOp, StoreOpKind,
    StoreResult, Transmit, Transport,
};
use sip_message::headers::{parse_contacts, ContactList};
use sip_message::{HeaderName, Limits, Message, NameAddr};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// 2023-11-14T22:13:20Z.
pub const T0: u64 = 1_700_000_000_000;

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

/// Runs one store operation on `store` as the shell does: the result, and
/// (for a write) the response the shell sends itself.
pub fn run_store_op(
    store: &MemoryStore,
    op: StoreOp,
    now_ms: u64,
) -> (StoreResult, Option<Transmit>) {
    let slot: Arc<Mutex<Option<StoreResult>>> = Arc::default();
    let put = |slot: &Arc<Mutex<Option<StoreResult>>>| {
        let slot = Arc::clone(slot);
        move |r: StoreResult| *slot.lock().unwrap() = Some(r)
    };
    let mut sent = None;
    match op.kind {
        StoreOpKind::Fetch { aor } => {
            let put = put(&slot);
            store.fetch(
                &aor,
                now_ms,
                Box::new(move |r| put(r.map_or_else(StoreResult::Failed, StoreResult::Fetched))),
            );
        }
        StoreOpKind::Lookup { aors } => {
            let put = put(&slot);
            store.lookup(
                &aors,
                now_ms,
                Box::new(move |r| put(r.map_or_else(StoreResult::Failed, StoreResult::Bindings))),
            );
        }
        StoreOpKind::Write(w) => {
            let w = *w;
            let put = put(&slot);
            store.write(
                &w.aor,
                &w.expected,
                w.bindings,
                now_ms,
                Box::new(move |r| put(r.map_or_else(StoreResult::Failed, StoreResult::Written))),
            );
            sent = match slot.lock().unwrap().as_ref() {
                Some(StoreResult::Written(location::Written::Stored)) => w.on_success,
                Some(StoreResult::Failed(_)) => w.on_failure,
                _ => None,
            };
        }
    }
    let result = slot
        .lock()
        .unwrap()
        .take()
        .expect("the memory store answers at once");
    (result, sent)
}

/// Feeds everything the endpoint asks of the store back to it and
/// collects what it sends (and the events) until it is idle.
pub fn drive(
    ep: &mut Endpoint,
    store: &MemoryStore,
    now_ms: u64,
    events: &mut Vec<Event>,
) -> Vec<Transmit> {
    let mut sent = Vec::new();
    loop {
        while let Some(t) = ep.poll_transmit() {
            sent.push(t);
        }
        let Some(op) = ep.poll_store_op() else { break };
        let id = op.id;
        let (result, shell_sent) = run_store_op(store, op, now_ms);
        sent.extend(shell_sent);
        ep.handle_store_result(now_ms, id, result);
    }
    while let Some(e) = ep.poll_event() {
        events.push(e);
    }
    sent
}

/// A datagram from `source` to `local`.
pub fn datagram(raw: &str, source: SocketAddr, local: SocketAddr) -> Received {
    Received {
        transport: Transport::Udp,
        source,
        local,
        conn: None,
        multicast: false,
        stamp: 0,
        bytes: Bytes::from(raw.to_string()),
    }
}

/// The endpoint, a memory store, and the addresses of one socket.
pub struct Registrar {
    /// Registrar policy.
    pub cfg: RegistrarConfig,
    pub store: MemoryStore,
    pub local: SocketAddr,
    pub local_hosts: Vec<String>,
    /// Digest authentication, when set (before the first request).
    auth: RefCell<Option<Authenticator>>,
    /// The outcome of the last refused request.
    pub last_refusal: RefCell<Option<AuthOutcome>>,
    /// Every event the endpoint reported, in order.
    pub events: RefCell<Vec<Event>>,
    endpoint: RefCell<Option<Endpoint>>,
}

impl Registrar {
    pub fn new(cfg: RegistrarConfig) -> Registrar {
        Registrar::with_local(cfg, server_addr())
    }

    pub fn with_local(cfg: RegistrarConfig, local: SocketAddr) -> Registrar {
        Registrar {
            cfg,
            store: MemoryStore::new(),
            local,
            local_hosts: Vec::new(),
            auth: RefCell::new(None),
            last_refusal: Default::default(),
            events: Default::default(),
            endpoint: RefCell::new(None),
        }
    }

    /// Requires digest authentication with `auth` (before the first request).
    pub fn set_auth(&mut self, auth: Authenticator) {
        *self.auth.get_mut() = Some(auth);
    }

    /// Runs `f` on the endpoint, built at first use from the fields above.
    pub fn with_endpoint<R>(&self, f: impl FnOnce(&mut Endpoint) -> R) -> R {
        let mut slot = self.endpoint.borrow_mut();
        let ep = slot.get_or_insert_with(|| {
            let auth = self
                .auth
                .borrow_mut()
                .take()
                .map(|a| (AuthMode::Required, a));
            Endpoint::new(EndpointConfig {
                core: Arc::new(CoreConfig {
                    registrar: self.cfg.clone(),
                    local_hosts: self.local_hosts.clone(),
                    ..CoreConfig::default()
                }),
                limits: Limits::default(),
                security: Arc::new(Security::new(auth, unlimited(), false, 7)),
                proxy_auth: None,
                shard: 0,
                shards: 1,
                seed: 7,
            })
        });
        f(ep)
    }

    /// The bindings stored for `aor`, live at `now_ms`.
    pub fn stored(&self, aor: &str, now_ms: u64) -> Vec<Binding> {
        self.store.bindings(aor, now_ms).unwrap()
    }

    /// Sends `raw` from the default UA address; `None` when nothing answers it.
    pub fn send(&self, raw: &str, now_ms: u64) -> Option<Resp> {
        self.send_from(raw, ua_addr(), now_ms)
    }

    /// Sends `raw` from `source` at `now_ms`, as the shell would.
    pub fn send_from(&self, raw: &str, source: SocketAddr, now_ms: u64) -> Option<Resp> {
        let req = Message::parse(Bytes::from(raw.to_string()), &Limits::default())
            .unwrap_or_else(|e| panic!("test request does not parse ({e}):\n{raw}"));
        let sent = self.deliver(datagram(raw, source, self.local), now_ms);
        let first = sent.into_iter().next()?;
        let resp = Resp::parse(first.bytes.to_vec());
        resp.check_mirrors(&req);
        Some(resp)
    }

    /// Delivers one message and returns everything sent in answer.
    pub fn deliver(&self, received: Received, now_ms: u64) -> Vec<Transmit> {
        let mut events = Vec::new();
        let sent = self.with_endpoint(|ep| {
            ep.handle_message(now_ms, received);
            drive(ep, &self.store, now_ms, &mut events)
        });
        self.note(events);
        sent
    }

    /// Runs the endpoint's timers due at `now_ms`; returns what they sent.
    pub fn timers(&self, now_ms: u64) -> Vec<Transmit> {
        let mut events = Vec::new();
        let sent = self.with_endpoint(|ep| {
            ep.handle_timeout(now_ms);
            drive(ep, &self.store, now_ms, &mut events)
        });
        self.note(events);
        sent
    }

    /// When the endpoint next has a timer to run.
    pub fn next_timer(&self) -> Option<u64> {
        self.with_endpoint(|ep| ep.poll_timeout())
    }

    fn note(&self, events: Vec<Event>) {
        for e in events {
            if let Event::Refused { outcome, .. } = &e {
                *self.last_refusal.borrow_mut() = Some(outcome.clone());
            }
            self.events.borrow_mut().push(e);
        }
    }

    /// Sends and expects an answer.
    pub fn answer(&self, raw: &str, now_ms: u64) -> Resp {
        self.send(raw, now_ms).expect("the registrar must answer")
    }
}

/// Abuse limits that never get in a test's way.
pub fn unlimited() -> AbuseConfig {
    AbuseConfig {
        source_failure_limit: 0,
        user_failure_limit: 0,
        rate_limit: 0,
        ..AbuseConfig::default()
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
    pub fn parse(raw: Vec<u8>) -> Resp {
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

/// The builder's Via, with branch number `n`.
fn default_via(n: u64) -> String {
    format!("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-t{n}")
}

/// Builds a request the way a UA would write it.
#[derive(Clone)]
pub struct Req {
    method: String,
    ruri: String,
    via: String,
    /// True once a test set the Via itself (its branch is then kept).
    via_set: bool,
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
            via: default_via(n),
            via_set: false,
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
        self.via_set = true;
        self
    }

    /// A new request of a UA gets a new branch (a retransmission keeps
    /// it): a fresh branch unless the test chose the Via.
    fn new_transaction(mut self) -> Req {
        if !self.via_set {
            self.via = default_via(BRANCH.fetch_add(1, Ordering::Relaxed));
        }
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

    /// CSeq number with the request's own method (a new request: a new
    /// branch).
    pub fn cseq(mut self, n: u32) -> Req {
        self.cseq = format!("{n} {}", self.method);
        self.new_transaction()
    }

    /// The whole CSeq value as written (a new request: a new branch).
    pub fn cseq_raw(mut self, v: &str) -> Req {
        self.cseq = v.to_string();
        self.new_transaction()
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
