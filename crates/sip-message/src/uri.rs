//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), parsed as views of the
//! original text, with the comparison rules of RFC 3261 §19.1.4 and the
//! canonical address-of-record form of §10.3 step 5.

use crate::error::ParseError;
use crate::params::Params;
use crate::scan::{hex_val, split_outside_quotes};
use std::net::{Ipv4Addr, Ipv6Addr};

/// An absolute URI as SIP carries it in Request-URIs, To, From and Contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:` (RFC 3966).
    Tel(TelUri<'a>),
    /// Any other scheme (`mailto:`, `http:`, ...), kept opaque.
    Other {
        /// The scheme as written.
        scheme: &'a str,
        /// Everything after the colon.
        rest: &'a str,
    },
}

/// The host part of a SIP URI or Via sent-by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name, as written (compare case-insensitively).
    Name(&'a str),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written as a bracketed reference).
    V6(Ipv6Addr),
}

impl std::fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// True for `sips:`.
    pub secure: bool,
    /// The user part, still escaped, if any.
    pub user: Option<&'a str>,
    /// The password part, still escaped, if any.
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, if written.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Params<'a>,
    /// URI headers, the raw text after `?` ("" when absent).
    pub headers: &'a str,
}

/// A `tel:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The telephone number as written.
    pub number: &'a str,
    /// Its parameters.
    pub params: Params<'a>,
}

/// RFC 3261 `reserved`: characters whose escaped and plain forms differ.
fn is_reserved(b: u8) -> bool {
    b";/?:@&=+$,".contains(&b)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
}

/// Checks that `s` holds only unreserved characters, `extra`, and valid escapes.
fn check_chars(s: &str, extra: &[u8]) -> Result<(), ParseError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            match (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            ) {
                (Some(_), Some(_)) => i += 3,
                _ => return Err(ParseError::BadEscape),
            }
            continue;
        }
        if !(is_unreserved(c) || extra.contains(&c)) {
            return Err(ParseError::BadUri);
        }
        i += 1;
    }
    Ok(())
}

/// Parses a host (name, IPv4, or bracketed IPv6 reference).
pub fn parse_host(s: &str) -> Result<Host<'_>, ParseError> {
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(ParseError::BadHost)?;
        return parse_ipv6(inner).map(Host::V6).ok_or(ParseError::BadHost);
    }
    if s.is_empty() {
        return Err(ParseError::BadHost);
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s
            .parse::<Ipv4Addr>()
            .map(Host::V4)
            .map_err(|_| ParseError::BadHost);
    }
    let labels = s.strip_suffix('.').unwrap_or(s);
    for label in labels.split('.') {
        let lb = label.as_bytes();
        if lb.is_empty()
            || !lb.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            || lb[0] == b'-'
            || lb[lb.len() - 1] == b'-'
        {
            return Err(ParseError::BadHost);
        }
    }
    // The top label must start with a letter (RFC 3261 toplabel).
    let top = labels.rsplit('.').next().unwrap_or("");
    if !top.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(ParseError::BadHost);
    }
    Ok(Host::Name(s))
}

/// Parses the address inside an IPv6 reference. Besides the RFC 4291 text
/// forms, the one RFC 3261's faulty ABNF produces, three colons before an
/// embedded IPv4 address (`2001:db8:::192.0.2.1`), is read as the two-colon
/// address it stands for (RFC 5118 §4.10, RFC 5954 §4.1).
fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    if let Ok(a) = s.parse() {
        return Some(a);
    }
    let (head, v4) = s.split_once(":::")?;
    if head.contains("::") || v4.contains(':') || !v4.contains('.') {
        return None;
    }
    format!("{head}::{v4}").parse().ok()
}

/// Splits `host[:port]` where host may be a bracketed IPv6 reference.
pub fn parse_hostport(s: &str) -> Result<(Host<'_>, Option<u16>), ParseError> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or(ParseError::BadHost)?;
        let rest = &s[close + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p),
            None if rest.is_empty() => None,
            None => return Err(ParseError::BadHost),
        };
        (&s[..=close], port)
    } else {
        match s.rfind(':') {
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(
            crate::scan::parse_decimal(p, 5)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or(ParseError::BadPort)?,
        ),
        None => None,
    };
    Ok((parse_host(host)?, port))
}

