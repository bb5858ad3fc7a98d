//! Header names: the ones the protocol core looks at get their own variant
//! (compact forms mapped to them), every other name is kept as text.

/// A header name, case-insensitive, with compact forms (RFC 3261 §7.3.3 and
/// the extensions that define one) mapped to the long form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderName {
    /// `Via` / `v`
    Via,
    /// `From` / `f`
    From,
    /// `To` / `t`
    To,
    /// `Call-ID` / `i`
    CallId,
    /// `CSeq`
    CSeq,
    /// `Contact` / `m`
    Contact,
    /// `Content-Length` / `l`
    ContentLength,
    /// `Content-Type` / `c`
    ContentType,
    /// `Content-Encoding` / `e`
    ContentEncoding,
    /// `Expires`
    Expires,
    /// `Max-Forwards`
    MaxForwards,
    /// `Require`
    Require,
    /// `Proxy-Require`
    ProxyRequire,
    /// `Supported` / `k`
    Supported,
    /// `Unsupported`
    Unsupported,
    /// `Allow`
    Allow,
    /// `Record-Route`
    RecordRoute,
    /// `Route`
    Route,
    /// `Path`
    Path,
    /// `User-Agent`
    UserAgent,
    /// `Server`
    Server,
    /// `Date`
    Date,
    /// `Min-Expires`
    MinExpires,
    /// `Timestamp`
    Timestamp,
    /// `Authorization`
    Authorization,
    /// `Proxy-Authorization`
    ProxyAuthorization,
    /// `WWW-Authenticate`
    WwwAuthenticate,
    /// `Proxy-Authenticate`
    ProxyAuthenticate,
    /// `Subject` / `s`
    Subject,
    /// `Event` / `o`
    Event,
    /// `Allow-Events` / `u`
    AllowEvents,
    /// `Refer-To` / `r`
    ReferTo,
    /// `Referred-By` / `b`
    ReferredBy,
    /// `Session-Expires` / `x`
    SessionExpires,
    /// `Identity` / `y`
    Identity,
    /// Any other header; its name is read from the message.
    Other,
}

/// (canonical spelling, compact letter, variant) for every known header.
const KNOWN: &[(&str, Option<u8>, HeaderName)] = &[
    ("Via", Some(b'v'), HeaderName::Via),
    ("From", Some(b'f'), HeaderName::From),
    ("To", Some(b't'), HeaderName::To),
    ("Call-ID", Some(b'i'), HeaderName::CallId),
    ("CSeq", None, HeaderName::CSeq),
    ("Contact", Some(b'm'), HeaderName::Contact),
    ("Content-Length", Some(b'l'), HeaderName::ContentLength),
    ("Content-Type", Some(b'c'), HeaderName::ContentType),
    ("Content-Encoding", Some(b'e'), HeaderName::ContentEncoding),
    ("Expires", None, HeaderName::Expires),
    ("Max-Forwards", None, HeaderName::MaxForwards),
    ("Require", None, HeaderName::Require),
    ("Proxy-Require", None, HeaderName::ProxyRequire),
    ("Supported", Some(b'k'), HeaderName::Supported),
    ("Unsupported", None, HeaderName::Unsupported),
    ("Allow", None, HeaderName::Allow),
    ("Record-Route", None, HeaderName::RecordRoute),
    ("Route", None, HeaderName::Route),
    ("Path", None, HeaderName::Path),
    ("User-Agent", None, HeaderName::UserAgent),
    ("Server", None, HeaderName::Server),
    ("Date", None, HeaderName::Date),
    ("Min-Expires", None, HeaderName::MinExpires),
    ("Timestamp", None, HeaderName::Timestamp),
    ("Authorization", None, HeaderName::Authorization),
    ("Proxy-Authorization", None, HeaderName::ProxyAuthorization),
    ("WWW-Authenticate", None, HeaderName::WwwAuthenticate),
    ("Proxy-Authenticate", None, HeaderName::ProxyAuthenticate),
    ("Subject", Some(b's'), HeaderName::Subject),
    ("Event", Some(b'o'), HeaderName::Event),
    ("Allow-Events", Some(b'u'), HeaderName::AllowEvents),
    ("Refer-To", Some(b'r'), HeaderName::ReferTo),
    ("Referred-By", Some(b'b'), HeaderName::ReferredBy),
    ("Session-Expires", Some(b'x'), HeaderName::SessionExpires),
    ("Identity", Some(b'y'), HeaderName::Identity),
];

impl HeaderName {
    /// Maps a header name as written in a message (any case, compact or
    /// long) to its variant; unknown names give [`HeaderName::Other`].
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        if name.len() == 1 {
            let c = name[0].to_ascii_lowercase();
            for (_, compact, h) in KNOWN {
                if *compact == Some(c) {
                    return *h;
                }
            }
            return HeaderName::Other;
        }
        for (long, _, h) in KNOWN {
            if long.len() == name.len() && long.as_bytes().eq_ignore_ascii_case(name) {
                return *h;
            }
        }
        HeaderName::Other
    }

    /// The canonical long spelling, used when locus writes the header.
    pub fn as_str(&self) -> &'static str {
        for (long, _, h) in KNOWN {
            if h == self {
                return long;
            }
        }
        ""
    }
}
