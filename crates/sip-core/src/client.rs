//! The registration client (RFC 3261 §10.2) as a sans-IO state machine.
//!
//! A [`Registration`] holds one registration dialogue with one registrar:
//! one Call-ID and From-tag for its whole life, CSeq +1 per request, and at
//! most one REGISTER outstanding at any time (a new operation asked for
//! while one is in flight waits for its final response). Each REGISTER is a
//! non-INVITE client transaction ([`crate::transaction::ClientTransaction`],
//! §17.1.2): over UDP it is retransmitted on Timer E (T1 doubling up to T2)
//! and times out on Timer F (64*T1); over TCP only Timer F runs.
//!
//! Responses: 2xx ends the operation and, for a registration, schedules the
//! refresh from the expiry the registrar granted to *our* contact; 401/407
//! is answered with the strongest digest algorithm offered (one answer per
//! challenge, one more when the server says `stale=true`, so a wrong
//! password never loops); 423 is retried with `Min-Expires`; 3xx asks the
//! shell to resolve the Contact and call [`Registration::set_destination`];
//! timeouts, transport errors and temporary failures (408, 480, 5xx) of a
//! refreshing registration back off as RFC 5626 §4.5 says (base 30 s, max
//! 1800 s, 50–100 % jitter), anything else ends with [`Event::Failed`].
//!
//! Time is an input (`now_ms`, any monotonic millisecond clock); nothing
//! here reads a clock, touches a socket or resolves a name. The shell loop:
//!
//! ```text
//! loop {
//!     while let Some(t) = reg.poll_transmit() { send t.payload to t.destination }
//!     while let Some(e) = reg.poll_event() { react }
//!     wait for a datagram / stream frame  -> reg.handle_response(bytes, now)
//!          or reg.poll_timeout()          -> reg.handle_timeout(now)
//! }
//! ```

use crate::digest::{answer, Challenge, RequestParts};
use crate::rng::Rng;
use crate::transaction::{ClientTimeout, ClientTransaction};
use crate::transport::Transport;
use bytes::Bytes;
use sip_message::headers::{parse_delta_seconds, parse_qvalue, split_list, CSeq, Via};
use sip_message::{HeaderName, Limits, Message, MessageWriter, NameAddr, Uri};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;

/// RFC 5626 §4.5 base time when every flow failed, in seconds.
pub const BACKOFF_BASE_S: u64 = 30;
/// RFC 5626 §4.5 max time, in seconds.
pub const BACKOFF_MAX_S: u64 = 1_800;
/// Most 3xx redirections followed by one operation (a loop guard).
pub const MAX_REDIRECTS: u8 = 5;

/// One contact to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSpec {
    /// The contact URI (`sip:alice@192.0.2.4:5062`).
    pub uri: String,
    /// `q` parameter, as written (`0.5`); `None` leaves it out.
    pub q: Option<String>,
    /// Lifetime asked for this contact (`expires` parameter); `None` uses
    /// the global `expires` of the configuration.
    pub expires: Option<u32>,
}

/// Where requests go: the transport and the address (the shell resolves
/// names; the core only sees addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination {
    /// The transport to use.
    pub transport: Transport,
    /// The registrar's (or next hop's) address.
    pub addr: SocketAddr,
}

/// Settings of one registration.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// The address-of-record (To), e.g. `sip:alice@example.com`.
    pub aor: String,
    /// The Request-URI: the registrar's domain without userinfo
    /// (`sip:example.com`). Derive it with [`registrar_uri_for`].
    pub request_uri: String,
    /// From for third-party registration; `None` uses the AOR.
    pub from: Option<String>,
    /// Contacts to register; empty derives one from the local address.
    pub contacts: Vec<ContactSpec>,
    /// Global lifetime asked (`Expires` header); `None` lets the registrar choose.
    pub expires: Option<u32>,
    /// `+sip.instance` value (e.g. `<urn:uuid:...>`), added to every contact.
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626), added to every contact.
    pub reg_id: Option<u32>,
    /// Digest username; `None` uses the AOR's user part.
    pub username: Option<String>,
    /// Digest password; `None` means a challenge cannot be answered.
    pub password: Option<String>,
    /// `User-Agent` header value.
    pub user_agent: String,
    /// Call-ID to use for the life of this registration (fixed for the
    /// process); `None` makes one from `seed`.
    pub call_id: Option<String>,
    /// Seed of the generator of branches, tags and cnonces (give a random
    /// value; tests give a fixed one).
    pub seed: u64,
    /// True to keep the registration alive: refresh before expiry and back
    /// off and retry after temporary failures. False for one-shot use.
    pub refresh: bool,
}

