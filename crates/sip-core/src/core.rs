//! The dispatcher: a parsed request and its context in, an [`Action`] out.

use crate::registrar::{check_register, PendingRegister, RegistrarConfig};
use crate::response::{start_response, TagGenerator};
use sip_message::headers::CSeq;
use sip_message::{HeaderName, Message, Method, ParseError, Uri};
use std::borrow::Cow;
use std::net::SocketAddr;

/// Transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, responses retransmitted from the transaction.
    Udp,
    /// TCP: reliable, responses sent on the same connection.
    Tcp,
}

impl Transport {
    /// Lower-case name, as stored in bindings.
    pub fn as_str(&self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }

    /// True for transports that retransmit by themselves (§17: timers are 0).
    pub fn is_reliable(&self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

/// Where a request came from and where it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext<'a> {
    /// The peer's address (source of the datagram or connection).
    pub source: SocketAddr,
    /// Our socket it arrived on.
    pub local: SocketAddr,
    /// The transport.
    pub transport: Transport,
    /// Host names and addresses that mean "this server" in a Request-URI
    /// (lower case), besides the served domains.
    pub local_hosts: &'a [String],
}

impl RequestContext<'_> {
    /// True when `host` (lower case) names this server itself.
    pub fn is_local_host(&self, host: &str) -> bool {
        self.local_hosts.iter().any(|h| h == host)
            || self.local.ip().to_string() == host
            || (self.local.ip().is_unspecified()
                && host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback()))
    }

    /// The source as "ip:port" ("[v6]:port" for IPv6).
    pub fn source_text(&self) -> String {
        self.source.to_string()
    }

    /// The local socket as "ip:port".
    pub fn local_text(&self) -> String {
        self.local.to_string()
    }
}

