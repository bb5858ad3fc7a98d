//! The checks every request must pass before any decision (RFC 3261
//! §8.1.1, §8.2), and the methods the server knows.

use crate::reply::Reply;
use sip_message::headers::{parse_contacts, CSeq, ContactList};
use sip_message::{HeaderName, Message, ParseError, Uri};

/// Methods defined by RFC 3261 and its extensions: known, so a request
/// with one that the server does not handle gets 405; any other gets 501.
pub(crate) const KNOWN_METHODS: &[&str] = &[
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

/// RFC 3261 §8.2.2.3: a request the server answers itself that requires
/// an extension it does not support gets 420 listing them in
/// `Unsupported`; `None` when every required extension is supported.
pub fn unsupported_required(req: &Message) -> Option<Reply> {
    let unsupported: Vec<&str> = req
        .header_values(HeaderName::Require)
        .filter(|t| !crate::SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .collect();
    (!unsupported.is_empty()).then(|| {
        Reply::new(420, "Bad Extension").with_header("Unsupported", unsupported.join(", "))
    })
}