/// What one operation asks the registrar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Add or refresh our contacts.
    Register,
    /// List the bindings (REGISTER without Contact).
    Query,
    /// Remove these contact URIs (`expires=0` each).
    Remove(Vec<String>),
    /// Remove every binding of the AOR (`Contact: *`, `Expires: 0`).
    RemoveAll,
    /// Remove our own contacts (what a UA does when it stops).
    Unregister,
}

impl Operation {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Register => "register",
            Operation::Query => "query",
            Operation::Remove(_) => "remove",
            Operation::RemoveAll => "remove-all",
            Operation::Unregister => "unregister",
        }
    }
}

/// Bytes to send and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send.
    pub destination: Destination,
    /// The whole request.
    pub payload: Bytes,
    /// True for a retransmission (Timer E) of bytes already sent.
    pub retransmission: bool,
}

/// One binding listed in a 2xx (what the registrar holds now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingInfo {
    /// The contact URI.
    pub contact: String,
    /// Remaining lifetime in seconds (contact `expires` or the `Expires` header).
    pub expires: Option<u32>,
    /// The `q` value as written, if any.
    pub q: Option<String>,
    /// True when this is one of our contacts.
    pub ours: bool,
}

/// Why an operation failed or is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A final response that is not a success.
    Status {
        /// Status code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// Timer F fired: no final response.
    Timeout,
    /// The shell reported a transport error (connection refused, reset...).
    Transport(String),
    /// The registrar challenged and no password is configured.
    NoCredentials {
        /// 401 or 407.
        code: u16,
    },
    /// The credentials were refused (the challenge repeated for our answer).
    AuthenticationFailed {
        /// 401 or 407.
        code: u16,
        /// The realm.
        realm: String,
    },
    /// A 401/407 without a digest challenge this client implements.
    UnsupportedChallenge {
        /// 401 or 407.
        code: u16,
    },
    /// A 423 without a usable `Min-Expires`, or repeated for the value given.
    IntervalTooBrief {
        /// The `Min-Expires` value, if any.
        min_expires: Option<u32>,
    },
    /// A 3xx without a usable Contact, or too many redirections.
    BadRedirect(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status { code, reason } => write!(f, "{code} {reason}"),
            Failure::Timeout => f.write_str("no response from the registrar (timed out)"),
            Failure::Transport(e) => write!(f, "transport error: {e}"),
            Failure::NoCredentials { code } => write!(
                f,
                "{code}: the registrar asks for authentication and no password was given (use --password-stdin)"
            ),
            Failure::AuthenticationFailed { code, realm } => write!(
                f,
                "{code}: authentication failed for realm \"{realm}\" (wrong username or password?)"
            ),
            Failure::UnsupportedChallenge { code } => write!(
                f,
                "{code}: the registrar offers no digest challenge this client supports"
            ),
            Failure::IntervalTooBrief { min_expires } => match min_expires {
                Some(m) => write!(f, "423 Interval Too Brief (Min-Expires {m}) repeated"),
                None => f.write_str("423 Interval Too Brief without a usable Min-Expires"),
            },
            Failure::BadRedirect(why) => write!(f, "redirect not followed: {why}"),
        }
    }
}

/// Something the shell may report or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An operation got a 2xx; [`Registration::bindings`] holds what it listed.
    Success {
        /// The operation.
        operation: Operation,
        /// The status code.
        code: u16,
        /// For a registration: the lifetime granted to our contact (seconds).
        granted: Option<u32>,
    },
    /// A 3xx: resolve `uri` and call [`Registration::set_destination`]
    /// (the held request is sent then).
    Redirect {
        /// The Contact URI to follow.
        uri: String,
    },
    /// The operation failed for now and will be tried again at `retry_at_ms`
    /// (the shell may instead fail over with [`Registration::set_destination`]).
    Retrying {
        /// Why.
        failure: Failure,
        /// When the next attempt is made.
        retry_at_ms: u64,
    },
    /// The operation failed and will not be retried.
    Failed {
        /// The operation.
        operation: Operation,
        /// Why.
        failure: Failure,
    },
}

/// Where the registration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing asked yet, or everything asked is done.
    Idle,
    /// A REGISTER is outstanding.
    Waiting,
    /// A 3xx was received: waiting for [`Registration::set_destination`].
    AwaitingDestination,
    /// Registered; the refresh is due at `refresh_at_ms`.
    Registered {
        /// When the refresh will be sent.
        refresh_at_ms: u64,
        /// When the binding expires at the registrar.
        expires_at_ms: u64,
    },
    /// Backing off after a failure; retrying at `retry_at_ms`.
    BackingOff {
        /// When the next attempt is made.
        retry_at_ms: u64,
    },
}