impl<'a> Uri<'a> {
    /// Parses an absolute URI. Whitespace, control characters and malformed
    /// escapes are rejected; SIP and tel URIs are parsed fully.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, ParseError> {
        if s.bytes()
            .any(|b| b <= b' ' || b >= 0x7f || b == b'<' || b == b'>' || b == b'"')
        {
            return Err(ParseError::BadUri);
        }
        let colon = s.find(':').ok_or(ParseError::BadUri)?;
        let scheme = &s[..colon];
        let rest = &s[colon + 1..];
        let sb = scheme.as_bytes();
        if sb.is_empty()
            || !sb[0].is_ascii_alphabetic()
            || !sb
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
        {
            return Err(ParseError::BadUri);
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            return SipUri::parse_rest(scheme.len() == 4, rest).map(Uri::Sip);
        }
        if scheme.eq_ignore_ascii_case("tel") {
            let (number, params) = match rest.find(';') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            if number.is_empty()
                || !number.bytes().all(|b| {
                    b.is_ascii_hexdigit() || b"+-.()*#pw".contains(&b.to_ascii_lowercase())
                })
            {
                return Err(ParseError::BadUri);
            }
            let params = Params::new(params);
            params.validate()?;
            return Ok(Uri::Tel(TelUri { number, params }));
        }
        if rest.is_empty() {
            return Err(ParseError::BadUri);
        }
        Ok(Uri::Other { scheme, rest })
    }

    /// The SIP/SIPS URI, if it is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// URI equivalence: RFC 3261 §19.1.4 for SIP/SIPS, RFC 3966 §4 for tel,
    /// case-insensitive scheme and exact text for any other scheme.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => {
                let digits = |n: &str| {
                    n.bytes()
                        .filter(|b| !b"-.()".contains(b))
                        .map(|b| b.to_ascii_lowercase())
                        .collect::<Vec<u8>>()
                };
                digits(a.number) == digits(b.number) && same_param_set(&a.params, &b.params)
            }
            (
                Uri::Other {
                    scheme: s1,
                    rest: r1,
                },
                Uri::Other {
                    scheme: s2,
                    rest: r2,
                },
            ) => s1.eq_ignore_ascii_case(s2) && r1 == r2,
            _ => false,
        }
    }
}

fn same_param_set(a: &Params<'_>, b: &Params<'_>) -> bool {
    let count = |p: &Params<'_>| p.iter().count();
    count(a) == count(b)
        && a.iter().all(|(n, v)| match b.get(n) {
            Some(w) => opt_norm_eq(v, w, true),
            None => false,
        })
}

fn opt_norm_eq(a: Option<&str>, b: Option<&str>, ignore_case: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => norm_eq(x, y, ignore_case),
        _ => false,
    }
}

/// One character of a URI component after escape normalization: escapes of
/// unreserved characters are decoded, escapes of reserved ones kept.
#[derive(PartialEq, Eq)]
enum Unit {
    Plain(u8),
    Escaped(u8),
}

fn units(s: &str, ignore_case: bool) -> impl Iterator<Item = Unit> + '_ {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = *b.get(i)?;
        if c == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            ) {
                i += 3;
                let v = h * 16 + l;
                return Some(if is_reserved(v) {
                    Unit::Escaped(v)
                } else if ignore_case {
                    Unit::Plain(v.to_ascii_lowercase())
                } else {
                    Unit::Plain(v)
                });
            }
        }
        i += 1;
        Some(Unit::Plain(if ignore_case {
            c.to_ascii_lowercase()
        } else {
            c
        }))
    })
}

fn norm_eq(a: &str, b: &str, ignore_case: bool) -> bool {
    units(a, ignore_case).eq(units(b, ignore_case))
}

