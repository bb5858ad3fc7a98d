//! Responses built from the request they answer (RFC 3261 §8.2.6): Via,
//! From, Call-ID and CSeq copied, a To-tag added, and the top Via marked
//! with `received` / `rport` (§18.2.1, RFC 3581) so it can be routed back.

use crate::reply::Reply;
use crate::rng::Rng;
use sip_message::headers::Via;
use sip_message::{HeaderName, Message, MessageWriter};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::SocketAddr;

/// Derives a To-tag from the request's dialog identifiers, so a response
/// rebuilt for the same request carries the same tag. Keyed from the
/// endpoint's random input so tags are not predictable from outside.
#[derive(Debug, Clone)]
pub struct TagGenerator {
    keys: ahash::RandomState,
}

impl TagGenerator {
    /// A generator keyed from `rng`.
    pub fn new(rng: &mut Rng) -> TagGenerator {
        TagGenerator { keys: rng.hasher() }
    }

    /// The To-tag for `req`.
    pub fn tag_for(&self, req: &Message) -> String {
        let mut h = self.keys.build_hasher();
        req.header(HeaderName::CallId).hash(&mut h);
        req.header(HeaderName::From).hash(&mut h);
        req.header(HeaderName::CSeq).hash(&mut h);
        crate::text::hex16(h.finish())
    }
}

/// Starts a response to `req`: status line, Via (top one marked with
/// `received`/`rport` for `source`), From, To (with `to_tag` added when the
/// request had none), Call-ID, CSeq and Server. The caller adds its own
/// headers and calls [`MessageWriter::finish`].
pub fn start_response(
    req: &Message,
    code: u16,
    reason: &str,
    source: SocketAddr,
    to_tag: &str,
) -> MessageWriter {
    start_response_to(req, code, reason, source, to_tag).0
}

/// [`start_response`], and where the response goes over an unreliable
/// transport ([`response_destination`]), from the top Via parsed once.
pub fn start_response_to(
    req: &Message,
    code: u16,
    reason: &str,
    source: SocketAddr,
    to_tag: &str,
) -> (MessageWriter, SocketAddr) {
    let mut w = MessageWriter::response(code, reason);
    let mut dest = None;
    let mut first = true;
    for line in req.headers(HeaderName::Via) {
        if first {
            first = false;
            dest = write_top_via(&mut w, line, source);
        } else {
            w.header("Via", line);
        }
    }
    if let Some(from) = req.header(HeaderName::From) {
        w.header("From", from);
    }
    if let Some(to) = req.header(HeaderName::To) {
        let has_tag = sip_message::NameAddr::parse(to)
            .map(|n| n.tag().is_some())
            .unwrap_or(true);
        if has_tag || code == 100 {
            w.header("To", to);
        } else {
            // Unsanitized, as the value is the request's own header.
            w.header_start("To")
                .raw(to.as_bytes())
                .raw(b";tag=")
                .raw(to_tag.as_bytes())
                .header_end();
        }
    }
    if let Some(call_id) = req.header(HeaderName::CallId) {
        w.header("Call-ID", call_id);
    }
    if let Some(cseq) = req.header(HeaderName::CSeq) {
        w.header("CSeq", cseq);
    }
    w.header("Server", crate::SERVER_NAME);
    let dest = dest.unwrap_or_else(|| response_destination(req, source));
    (w, dest)
}

/// Writes `reply` as the response to `req` received from `source`, with
/// `to_tag` added to a To without one; and where it goes over an
/// unreliable transport ([`response_destination`]).
pub fn write_reply(
    req: &Message,
    source: SocketAddr,
    reply: &Reply,
    to_tag: &str,
) -> (Vec<u8>, SocketAddr) {
    let (mut w, dest) = start_response_to(req, reply.code, &reply.reason, source, to_tag);
    for (name, value) in &reply.headers {
        w.header(name, value);
    }
    (w.finish(None, b""), dest)
}

/// Writes the first Via line with `received` and `rport` filled in. A line
/// may carry several Via values: only the first one is changed. Returns
/// the [`response_destination`] when the first value parsed.
pub(crate) fn write_top_via(
    w: &mut MessageWriter,
    line: &str,
    source: SocketAddr,
) -> Option<SocketAddr> {
    let mut values = sip_message::headers::split_list(line);
    let Some(top) = values.next() else {
        w.header("Via", line);
        return None;
    };
    w.header_start("Via");
    let dest = match Via::parse(top) {
        Ok(via) => {
            let rport = write_marked_via(w, top, &via, source);
            Some(destination_of(via.port, rport, source))
        }
        Err(_) => {
            w.raw(top.as_bytes());
            None
        }
    };
    for v in values {
        w.raw(b", ").raw(v.as_bytes());
    }
    w.header_end();
    dest
}

