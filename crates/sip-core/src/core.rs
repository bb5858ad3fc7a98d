//! The dispatcher: a parsed request and its context in, an [`Action`] out.

use crate::auth::{strip_port, AuthOutcome, Authenticator, Refusal};
use crate::registrar::{check_register, PendingRegister, RegistrarConfig};
use crate::response::{start_response_to, TagGenerator};
use sip_message::headers::{parse_contacts, CSeq, ContactList};
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
#[derive(Debug, Clone, Copy)]
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
    /// True when the request came to the SIP multicast group (224.0.1.75).
    pub multicast: bool,
    /// When set, REGISTER and OPTIONS must carry valid digest credentials
    /// and a REGISTER must be for an AOR the user may register; `None`
    /// serves without authentication (explicitly off, or the first-run
    /// open mode).
    pub auth: Option<&'a Authenticator>,
}

impl RequestContext<'_> {
    /// True when `host` (lower case) names this server itself.
    pub fn is_local_host(&self, host: &str) -> bool {
        self.local_hosts.iter().any(|h| h == host)
            || crate::text::AddrText::ip(self.local.ip()).as_str() == host
            || (self.local.ip().is_unspecified()
                && host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback()))
    }

    /// The source as "ip:port" ("[v6]:port" for IPv6).
    pub fn source_text(&self) -> String {
        crate::text::AddrText::socket(self.source)
            .as_str()
            .to_string()
    }

    /// The local socket as "ip:port".
    pub fn local_text(&self) -> String {
        crate::text::AddrText::socket(self.local)
            .as_str()
            .to_string()
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
    /// Authentication or authorization refused the request: send
    /// `reply` (401 or 403), and count the outcome.
    Refuse(Box<Refusal>),
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

/// What a REGISTER received on the multicast group gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MulticastRegister {
    /// 302 pointing at this server's unicast address (RFC 3261 §10.3).
    #[default]
    Redirect,
    /// Processed like any REGISTER.
    Process,
}

/// Settings of the core.
#[derive(Debug, Clone, Default)]
pub struct CoreConfig {
    /// Registrar policy.
    pub registrar: RegistrarConfig,
    /// Router (proxy and redirect server) policy.
    pub proxy: crate::proxy::ProxyConfig,
    /// REGISTERs arriving on the multicast group.
    pub multicast_register: MulticastRegister,
}

/// The protocol core: stateless apart from its configuration and To-tag
/// key, so one instance serves every task of the shell.
#[derive(Debug, Default)]
pub struct Core {
    cfg: CoreConfig,
    tags: TagGenerator,
}

/// What [`validate_parts`] parsed and the later steps need again: parsed
/// once per request instead of once per step.
#[derive(Debug, Clone)]
pub struct Validated<'a> {
    /// The Request-URI.
    pub request_uri: Uri<'a>,
    /// The URI of the To header.
    pub to_uri: Uri<'a>,
    /// The CSeq header.
    pub cseq: CSeq<'a>,
    /// Every Contact value.
    pub contacts: ContactList<'a>,
}

/// Checks the headers every request must carry (RFC 3261 §8.1.1) and that
/// the CSeq method matches the request method.
pub fn validate_request(req: &Message) -> Result<(), ParseError> {
    validate_parts(req).map(|_| ())
}

/// [`validate_request`], returning what it parsed for the later steps.
pub fn validate_parts(req: &Message) -> Result<Validated<'_>, ParseError> {
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
    let to_uri = name_addr_uri(req.header(HeaderName::To).unwrap_or(""))?;
    name_addr_uri(req.header(HeaderName::From).unwrap_or(""))?;
    let request_uri = Uri::parse(req.request_uri())?;
    let contacts = parse_contacts(req.header_values(HeaderName::Contact))?;
    Ok(Validated {
        request_uri,
        to_uri,
        cseq,
        contacts,
    })
}

/// The URI of a name-addr header value, both checked.
fn name_addr_uri(value: &str) -> Result<Uri<'_>, ParseError> {
    Uri::parse(sip_message::NameAddr::parse(value)?.uri)
}