/// A response decided by the core, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub code: u16,
    /// Reason phrase (names the defect for errors).
    pub reason: Cow<'static, str>,
    /// Extra headers, in order.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A reply with no extra headers.
    pub fn new(code: u16, reason: impl Into<String>) -> Reply {
        Reply {
            code,
            reason: Cow::Owned(reason.into()),
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// What the shell must do with a request.
#[derive(Debug)]
pub enum Action {
    /// Send this final response.
    Respond(Reply),
    /// Apply this REGISTER to the location store, then respond with
    /// [`Core::register_outcome`].
    Register(Box<PendingRegister>),
    /// Send nothing (ACK, or a request that must be ignored).
    Ignore,
}

/// Methods defined by RFC 3261 and its extensions: known, so a request
/// with one that the server does not handle gets 405; any other gets 501.
const KNOWN_METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
];

/// Settings of the core.
#[derive(Debug, Clone, Default)]
pub struct CoreConfig {
    /// Registrar policy.
    pub registrar: RegistrarConfig,
}

/// The protocol core: stateless apart from its configuration and To-tag
/// key, so one instance serves every task of the shell.
#[derive(Debug, Default)]
pub struct Core {
    cfg: CoreConfig,
    tags: TagGenerator,
}

/// Checks the headers every request must carry (RFC 3261 §8.1.1) and that
/// the CSeq method matches the request method.
pub fn validate_request(req: &Message) -> Result<(), ParseError> {
    for (name, label) in [
        (HeaderName::To, "To"),
        (HeaderName::From, "From"),
        (HeaderName::CallId, "Call-ID"),
        (HeaderName::CSeq, "CSeq"),
        (HeaderName::Via, "Via"),
    ] {
        if req.header(name).is_none() {
            return Err(ParseError::MissingHeader(label));
        }
    }
    for name in [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        req.single_header(name)?;
    }
    if let Some(mf) = req.header(HeaderName::MaxForwards) {
        sip_message::headers::parse_delta_seconds(mf)
            .filter(|v| *v <= 255)
            .ok_or(ParseError::BadMaxForwards)?;
    }
    let cseq = CSeq::parse(req.header(HeaderName::CSeq).unwrap_or(""))?;
    if cseq.method != req.method_str() {
        return Err(ParseError::CSeqMethodMismatch);
    }
    for v in req.header_values(HeaderName::Via) {
        sip_message::headers::Via::parse(v)?;
    }
    for name in [HeaderName::To, HeaderName::From] {
        let value = req.header(name).unwrap_or("");
        let na = sip_message::NameAddr::parse(value)?;
        Uri::parse(na.uri)?;
    }
    Uri::parse(req.request_uri())?;
    sip_message::headers::parse_contacts(req.header_values(HeaderName::Contact))?;
    Ok(())
}

impl Core {
    /// A core with this configuration.
    pub fn new(cfg: CoreConfig) -> Core {
        Core {
            cfg,
            tags: TagGenerator::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    /// Decides what to do with a request that parsed.
    pub fn handle_request(&self, req: &Message, ctx: &RequestContext<'_>, now_ms: u64) -> Action {
        if req.method() == Some(Method::Ack) {
            return Action::Ignore;
        }
        match validate_request(req) {
            Ok(()) => {}
            // RFC 4475 §3.1.2.19 (mismatch02): an unknown method is 501
            // even when its CSeq names another method.
            Err(ParseError::CSeqMethodMismatch) if !KNOWN_METHODS.contains(&req.method_str()) => {
                return Action::Respond(
                    Reply::new(501, "Not Implemented").with_header("Allow", crate::ALLOW),
                );
            }
            Err(e) => return Action::Respond(Reply::new(400, e.to_string())),
        }
        // RFC 3261 §19.1.1: a Request-URI carries no headers; §8.2.2.1: a
        // scheme the server does not handle is 416.
        match Uri::parse(req.request_uri()) {
            Ok(Uri::Sip(u)) if !u.headers.is_empty() => {
                return Action::Respond(Reply::new(400, "Request-URI Must Not Contain Headers"));
            }
            Ok(Uri::Sip(_)) => {}
            _ => return Action::Respond(Reply::new(416, "Unsupported URI Scheme")),
        }
        match req.method() {
            Some(Method::Register) => match check_register(&self.cfg.registrar, req, ctx, now_ms) {
                Ok(p) => Action::Register(Box::new(p)),
                Err(reply) => Action::Respond(reply),
            },
            Some(Method::Options) => Action::Respond(
                Reply::new(200, "OK")
                    .with_header("Allow", crate::ALLOW)
                    .with_header("Supported", crate::SUPPORTED.join(", "))
                    .with_header("Accept", "application/sdp"),
            ),
            Some(Method::Cancel) => {
                Action::Respond(Reply::new(481, "Call/Transaction Does Not Exist"))
            }
            _ if KNOWN_METHODS.contains(&req.method_str()) => Action::Respond(
                Reply::new(405, "Method Not Allowed").with_header("Allow", crate::ALLOW),
            ),
            // RFC 3261 §8.2.1: a method the server does not recognise.
            _ => Action::Respond(
                Reply::new(501, "Not Implemented").with_header("Allow", crate::ALLOW),
            ),
        }
    }

    /// The reply for a REGISTER once the store has answered: the bindings
    /// after the change (step 8), or the rejection the change produced.
    pub fn register_outcome(
        &self,
        pending: &PendingRegister,
        outcome: Result<Vec<location::Binding>, Reply>,
        now_ms: u64,
    ) -> Reply {
        match outcome {
            Ok(bindings) => pending.bindings_response(&bindings, now_ms),
            Err(reply) => reply,
        }
    }

    /// Writes `reply` as the response to `req` received from `source`.
    pub fn write_response(&self, req: &Message, source: SocketAddr, reply: &Reply) -> Vec<u8> {
        let tag = self.tags.tag_for(req);
        let mut w = start_response(req, reply.code, &reply.reason, source, &tag);
        for (name, value) in &reply.headers {
            w.header(name, value);
        }
        w.finish(None, b"")
    }

    /// A 400 response for a request whose headers could be indexed but
    /// which fails validation; `None` when not even Via/CSeq could be read
    /// (nothing can be answered then).
    pub fn write_parse_error(
        &self,
        req: &Message,
        source: SocketAddr,
        err: ParseError,
    ) -> Option<Vec<u8>> {
        if !req.is_request()
            || req.method() == Some(Method::Ack)
            || req.header(HeaderName::Via).is_none()
        {
            return None;
        }
        Some(self.write_response(req, source, &Reply::new(400, err.to_string())))
    }
}