/// Writes the Via value `top` (parsed as `via`) with its parameters
/// rebuilt: an empty rport dropped, `received`/`rport` added for `source`.
/// Returns whether the Via asked for `rport`.
fn write_marked_via(w: &mut MessageWriter, top: &str, via: &Via<'_>, source: SocketAddr) -> bool {
    let ip = source.ip();
    let mut rport = false;
    let head_end = top.find(';').unwrap_or(top.len());
    w.raw(top[..head_end].trim_end().as_bytes());
    for (name, value) in via.params.iter() {
        if name.eq_ignore_ascii_case("rport") {
            rport = true;
            continue;
        }
        if name.eq_ignore_ascii_case("received") {
            continue;
        }
        w.raw(b";").raw(name.as_bytes());
        if let Some(v) = value {
            w.raw(b"=").raw(v.as_bytes());
        }
    }
    let sent_by_matches = match via.host {
        sip_message::Host::V4(a) => std::net::IpAddr::V4(a) == ip,
        sip_message::Host::V6(a) => std::net::IpAddr::V6(a) == ip,
        sip_message::Host::Name(_) => false,
    };
    if rport || !sent_by_matches {
        w.raw(b";received=")
            .raw(crate::text::AddrText::ip(ip).as_str().as_bytes());
    }
    if rport {
        w.raw(b";rport=")
            .raw(itoa::Buffer::new().format(source.port()).as_bytes());
    }
    rport
}

/// Where a response to `req` must go over an unreliable transport (RFC 3261
/// §18.2.2 with RFC 3581): to the source port when `rport` was asked for,
/// else to the source address and the port in the top Via's sent-by.
pub fn response_destination(req: &Message, source: SocketAddr) -> SocketAddr {
    let Some(top) = req.header_values(HeaderName::Via).next() else {
        return source;
    };
    match Via::parse(top) {
        Ok(via) => destination_of(via.port, via.params.has("rport"), source),
        Err(_) => source,
    }
}

/// [`response_destination`] for a top Via with sent-by port `port`,
/// asking for `rport` or not.
fn destination_of(port: Option<u16>, rport: bool, source: SocketAddr) -> SocketAddr {
    if rport {
        source
    } else {
        SocketAddr::new(source.ip(), port.unwrap_or(5060))
    }
}

/// The error response for bytes that did not parse as a message, built
/// from whatever Via, From, To, Call-ID and CSeq lines can be found, so the
/// sender learns the defect: 505 for an unsupported SIP version, 513 for a
/// message or header line over the size limits (§21.5.14), else 400
/// naming the defect. `None` for responses, ACKs, and input without a Via
/// line (no way to route an answer).
pub fn fallback_error_response(
    raw: &[u8],
    err: sip_message::ParseError,
    to_tag: &str,
) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n").skip_while(|l| l.is_empty());
    let start = lines.next()?;
    if start.starts_with("SIP/") || start.starts_with("ACK ") {
        return None;
    }
    let mut w = match err {
        sip_message::ParseError::BadVersion => {
            MessageWriter::response(505, "Version Not Supported")
        }
        sip_message::ParseError::MessageTooLarge | sip_message::ParseError::LineTooLong => {
            MessageWriter::response(513, "Message Too Large")
        }
        _ => MessageWriter::response(400, &err.to_string()),
    };
    let mut have_via = false;
    let mut to_written = false;
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match HeaderName::from_bytes(name.trim().as_bytes()) {
            HeaderName::Via => {
                have_via = true;
                w.header("Via", value);
            }
            HeaderName::From => {
                w.header("From", value);
            }
            HeaderName::To if !to_written => {
                to_written = true;
                if value.contains(";tag=") {
                    w.header("To", value);
                } else {
                    w.header_fmt("To", format_args!("{};tag={to_tag}", clean(value)));
                }
            }
            HeaderName::CallId => {
                w.header("Call-ID", value);
            }
            HeaderName::CSeq => {
                w.header("CSeq", value);
            }
            _ => {}
        }
    }
    if !have_via {
        return None;
    }
    w.header("Server", crate::SERVER_NAME);
    Some(w.finish(None, b""))
}

fn clean(v: &str) -> std::borrow::Cow<'_, str> {
    sip_message::serialize::sanitize(v)
}
