//! The checks shared by the `parse` fuzz target and the short corpus run in
//! `crates/sip-message/tests/fuzz_corpus.rs` (included there with `#[path]`).
//!
//! Nothing here may panic on any input except through the assertions, which
//! state invariants of the parser:
//! * every URI that parses is equivalent to itself (RFC 3261 §19.1.4 is an
//!   equivalence relation), and a SIP URI's canonical AOR keeps its scheme;
//! * the body of a parsed message is a slice of the input;
//! * the stream framer cuts the same frames, in the same order, whether the
//!   bytes arrive one at a time, seven at a time or all at once.

use bytes::Bytes;
use sip_message::headers::{
    parse_contacts, parse_delta_seconds, parse_qvalue, CSeq, ContactList, Via,
};
use sip_message::{Frame, HeaderName, Limits, Message, NameAddr, ParseError, StreamFramer, Uri};

/// Headers whose values are name-addrs (one per comma-separated item).
const NAME_ADDR_LISTS: &[HeaderName] = &[
    HeaderName::Contact,
    HeaderName::Route,
    HeaderName::RecordRoute,
    HeaderName::Path,
];

/// Headers that may appear once.
const SINGLETONS: &[HeaderName] = &[
    HeaderName::To,
    HeaderName::From,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentLength,
    HeaderName::Expires,
];

/// Runs every check on one input.
pub fn check_input(data: &[u8]) {
    let limits = Limits::default();
    let buf = Bytes::copy_from_slice(data);
    if let Ok(msg) = Message::parse(buf.clone(), &limits) {
        check_message(&msg, data.len());
    }
    if let Ok(msg) = Message::parse_framed(buf, &limits) {
        check_message(&msg, data.len());
    }
    check_stream(data, &limits);
}

/// Exercises every typed parser on the headers of a parsed message.
fn check_message(msg: &Message, input_len: usize) {
    assert!(msg.body().len() <= input_len, "body longer than the input");
    let _ = (
        msg.method(),
        msg.method_str(),
        msg.status(),
        msg.reason(),
        msg.header_count(),
    );
    if msg.is_request() {
        check_uri(msg.request_uri());
    }
    // Every header line is found again under the name it was written with,
    // and a known header under its mapped name.
    for (name, mapped, value) in msg.header_lines() {
        assert!(msg.headers_named(name).any(|v| v == value), "{name:?} lost");
        assert!(mapped == HeaderName::Other || msg.headers(mapped).any(|v| v == value));
    }
    for name in SINGLETONS {
        let _ = msg.single_header(*name);
    }
    for value in msg.header_values(HeaderName::Via) {
        if let Ok(via) = Via::parse(value) {
            let _ = (
                via.branch(),
                via.has_rfc3261_branch(),
                via.params.iter().count(),
            );
            assert!(
                !via.host_str.is_empty(),
                "Via with an empty host: {value:?}"
            );
        }
    }
    if let Some(cseq) = msg.header(HeaderName::CSeq) {
        if let Ok(c) = CSeq::parse(cseq) {
            assert!(c.seq < 1 << 31);
        }
    }
    for name in [HeaderName::To, HeaderName::From] {
        for value in msg.headers(name) {
            check_name_addr(value);
        }
    }
    for name in NAME_ADDR_LISTS {
        for value in msg.header_values(*name) {
            check_name_addr(value);
        }
    }
    if let Ok(ContactList::List(contacts)) = parse_contacts(msg.header_values(HeaderName::Contact))
    {
        for c in contacts {
            if let Some(Some(q)) = c.params.get("q") {
                let _ = parse_qvalue(q);
            }
            if let Some(Some(e)) = c.params.get("expires") {
                let _ = parse_delta_seconds(e);
            }
        }
    }
    for name in [
        HeaderName::Expires,
        HeaderName::MaxForwards,
        HeaderName::MinExpires,
    ] {
        if let Some(v) = msg.header(name) {
            let _ = parse_delta_seconds(v);
        }
    }
}

/// NameAddr parse, its accessors, and the URI inside it.
fn check_name_addr(value: &str) {
    if let Ok(na) = NameAddr::parse(value) {
        let _ = (
            na.display_name(),
            na.tag(),
            na.params.iter().count(),
            na.params.validate(),
        );
        check_uri(na.uri);
    }
}

/// Uri parse and the invariants of a URI that parsed.
fn check_uri(text: &str) {
    let Ok(uri) = Uri::parse(text) else { return };
    assert!(
        uri.equivalent(&uri),
        "URI not equivalent to itself: {text:?}"
    );
    if let Some(sip) = uri.as_sip() {
        assert!(
            sip.equivalent(sip),
            "SIP URI not equivalent to itself: {text:?}"
        );
        if let Some(aor) = sip.canonical_aor() {
            let scheme = if sip.secure { "sips:" } else { "sip:" };
            assert!(
                aor.starts_with(scheme),
                "AOR {aor:?} of {text:?} lost its scheme"
            );
        }
        let _ = (
            sip.host_lowercase(),
            sip.params.iter().count(),
            sip.params.validate(),
        );
    }
}

/// What the framer produced: the frames in order, then the error if any.
type StreamOutcome = (Vec<Frame>, Option<ParseError>);

/// Feeds `data` to a framer in `chunk`-byte reads, draining it after each.
fn frame_in_chunks(data: &[u8], chunk: usize, limits: &Limits) -> StreamOutcome {
    let mut framer = StreamFramer::new(*limits);
    let mut frames = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        framer.push(piece);
        loop {
            match framer.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

/// The framer in 1-, 7- and whole-size chunks, and a parse of every frame.
fn check_stream(data: &[u8], limits: &Limits) {
    let whole = frame_in_chunks(data, data.len(), limits);
    for frame in &whole.0 {
        if let Frame::Message(bytes) = frame {
            if let Ok(msg) = Message::parse_framed(bytes.clone(), limits) {
                check_message(&msg, bytes.len());
            }
        }
    }
    // Past the size limit an incomplete header is refused as soon as the
    // buffer outgrows it, which depends on how much arrived at once.
    if data.len() > limits.max_message_size {
        return;
    }
    for chunk in [1, 7] {
        let split = frame_in_chunks(data, chunk, limits);
        assert_eq!(
            split, whole,
            "framing differs between {chunk}-byte reads and one read"
        );
    }
}