/// Which header carried the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChallengeKind {
    Www,
    Proxy,
}

/// The challenge we answer, kept to authorize the following requests
/// (nc counting up), as RFC 3261 §22.3 allows.
#[derive(Debug, Clone)]
struct AuthCache {
    challenge: Challenge<'static>,
    kind: ChallengeKind,
    nc: u32,
}

/// The outstanding client transaction.
#[derive(Debug)]
struct Pending {
    cseq: u32,
    branch: String,
    destination: Destination,
    /// Timers E and F, and the request they retransmit.
    tx: ClientTransaction,
    /// Nonce the request's credentials answered, if it carried any.
    answered_nonce: Option<String>,
    /// True when those credentials answer a challenge received for this operation.
    fresh_answer: bool,
    /// Expiry asked for our contacts (for a registration).
    asked_expires: Option<u32>,
}

/// Per-operation counters that bound retries.
#[derive(Debug, Default, Clone)]
struct OpProgress {
    stale_retry_used: bool,
    challenged: bool,
    redirects: u8,
    interval_retries: u8,
}

/// The client registration state machine. See the module documentation.
#[derive(Debug)]
pub struct Registration {
    cfg: RegistrationConfig,
    call_id: String,
    from_tag: String,
    cseq: u32,
    rng: Rng,
    request_uri: String,
    destination: Option<Destination>,
    local: Option<SocketAddr>,
    /// The operation in progress (or backing off / waiting for a destination).
    current: Option<Operation>,
    progress: OpProgress,
    /// The operation asked while another was in flight.
    queued: Option<Operation>,
    pending: Option<Pending>,
    auth: Option<AuthCache>,
    /// Minimum lifetime learned from a 423.
    min_expires: Option<u32>,
    /// Refresh due (registered state).
    refresh_at: Option<u64>,
    expires_at: Option<u64>,
    /// Backoff retry due.
    retry_at: Option<u64>,
    consecutive_failures: u32,
    awaiting_destination: bool,
    /// True once a registration succeeded and was not removed since.
    registered: bool,
    /// False after [`Registration::stop`]: no more refreshes.
    keep_alive: bool,
    bindings: Vec<BindingInfo>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    limits: Limits,
}

/// The Request-URI for registering `aor`: its scheme and host(:port),
/// without user part, parameters or headers (RFC 3261 §10.2).
pub fn registrar_uri_for(aor: &str) -> Option<String> {
    let na = NameAddr::parse(aor).ok()?;
    match Uri::parse(na.uri).ok()? {
        Uri::Sip(u) => {
            let scheme = if u.secure { "sips" } else { "sip" };
            Some(match u.port {
                Some(p) => format!("{scheme}:{}:{p}", u.host),
                None => format!("{scheme}:{}", u.host),
            })
        }
        _ => None,
    }
}