/// Decodes every `%XX` escape; `None` if the result is not UTF-8.
pub fn unescape(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.contains('%') {
        return Some(std::borrow::Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1).copied().and_then(hex_val)?;
            let l = b.get(i + 2).copied().and_then(hex_val)?;
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(std::borrow::Cow::Owned)
}

/// URI parameters that make two URIs differ when only one carries them
/// (RFC 3261 §19.1.4, including its `transport` example).
const STRICT_PARAMS: &[&str] = &["user", "ttl", "method", "maddr", "transport"];

impl<'a> SipUri<'a> {
    fn parse_rest(secure: bool, rest: &'a str) -> Result<SipUri<'a>, ParseError> {
        let (userinfo, hostpart) = match rest.find('@') {
            Some(at) => {
                if rest[at + 1..].contains('@') {
                    return Err(ParseError::BadUri);
                }
                (Some(&rest[..at]), &rest[at + 1..])
            }
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(ui) => {
                let (u, p) = match ui.find(':') {
                    Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(ParseError::BadUri);
                }
                check_chars(u, b"&=+$,;?/")?;
                if let Some(p) = p {
                    check_chars(p, b"&=+$,")?;
                }
                (Some(u), p)
            }
            None => (None, None),
        };
        let (before_headers, headers) = match hostpart.find('?') {
            Some(q) => (&hostpart[..q], &hostpart[q + 1..]),
            None => (hostpart, ""),
        };
        let (hostport, params) = match before_headers.find(';') {
            Some(s) => (&before_headers[..s], &before_headers[s + 1..]),
            None => (before_headers, ""),
        };
        let (host, port) = parse_hostport(hostport)?;
        for p in params.split(';') {
            if params.is_empty() {
                break;
            }
            let (n, v) = match p.find('=') {
                Some(eq) => (&p[..eq], Some(&p[eq + 1..])),
                None => (p, None),
            };
            if n.is_empty() || v == Some("") {
                return Err(ParseError::BadParameter);
            }
            check_chars(n, b"[]/:&+$")?;
            if let Some(v) = v {
                check_chars(v, b"[]/:&+$")?;
            }
        }
        if !headers.is_empty() {
            for h in headers.split('&') {
                let eq = h.find('=').ok_or(ParseError::BadUri)?;
                if eq == 0 {
                    return Err(ParseError::BadUri);
                }
                check_chars(&h[..eq], b"[]/?:+$")?;
                check_chars(&h[eq + 1..], b"[]/?:+$")?;
            }
        }
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params: Params::new(params),
            headers,
        })
    }

    /// The canonical address-of-record of RFC 3261 §10.3 step 5: scheme,
    /// unescaped user, lower-case host and port, with every parameter,
    /// password and header removed. Escapes are decoded except those of
    /// control characters and `%`, which stay escaped (`%00`, `%0A`, `%25`)
    /// so the key is printable and still one-to-one. `None` if the user
    /// decodes to something that is not UTF-8.
    pub fn canonical_aor(&self) -> Option<String> {
        let mut out = String::with_capacity(48);
        out.push_str(if self.secure { "sips:" } else { "sip:" });
        if let Some(u) = self.user {
            out.push_str(&canonical_user(u)?);
            out.push('@');
        }
        match self.host {
            Host::Name(n) => {
                let n = n.strip_suffix('.').unwrap_or(n);
                out.extend(n.chars().map(|c| c.to_ascii_lowercase()));
            }
            h => out.push_str(&h.to_string()),
        }
        if let Some(p) = self.port {
            out.push(':');
            out.push_str(&p.to_string());
        }
        Some(out)
    }

    /// The host in lower case, without brackets for IPv6 (for domain checks).
    pub fn host_lowercase(&self) -> String {
        match self.host {
            Host::Name(n) => n.strip_suffix('.').unwrap_or(n).to_ascii_lowercase(),
            Host::V4(a) => a.to_string(),
            Host::V6(a) => a.to_string(),
        }
    }

    /// RFC 3261 §19.1.4 equivalence.
    pub fn equivalent(&self, other: &SipUri<'_>) -> bool {
        if self.secure != other.secure {
            return false;
        }
        let userinfo_eq = |a: Option<&str>, b: Option<&str>| opt_norm_eq(a, b, false);
        if !userinfo_eq(self.user, other.user) || !userinfo_eq(self.password, other.password) {
            return false;
        }
        let host_eq = match (self.host, other.host) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a), Host::V6(b)) => a == b,
            _ => false,
        };
        if !host_eq || self.port != other.port {
            return false;
        }
        // Parameter names compare case-insensitively and after decoding
        // escapes of unreserved characters (`;%75ser=phone` is `;user=phone`).
        let strict = |name: &str| STRICT_PARAMS.iter().any(|s| norm_eq(s, name, true));
        for (name, value) in self.params.iter() {
            match find_param(&other.params, name) {
                Some(v2) if !opt_norm_eq(value, v2, true) => return false,
                Some(_) => {}
                None if strict(name) => return false,
                None => {}
            }
        }
        for (name, _) in other.params.iter() {
            if find_param(&self.params, name).is_none() && strict(name) {
                return false;
            }
        }
        headers_equal(self.headers, other.headers)
    }
}