/// The host of the From URI (lower case, no port): the domain an
/// OPTIONS request is authenticated for.
fn from_domain(req: &Message) -> String {
    req.header(HeaderName::From)
        .and_then(|v| sip_message::NameAddr::parse(v).ok())
        .and_then(|na| {
            Uri::parse(na.uri)
                .ok()
                .and_then(|u| u.as_sip().map(|s| s.host_lowercase()))
        })
        .map(|h| strip_port(&h).to_string())
        .unwrap_or_default()
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

    /// True when `req` goes to the router ([`crate::proxy::Proxy`]) rather
    /// than to [`Core::handle_request`]: every method but REGISTER, unless
    /// the Request-URI names this server or a served domain without a user.
    pub fn is_routed(&self, req: &Message, ctx: &RequestContext<'_>) -> bool {
        crate::proxy::is_routed(&self.cfg, req, ctx)
    }

    /// Decides what to do with a request that parsed and that is not
    /// routed (see [`Core::is_routed`]): REGISTER and requests for the
    /// server itself.
    pub fn handle_request(&self, req: &Message, ctx: &RequestContext<'_>, now_ms: u64) -> Action {
        if req.method() == Some(Method::Ack) {
            return Action::Ignore;
        }
        let parsed = match validate_parts(req) {
            Ok(parsed) => parsed,
            // RFC 4475 §3.1.2.19 (mismatch02): an unknown method is 501
            // even when its CSeq names another method.
            Err(ParseError::CSeqMethodMismatch) if !KNOWN_METHODS.contains(&req.method_str()) => {
                return Action::Respond(
                    Reply::new(501, "Not Implemented").with_header("Allow", crate::ALLOW),
                );
            }
            Err(e) => return Action::Respond(Reply::new(400, e.to_string())),
        };
        // RFC 3261 §19.1.1: a Request-URI carries no headers; §8.2.2.1: a
        // scheme the server does not handle is 416.
        match &parsed.request_uri {
            Uri::Sip(u) if !u.headers.is_empty() => {
                return Action::Respond(Reply::new(400, "Request-URI Must Not Contain Headers"));
            }
            Uri::Sip(_) => {}
            _ => return Action::Respond(Reply::new(416, "Unsupported URI Scheme")),
        }
        if req.method() == Some(Method::Register)
            && ctx.multicast
            && self.cfg.multicast_register == MulticastRegister::Redirect
        {
            return Action::Respond(self.multicast_redirect(ctx));
        }
        match req.method() {
            Some(Method::Register) => {
                let pending = match check_register(&self.cfg.registrar, req, &parsed, ctx, now_ms) {
                    Ok(p) => p,
                    Err(reply) => return Action::Respond(reply),
                };
                if let Some(auth) = ctx.auth {
                    // §10.3 steps 3 and 4, for the domain of the AOR.
                    let domain = pending.aor_domain();
                    let user = match auth.authenticate(req, domain, now_ms) {
                        Ok(user) => user,
                        Err(refusal) => return Action::Refuse(Box::new(refusal)),
                    };
                    if !auth.may_register(&user, &pending.aor) {
                        return Action::Refuse(Box::new(Refusal {
                            reply: Reply::new(403, "Forbidden"),
                            outcome: AuthOutcome::Forbidden {
                                identity: format!("{}@{}", user.username, user.domain),
                            },
                        }));
                    }
                }
                Action::Register(Box::new(pending))
            }
            Some(Method::Options) => {
                if let Some(auth) = ctx.auth {
                    let domain = from_domain(req);
                    if let Err(refusal) = auth.authenticate(req, &domain, now_ms) {
                        return Action::Refuse(Box::new(refusal));
                    }
                }
                Action::Respond(
                    Reply::new(200, "OK")
                        .with_header("Allow", crate::ALLOW)
                        .with_header("Supported", crate::SUPPORTED.join(", "))
                        .with_header("Accept", "application/sdp"),
                )
            }
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

    /// RFC 3261 §10.3: a registrar on the multicast group redirects the UA
    /// to its unicast address.
    fn multicast_redirect(&self, ctx: &RequestContext<'_>) -> Reply {
        let unicast = self
            .cfg
            .proxy
            .listener_for(Transport::Udp, Some(ctx.source), None)
            .map_or(ctx.local, |l| l.addr);
        Reply::new(302, "Moved Temporarily").with_header("Contact", format!("<sip:{unicast}>"))
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
        self.write_response_to(req, source, reply).0
    }

    /// [`Core::write_response`], and where the response goes over an
    /// unreliable transport ([`crate::response::response_destination`]).
    pub fn write_response_to(
        &self,
        req: &Message,
        source: SocketAddr,
        reply: &Reply,
    ) -> (Vec<u8>, SocketAddr) {
        let tag = self.tags.tag_for(req);
        let (mut w, dest) = start_response_to(req, reply.code, &reply.reason, source, &tag);
        for (name, value) in &reply.headers {
            w.header(name, value);
        }
        (w.finish(None, b""), dest)
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