fn owned_challenge(c: &Challenge<'_>) -> Challenge<'static> {
    Challenge {
        realm: Cow::Owned(c.realm.to_string()),
        nonce: Cow::Owned(c.nonce.to_string()),
        opaque: c.opaque.as_ref().map(|o| Cow::Owned(o.to_string())),
        algorithm: c.algorithm,
        sess: c.sess,
        qop: c.qop.clone(),
        stale: c.stale,
    }
}

/// The user part of a SIP AOR (`alice` of `sip:alice@example.com`).
fn aor_user(aor: &str) -> Option<String> {
    let na = NameAddr::parse(aor).ok()?;
    match Uri::parse(na.uri).ok()? {
        Uri::Sip(u) => u.user.map(str::to_string),
        _ => None,
    }
}

/// The bare URI of a value given as a URI or as a name-addr (`<...>`);
/// a URI without brackets is kept whole, parameters included.
fn bare_uri(s: &str) -> &str {
    if !s.contains('<') {
        return s.trim();
    }
    NameAddr::parse(s).map(|n| n.uri).unwrap_or(s)
}

fn uris_equivalent(a: &str, b: &str) -> bool {
    match (Uri::parse(bare_uri(a)), Uri::parse(bare_uri(b))) {
        (Ok(x), Ok(y)) => x.equivalent(&y),
        _ => a.eq_ignore_ascii_case(b),
    }
}

impl Registration {
    /// A new, idle registration.
    pub fn new(cfg: RegistrationConfig) -> Registration {
        let mut rng = Rng::new(cfg.seed);
        let call_id = cfg.call_id.clone().unwrap_or_else(|| {
            format!("{:016x}{:08x}@locus", rng.next_u64(), rng.next_u64() as u32)
        });
        let from_tag = format!("{:012x}", rng.next_u64() >> 16);
        Registration {
            request_uri: cfg.request_uri.clone(),
            call_id,
            from_tag,
            cseq: 0,
            rng,
            destination: None,
            local: None,
            current: None,
            progress: OpProgress::default(),
            queued: None,
            pending: None,
            auth: None,
            min_expires: None,
            refresh_at: None,
            expires_at: None,
            retry_at: None,
            consecutive_failures: 0,
            awaiting_destination: false,
            registered: false,
            keep_alive: cfg.refresh,
            bindings: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            limits: Limits::default(),
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RegistrationConfig {
        &self.cfg
    }

    /// The Call-ID used for every request.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The CSeq number of the last request built (0 before the first).
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// The Request-URI used now (changes when a 3xx is followed).
    pub fn request_uri(&self) -> &str {
        &self.request_uri
    }

    /// Sets the local address requests leave from (for Via, and for the
    /// contact derived when none is configured). Call before the first
    /// operation and whenever the local socket changes (new TCP connection).
    pub fn set_local(&mut self, local: SocketAddr) {
        self.local = Some(local);
    }

    /// Sets where requests go. An outstanding request is abandoned and the
    /// operation sent again as a new transaction to the new destination; an
    /// operation waiting for a destination (3xx) or backing off is sent now.
    pub fn set_destination(&mut self, destination: Destination, now_ms: u64) {
        self.destination = Some(destination);
        let resend = self.pending.take().is_some() || self.awaiting_destination;
        self.awaiting_destination = false;
        if resend || self.retry_at.is_some() {
            self.retry_at = None;
            if self.current.is_some() {
                self.send_current(now_ms);
            }
        }
    }

    /// The destination in use.
    pub fn destination(&self) -> Option<Destination> {
        self.destination
    }

    /// Starts an operation, or queues it when a request is outstanding
    /// (never two REGISTERs in flight). A queued operation replaces an
    /// earlier queued one. Starting [`Operation::Register`] (re)enables
    /// refreshing when the configuration asks for it.
    pub fn start(&mut self, op: Operation, now_ms: u64) {
        if op == Operation::Register {
            self.keep_alive = self.cfg.refresh;
        }
        if self.pending.is_some() || self.awaiting_destination {
            self.queued = Some(op);
            return;
        }
        self.begin(op, now_ms);
    }

    /// Stops refreshing and removes our contacts if they are registered
    /// (or about to be). Returns false when there is nothing to remove, so
    /// the shell can exit at once.
    pub fn stop(&mut self, now_ms: u64) -> bool {
        self.keep_alive = false;
        self.refresh_at = None;
        let in_flight_register = self.current == Some(Operation::Register)
            && (self.pending.is_some() || self.awaiting_destination);
        if !self.registered && !in_flight_register {
            self.retry_at = None;
            self.current = None;
            self.queued = None;
            self.pending = None;
            return false;
        }
        self.start(Operation::Unregister, now_ms);
        true
    }

    /// True when nothing is outstanding, queued or scheduled.
    pub fn is_idle(&self) -> bool {
        self.pending.is_none()
            && self.queued.is_none()
            && !self.awaiting_destination
            && self.retry_at.is_none()
            && self.refresh_at.is_none()
    }

    /// Where the registration is.
    pub fn state(&self) -> State {
        if self.pending.is_some() {
            State::Waiting
        } else if self.awaiting_destination {
            State::AwaitingDestination
        } else if let Some(t) = self.retry_at {
            State::BackingOff { retry_at_ms: t }
        } else if let (Some(r), Some(e)) = (self.refresh_at, self.expires_at) {
            State::Registered {
                refresh_at_ms: r,
                expires_at_ms: e,
            }
        } else {
            State::Idle
        }
    }

    /// The bindings the last 2xx listed.
    pub fn bindings(&self) -> &[BindingInfo] {
        &self.bindings
    }

    /// The next request to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest instant [`Registration::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut t: Option<u64> = None;
        let mut take = |v: Option<u64>| {
            if let Some(v) = v {
                t = Some(t.map_or(v, |c: u64| c.min(v)));
            }
        };
        if let Some(p) = &self.pending {
            take(p.tx.deadline());
        }
        take(self.retry_at);
        take(self.refresh_at);
        t
    }

    /// Runs the timers due at `now_ms`: retransmissions, Timer F, the
    /// refresh and the backoff retry.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if let Some(p) = &mut self.pending {
            match p.tx.on_timer(now_ms) {
                Some(ClientTimeout::TimedOut) => {
                    self.pending = None;
                    self.fail_temporary(Failure::Timeout, None, now_ms);
                }
                Some(ClientTimeout::Retransmit(payload)) => {
                    self.transmits.push_back(Transmit {
                        destination: p.destination,
                        payload,
                        retransmission: true,
                    });
                }
                // The transaction is dropped at its final response, before
                // any Timer K.
                Some(ClientTimeout::Ended) | None => {}
            }
            return;
        }
        if self.retry_at.is_some_and(|t| now_ms >= t) {
            self.retry_at = None;
            if self.current.is_some() {
                self.send_current(now_ms);
            }
            return;
        }
        if self.refresh_at.is_some_and(|t| now_ms >= t) {
            self.refresh_at = None;
            self.begin(Operation::Register, now_ms);
        }
    }

    /// The shell could not send, or the connection failed: the outstanding
    /// transaction fails as if timed out (RFC 3261 §8.1.3.1).
    pub fn handle_transport_error(&mut self, error: &str, now_ms: u64) {
        if self.pending.take().is_some() {
            self.fail_temporary(Failure::Transport(error.to_string()), None, now_ms);
        }
    }

    /// Feeds a received message (one datagram or one framed stream
    /// message). Returns false when it was ignored (not a response to the
    /// outstanding request, or unparseable).
    pub fn handle_response(&mut self, bytes: Bytes, now_ms: u64) -> bool {
        let Ok(msg) = Message::parse(bytes, &self.limits) else {
            return false;
        };
        let Some(code) = msg.status() else {
            return false;
        };
        let Some(p) = &mut self.pending else {
            return false;
        };
        // Match the transaction (§17.1.3): top Via branch and CSeq method.
        let branch_ok = msg
            .header(HeaderName::Via)
            .and_then(|l| split_list(l).next())
            .and_then(|v| Via::parse(v).ok())
            .and_then(|v| v.branch())
            .is_some_and(|b| b == p.branch);
        let cseq_ok = msg
            .header(HeaderName::CSeq)
            .and_then(|c| CSeq::parse(c).ok())
            .is_some_and(|c| c.method == "REGISTER" && c.seq == p.cseq);
        if !branch_ok || !cseq_ok {
            return false;
        }
        if code < 200 {
            // Proceeding: UDP retransmissions continue at T2 (§17.1.2.2).
            p.tx.on_response(code, now_ms, Bytes::new);
            return true;
        }
        let pending = self.pending.take().expect("checked above");
        let op = self.current.clone().unwrap_or(Operation::Register);
        match code {
            200..=299 => self.on_success(&msg, code, op, &pending, now_ms),
            300..=399 => self.on_redirect(&msg, now_ms),
            401 | 407 => self.on_challenge(&msg, code, &pending, now_ms),
            423 => self.on_interval_too_brief(&msg, &pending, now_ms),
            408 | 480 | 500 | 503 | 504 => {
                let retry_after = msg
                    .header_named_first("Retry-After")
                    .and_then(|v| parse_delta_seconds(v.split(['(', ';']).next().unwrap_or("")));
                let failure = Failure::Status {
                    code,
                    reason: msg.reason().to_string(),
                };
                self.fail_temporary(failure, retry_after, now_ms);
            }
            _ => {
                let failure = Failure::Status {
                    code,
                    reason: msg.reason().to_string(),
                };
                self.fail_final(failure, now_ms);
            }
        }
        true
    }

    // ----- operations -------------------------------------------------

    fn begin(&mut self, op: Operation, now_ms: u64) {
        self.current = Some(op);
        self.progress = OpProgress::default();
        self.retry_at = None;
        self.send_current(now_ms);
    }

    /// Ends the current operation and starts the queued one, if any.
    fn finish_operation(&mut self, now_ms: u64) {
        self.current = None;
        if let Some(next) = self.queued.take() {
            self.begin(next, now_ms);
        }
    }

    fn next_branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.rng.next_u64())
    }

    /// Builds and sends the current operation as a new transaction.
    fn send_current(&mut self, now_ms: u64) {
        let Some(op) = self.current.clone() else {
            return;
        };
        let Some(destination) = self.destination else {
            self.awaiting_destination = true;
            return;
        };
        self.cseq += 1;
        let branch = self.next_branch();
        let (payload, answered_nonce, asked_expires) = self.build(&op, &branch, destination);
        let fresh_answer = answered_nonce.is_some() && self.progress.challenged;
        let reliable = destination.transport.is_reliable();
        let payload = Bytes::from(payload);
        self.transmits.push_back(Transmit {
            destination,
            payload: payload.clone(),
            retransmission: false,
        });
        self.pending = Some(Pending {
            cseq: self.cseq,
            branch,
            destination,
            tx: ClientTransaction::new(false, reliable, payload, now_ms),
            answered_nonce,
            fresh_answer,
            asked_expires,
        });
    }

    /// The lifetime asked for one of our contacts.
    fn contact_expires(&self, spec_expires: Option<u32>) -> Option<u32> {
        let e = spec_expires.or(self.cfg.expires);
        match (e, self.min_expires) {
            (Some(e), Some(m)) if e != 0 && e < m => Some(m),
            (None, Some(m)) => Some(m),
            (e, _) => e,
        }
    }

    /// Our contacts: the configured ones, or one derived from the local
    /// address (`sip:user@ip:port`, `;transport=tcp` over TCP).
    fn our_contacts(&self, transport: Transport) -> Vec<ContactSpec> {
        if !self.cfg.contacts.is_empty() {
            return self.cfg.contacts.clone();
        }
        let Some(local) = self.local else {
            return Vec::new();
        };
        let user = aor_user(&self.cfg.aor);
        let mut uri = String::with_capacity(48);
        uri.push_str("sip:");
        if let Some(u) = user {
            uri.push_str(&u);
            uri.push('@');
        }
        let _ = write!(uri, "{local}");
        if transport == Transport::Tcp {
            uri.push_str(";transport=tcp");
        }
        vec![ContactSpec {
            uri,
            q: None,
            expires: None,
        }]
    }

    /// Writes the request; returns it, the nonce its credentials answer,
    /// and the lifetime asked for our contacts.
    fn build(
        &mut self,
        op: &Operation,
        branch: &str,
        dest: Destination,
    ) -> (Vec<u8>, Option<String>, Option<u32>) {
        let mut w = MessageWriter::request("REGISTER", &self.request_uri);
        let transport = match dest.transport {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        };
        let sent_by = self
            .local
            .map(|a| a.to_string())
            .unwrap_or_else(|| "invalid.invalid".to_string());
        w.header_fmt(
            "Via",
            format_args!("SIP/2.0/{transport} {sent_by};branch={branch};rport"),
        );
        w.header("Max-Forwards", "70");
        w.header_fmt(
            "From",
            format_args!(
                "<{}>;tag={}",
                bare_uri(self.cfg.from.as_deref().unwrap_or(&self.cfg.aor)),
                self.from_tag
            ),
        );
        w.header_fmt("To", format_args!("<{}>", bare_uri(&self.cfg.aor)));
        w.header("Call-ID", &self.call_id);
        w.header_fmt("CSeq", format_args!("{} REGISTER", self.cseq));
        let mut asked = None;
        let mut header_expires = None;
        match op {
            Operation::Register | Operation::Unregister => {
                let removing = *op == Operation::Unregister;
                for c in self.our_contacts(dest.transport) {
                    let e = if removing {
                        Some(0)
                    } else {
                        self.contact_expires(c.expires)
                    };
                    if !removing {
                        asked = match (asked, e) {
                            (Some(a), Some(e)) => Some(std::cmp::min(a, e)),
                            (None, e) => e,
                            (a, None) => a,
                        };
                    }
                    self.write_contact(&mut w, &c.uri, c.q.as_deref(), e);
                }
                header_expires = if removing {
                    Some(0)
                } else {
                    self.contact_expires(None)
                };
            }
            Operation::Query => {}
            Operation::Remove(list) => {
                for uri in list {
                    self.write_contact(&mut w, uri, None, Some(0));
                }
                header_expires = Some(0);
            }
            Operation::RemoveAll => {
                w.header("Contact", "*");
                header_expires = Some(0);
            }
        }
        if let Some(e) = header_expires {
            w.header_fmt("Expires", format_args!("{e}"));
        }
        let mut answered = None;
        if let Some(password) = self.cfg.password.clone() {
            let cnonce = format!("{:016x}", self.rng.next_u64());
            if let Some(auth) = &mut self.auth {
                auth.nc += 1;
                let username = self
                    .cfg
                    .username
                    .clone()
                    .or_else(|| aor_user(&self.cfg.aor))
                    .unwrap_or_default();
                let creds = answer(
                    &auth.challenge,
                    &username,
                    &password,
                    RequestParts {
                        method: "REGISTER",
                        uri: &self.request_uri,
                        body: b"",
                    },
                    &cnonce,
                    auth.nc,
                );
                let name = match auth.kind {
                    ChallengeKind::Www => "Authorization",
                    ChallengeKind::Proxy => "Proxy-Authorization",
                };
                w.header_fmt(name, format_args!("{creds}"));
                answered = Some(auth.challenge.nonce.to_string());
            }
        }
        w.header("User-Agent", &self.cfg.user_agent);
        (w.finish(None, b""), answered, asked)
    }

    fn write_contact(&self, w: &mut MessageWriter, uri: &str, q: Option<&str>, e: Option<u32>) {
        w.header_start("Contact");
        let _ = write!(w, "<{}>", bare_uri(uri));
        if let Some(q) = q {
            let _ = write!(w, ";q={q}");
        }
        if let Some(e) = e {
            let _ = write!(w, ";expires={e}");
        }
        if let Some(i) = &self.cfg.instance {
            let _ = write!(w, ";+sip.instance=\"{i}\"");
        }
        if let Some(r) = self.cfg.reg_id {
            let _ = write!(w, ";reg-id={r}");
        }
        w.header_end();
    }

    // ----- responses -----------------------------------------------------

    fn on_success(
        &mut self,
        msg: &Message,
        code: u16,
        op: Operation,
        pending: &Pending,
        now_ms: u64,
    ) {
        let header_expires = msg
            .header(HeaderName::Expires)
            .and_then(parse_delta_seconds);
        let ours = self.our_contacts(pending.destination.transport);
        self.bindings.clear();
        for v in msg.header_values(HeaderName::Contact) {
            let Ok(na) = NameAddr::parse(v) else {
                continue;
            };
            let expires = na
                .params
                .get("expires")
                .flatten()
                .and_then(parse_delta_seconds)
                .or(header_expires);
            let q = na
                .params
                .get("q")
                .flatten()
                .filter(|q| parse_qvalue(q).is_some())
                .map(str::to_string);
            let is_ours = ours.iter().any(|c| uris_equivalent(&c.uri, na.uri));
            self.bindings.push(BindingInfo {
                contact: na.uri.to_string(),
                expires,
                q,
                ours: is_ours,
            });
        }
        self.consecutive_failures = 0;
        let mut granted = None;
        match op {
            Operation::Register => {
                granted = self
                    .bindings
                    .iter()
                    .filter(|b| b.ours)
                    .filter_map(|b| b.expires)
                    .min()
                    .or(header_expires)
                    .or(pending.asked_expires);
                self.registered = true;
                match granted {
                    Some(g) if g > 0 => {
                        self.expires_at = Some(now_ms + u64::from(g) * 1000);
                        if self.keep_alive {
                            self.refresh_at = Some(now_ms + refresh_delay_ms(g));
                        }
                    }
                    _ => {
                        // Nothing granted (or granted 0): nothing to refresh.
                        self.registered = false;
                        self.expires_at = None;
                        self.refresh_at = None;
                    }
                }
            }
            Operation::Unregister | Operation::RemoveAll => {
                self.registered = false;
                self.expires_at = None;
                self.refresh_at = None;
            }
            Operation::Remove(ref list) => {
                if ours
                    .iter()
                    .all(|c| list.iter().any(|r| uris_equivalent(r, &c.uri)))
                {
                    self.registered = false;
                    self.expires_at = None;
                    self.refresh_at = None;
                }
            }
            Operation::Query => {}
        }
        self.events.push_back(Event::Success {
            operation: op,
            code,
            granted,
        });
        self.finish_operation(now_ms);
    }

    fn on_redirect(&mut self, msg: &Message, now_ms: u64) {
        self.progress.redirects += 1;
        if self.progress.redirects > MAX_REDIRECTS {
            return self.fail_final(
                Failure::BadRedirect(format!("more than {MAX_REDIRECTS} redirections")),
                now_ms,
            );
        }
        // Follow the Contact with the highest q (the first among equals).
        let mut best: Option<(u16, String)> = None;
        for v in msg.header_values(HeaderName::Contact) {
            let Ok(na) = NameAddr::parse(v) else {
                continue;
            };
            let Ok(Uri::Sip(u)) = Uri::parse(na.uri) else {
                continue;
            };
            let q = na
                .params
                .get("q")
                .flatten()
                .and_then(parse_qvalue)
                .unwrap_or(1000);
            if !matches!(&best, Some((bq, _)) if q <= *bq) {
                let scheme = if u.secure { "sips" } else { "sip" };
                let mut target = format!("{scheme}:{}", u.host);
                if let Some(p) = u.port {
                    let _ = write!(target, ":{p}");
                }
                if !u.params.is_empty() {
                    let _ = write!(target, ";{}", u.params.as_str());
                }
                best = Some((q, target));
            }
        }
        let Some((_, target)) = best else {
            return self.fail_final(
                Failure::BadRedirect(format!(
                    "{} {} without a SIP Contact",
                    msg.status().unwrap_or(0),
                    msg.reason()
                )),
                now_ms,
            );
        };
        // The new request goes to the contact, which becomes the
        // Request-URI (§8.1.3.4); the shell resolves it.
        self.request_uri = target.clone();
        self.awaiting_destination = true;
        self.events.push_back(Event::Redirect { uri: target });
    }

    fn on_challenge(&mut self, msg: &Message, code: u16, pending: &Pending, now_ms: u64) {
        let (header, kind) = if code == 401 {
            ("WWW-Authenticate", ChallengeKind::Www)
        } else {
            ("Proxy-Authenticate", ChallengeKind::Proxy)
        };
        let challenges = Challenge::parse_all(msg.headers_named(header));
        let Some(best) = Challenge::strongest(&challenges) else {
            return self.fail_final(Failure::UnsupportedChallenge { code }, now_ms);
        };
        if self.cfg.password.is_none() {
            return self.fail_final(Failure::NoCredentials { code }, now_ms);
        }
        if pending.fresh_answer {
            // Our answer to a challenge of this operation was refused. Only
            // a stale nonce earns one more try (RFC 7616 §3.3).
            let same_nonce = pending.answered_nonce.as_deref() == Some(&*best.nonce);
            if !best.stale || same_nonce || self.progress.stale_retry_used {
                self.auth = None;
                return self.fail_final(
                    Failure::AuthenticationFailed {
                        code,
                        realm: best.realm.to_string(),
                    },
                    now_ms,
                );
            }
            self.progress.stale_retry_used = true;
        }
        self.progress.challenged = true;
        self.auth = Some(AuthCache {
            challenge: owned_challenge(best),
            kind,
            nc: 0,
        });
        self.send_current(now_ms);
    }

    fn on_interval_too_brief(&mut self, msg: &Message, pending: &Pending, now_ms: u64) {
        let min = msg
            .header_named_first("Min-Expires")
            .and_then(parse_delta_seconds);
        self.progress.interval_retries += 1;
        let usable = match (min, pending.asked_expires) {
            (Some(m), Some(asked)) => m > asked,
            (Some(m), None) => m > 0,
            (None, _) => false,
        };
        if !usable || self.progress.interval_retries > 3 {
            return self.fail_final(Failure::IntervalTooBrief { min_expires: min }, now_ms);
        }
        self.min_expires = min;
        self.send_current(now_ms);
    }

    // ----- failures ----------------------------------------------------

    fn fail_final(&mut self, failure: Failure, now_ms: u64) {
        let operation = self.current.clone().unwrap_or(Operation::Register);
        if operation == Operation::Register {
            self.refresh_at = None;
        }
        self.events.push_back(Event::Failed { operation, failure });
        self.finish_operation(now_ms);
    }

    /// A failure that a refreshing registration retries after a backoff
    /// (RFC 5626 §4.5); any other operation fails at once.
    fn fail_temporary(&mut self, failure: Failure, retry_after_s: Option<u32>, now_ms: u64) {
        let retrying =
            self.keep_alive && self.current == Some(Operation::Register) && self.queued.is_none();
        if !retrying {
            return self.fail_final(failure, now_ms);
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let mut wait = backoff_ms(self.consecutive_failures, self.rng.next_u64());
        if let Some(r) = retry_after_s {
            wait = wait.max(u64::from(r) * 1000);
        }
        let retry_at_ms = now_ms + wait;
        self.retry_at = Some(retry_at_ms);
        self.refresh_at = None;
        self.events.push_back(Event::Retrying {
            failure,
            retry_at_ms,
        });
    }
}

/// When to refresh a registration granted `granted_s` seconds: halfway
/// through for lifetimes under 1200 s, otherwise 600 s before expiry (the
/// rule RFC 8599 / 3GPP UAs use; never later than half the lifetime
/// otherwise, never 0).
pub fn refresh_delay_ms(granted_s: u32) -> u64 {
    let g = u64::from(granted_s) * 1000;
    let d = if granted_s < 1200 { g / 2 } else { g - 600_000 };
    d.max(1)
}

/// RFC 5626 §4.5: `min(max-time, base-time * 2^failures)`, then a random
/// point between 50 % and 100 % of it (`random` is any random u64).
pub fn backoff_ms(consecutive_failures: u32, random: u64) -> u64 {
    let exp = consecutive_failures.min(16);
    let wait_s = (BACKOFF_BASE_S << exp).min(BACKOFF_MAX_S);
    let wait = wait_s * 1000;
    wait / 2 + random % (wait / 2 + 1)
}

trait HeaderNamedFirst {
    fn header_named_first<'a>(&'a self, name: &'a str) -> Option<&'a str>;
}

impl HeaderNamedFirst for Message {
    fn header_named_first<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.headers_named(name).next()
    }
}