/// The user part in canonical form: escapes decoded, except control
/// characters and `%` which are kept as upper-case `%XX`.
fn canonical_user(u: &str) -> Option<String> {
    let b = u.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1).copied().and_then(hex_val)?;
            let l = b.get(i + 2).copied().and_then(hex_val)?;
            let v = h * 16 + l;
            if v < 0x20 || v == 0x7f || v == b'%' {
                out.extend_from_slice(format!("%{v:02X}").as_bytes());
            } else {
                out.push(v);
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The value of the parameter whose name equals `name` once escapes and
/// case are normalised.
fn find_param<'p>(params: &Params<'p>, name: &str) -> Option<Option<&'p str>> {
    params
        .iter()
        .find(|(n, _)| norm_eq(n, name, true))
        .map(|(_, v)| v)
}

fn headers_equal(a: &str, b: &str) -> bool {
    let split = |s: &str| -> Vec<(String, String)> {
        split_outside_quotes(s, b'&')
            .filter(|h| !h.is_empty())
            .map(|h| {
                let (n, v) = h.split_once('=').unwrap_or((h, ""));
                (n.to_ascii_lowercase(), v.to_string())
            })
            .collect()
    };
    let (ha, hb) = (split(a), split(b));
    ha.len() == hb.len()
        && ha
            .iter()
            .all(|(n, v)| hb.iter().any(|(n2, v2)| n == n2 && norm_eq(v, v2, false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: &str, b: &str) -> bool {
        let (ua, ub) = (Uri::parse(a).unwrap(), Uri::parse(b).unwrap());
        let r = ua.equivalent(&ub);
        assert_eq!(r, ub.equivalent(&ua), "symmetry for {a} / {b}");
        r
    }

    #[test]
    fn rfc3261_19_1_4_equivalent_examples() {
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
    }

    #[test]
    fn rfc3261_19_1_4_not_equivalent_examples() {
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq("sip:alice@example.com", "sips:alice@example.com"));
        assert!(!eq("sip:a@h;maddr=1.2.3.4", "sip:a@h"));
        assert!(!eq("sip:a@h;user=phone", "sip:a@h"));
        // An escaped reserved character is not the same as the plain one.
        assert!(!eq("sip:a%3Bb@h", "sip:a;b@h"));
        assert!(eq("sip:a%3bb@h", "sip:a%3Bb@h"));
        // Escaped parameter names are the same parameter.
        assert!(eq("sip:a@h;%75ser=phone", "sip:a@h;user=phone"));
        assert!(!eq("sip:a@h;%75ser=phone", "sip:a@h"));
    }

    #[test]
    fn ipv6_and_escapes() {
        let u = Uri::parse("sip:[2001:db8::10]:5070;transport=tcp").unwrap();
        let s = u.as_sip().unwrap();
        assert_eq!(s.host, Host::V6("2001:db8::10".parse().unwrap()));
        assert_eq!(s.port, Some(5070));
        assert!(eq("sip:[2001:db8::10]", "sip:[2001:DB8:0::10]"));
        assert_eq!(
            Uri::parse("sip:[2001:db8::10").unwrap_err(),
            ParseError::BadHost
        );
        assert_eq!(Uri::parse("sip:a%4@h").unwrap_err(), ParseError::BadEscape);
        assert_eq!(
            Uri::parse("sip:a@h:99999").unwrap_err(),
            ParseError::BadPort
        );
        assert_eq!(Uri::parse("sip:a b@h").unwrap_err(), ParseError::BadUri);
        // RFC 5118 §4.10: the 3-colon form of RFC 3261's ABNF is tolerated.
        assert!(eq(
            "sip:[2001:db8:::192.0.2.1]",
            "sip:[2001:db8::192.0.2.1]"
        ));
        assert!(eq("sip:[:::192.0.2.1]:5060", "sip:[::192.0.2.1]:5060"));
        assert_eq!(
            Uri::parse("sip:[2001:::db8]").unwrap_err(),
            ParseError::BadHost
        );
        assert_eq!(
            Uri::parse("sip:[1::2:::192.0.2.1]").unwrap_err(),
            ParseError::BadHost
        );
        let t = Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert!(t.equivalent(&Uri::parse("tel:+12015550123;phone-context=example.com").unwrap()));
    }

    #[test]
    fn canonical_aor_strips_params_and_unescapes() {
        let u = Uri::parse("sip:%61lice@EXAMPLE.com;user=ip?x=y").unwrap();
        assert_eq!(
            u.as_sip().unwrap().canonical_aor().unwrap(),
            "sip:alice@example.com"
        );
        let u = Uri::parse("sips:bob:pw@Example.COM:5061").unwrap();
        assert_eq!(
            u.as_sip().unwrap().canonical_aor().unwrap(),
            "sips:bob@example.com:5061"
        );
    }
}
