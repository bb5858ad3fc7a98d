//! A parsed SIP message: the received buffer plus an index of its start line
//! and headers. Values are slices of that one buffer; nothing is copied.

use crate::error::ParseError;
use crate::header::HeaderName;
use crate::limits::Limits;
use crate::scan::{is_token, is_token_char, parse_decimal, split_outside_quotes};
use bytes::Bytes;
use std::ops::Range;

/// Request methods the core distinguishes; any other token is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// REGISTER (RFC 3261 §10)
    Register,
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// CANCEL
    Cancel,
    /// BYE
    Bye,
    /// OPTIONS
    Options,
    /// Any extension method; read its name with [`Message::method_str`].
    Other,
}

impl Method {
    /// Maps a method token (case-sensitive, as RFC 3261 §7.1 says).
    pub fn from_token(s: &str) -> Method {
        match s {
            "REGISTER" => Method::Register,
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "CANCEL" => Method::Cancel,
            "BYE" => Method::Bye,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// Where the start line's parts are in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP/2.0`
    Request {
        /// The method, mapped.
        method: Method,
        /// Byte range of the method token.
        method_range: Range<u32>,
        /// Byte range of the Request-URI.
        uri: Range<u32>,
    },
    /// `SIP/2.0 SP Status-Code SP Reason-Phrase`
    Response {
        /// The status code, 100..=699.
        code: u16,
        /// Byte range of the reason phrase.
        reason: Range<u32>,
    },
}

/// One header line of the message (folded continuation lines included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderEntry {
    /// The mapped name.
    pub name: HeaderName,
    name_range: Range<u32>,
    value_range: Range<u32>,
}

/// A parsed SIP request or response over one shared buffer.
#[derive(Debug, Clone)]
pub struct Message {
    buf: Bytes,
    start: StartLine,
    headers: Vec<HeaderEntry>,
    body: Range<u32>,
}

fn r(range: Range<usize>) -> Range<u32> {
    range.start as u32..range.end as u32
}

fn ur(range: &Range<u32>) -> Range<usize> {
    range.start as usize..range.end as usize
}

/// Position just after the CRLFs that may precede a start line (RFC 3261 §7.5).
pub(crate) fn skip_leading_crlf(b: &[u8]) -> usize {
    let mut i = 0;
    while i + 1 < b.len() && b[i] == b'\r' && b[i + 1] == b'\n' {
        i += 2;
    }
    i
}

/// Byte offset of the end of the header section (the index of the blank
/// line's CR), if the buffer holds one.
pub(crate) fn find_header_end(b: &[u8]) -> Option<usize> {
    memchr::memmem::find(b, b"\r\n\r\n").map(|i| i + 2)
}

impl Message {
    /// Parses one whole message as received in a datagram (RFC 3261 §18.3:
    /// bytes past Content-Length are discarded, a shorter body is an error,
    /// no Content-Length means the body runs to the end of the datagram).
    pub fn parse(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        Self::parse_inner(buf, limits, false)
    }

    /// Parses one message framed from a stream; Content-Length is required.
    pub fn parse_framed(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        Self::parse_inner(buf, limits, true)
    }

    fn parse_inner(buf: Bytes, limits: &Limits, stream: bool) -> Result<Message, ParseError> {
        if buf.len() > limits.max_message_size {
            return Err(ParseError::MessageTooLarge);
        }
        let b = &buf[..];
        let start_pos = skip_leading_crlf(b);
        let hdr_end = find_header_end(&b[start_pos..])
            .map(|e| e + start_pos)
            .ok_or(ParseError::Incomplete)?;
        // The start line and the header lines, each ending in CRLF.
        let head = &b[start_pos..hdr_end];
        if std::str::from_utf8(head).is_err() {
            return Err(ParseError::NotUtf8);
        }
        let line_end = memchr::memmem::find(head, b"\r\n").ok_or(ParseError::Incomplete)?;
        if line_end > limits.max_line_length {
            return Err(ParseError::LineTooLong);
        }
        let start = parse_start_line(b, start_pos, start_pos + line_end, limits)?;

        let headers = index_headers(b, start_pos + line_end + 2, hdr_end, limits)?;
        let body_start = hdr_end + 2;
        let available = b.len() - body_start;

        let mut content_length: Option<usize> = None;
        for h in headers
            .iter()
            .filter(|h| h.name == HeaderName::ContentLength)
        {
            let v = value_str(b, &h.value_range);
            let n = parse_decimal(v, 10).ok_or(ParseError::BadContentLength)? as usize;
            if content_length.is_some_and(|c| c != n) {
                return Err(ParseError::BadContentLength);
            }
            content_length = Some(n);
        }
        let body_len = match content_length {
            Some(n) if n > available => return Err(ParseError::BodyTruncated),
            Some(n) => n,
            None if stream => return Err(ParseError::MissingContentLength),
            None => available,
        };
        Ok(Message {
            start,
            headers,
            body: r(body_start..body_start + body_len),
            buf,
        })
    }

    /// The whole buffer the message was parsed from.
    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    /// The start line's structure.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// True for a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, or `None` for a response.
    pub fn method(&self) -> Option<Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(*method),
            StartLine::Response { .. } => None,
        }
    }

    /// The request method as written, or "" for a response.
    pub fn method_str(&self) -> &str {
        match &self.start {
            StartLine::Request { method_range, .. } => self.str_at(method_range),
            StartLine::Response { .. } => "",
        }
    }

    /// The Request-URI text, or "" for a response.
    pub fn request_uri(&self) -> &str {
        match &self.start {
            StartLine::Request { uri, .. } => self.str_at(uri),
            StartLine::Response { .. } => "",
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response, or "".
    pub fn reason(&self) -> &str {
        match &self.start {
            StartLine::Response { reason, .. } => self.str_at(reason),
            StartLine::Request { .. } => "",
        }
    }

    /// The message body (exactly Content-Length bytes).
    pub fn body(&self) -> &[u8] {
        &self.buf[ur(&self.body)]
    }

    fn str_at(&self, range: &Range<u32>) -> &str {
        value_str(&self.buf, range)
    }

    /// Every header line in order: (name as written, mapped name, value).
    pub fn header_lines(&self) -> impl Iterator<Item = (&str, HeaderName, &str)> + '_ {
        self.headers.iter().map(move |h| {
            (
                self.str_at(&h.name_range),
                h.name,
                self.str_at(&h.value_range),
            )
        })
    }

    /// The value of the first line of a known header.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers(name).next()
    }

    /// The values of every line of a known header, in order (a line may
    /// itself hold several comma-separated values: see [`Message::header_values`]).
    pub fn headers(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(move |h| self.str_at(&h.value_range))
    }

    /// Every comma-separated value of a list header across all its lines
    /// (quoted strings and `<...>` respected), empty items skipped.
    pub fn header_values(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.headers(name)
            .flat_map(|line| split_outside_quotes(line, b','))
            .filter(|v| !v.is_empty())
    }

    /// The values of every line of a header not known to [`HeaderName`],
    /// matched case-insensitively by its long name.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| {
                self.str_at(&h.name_range).eq_ignore_ascii_case(name)
                    || (h.name != HeaderName::Other && h.name.as_str().eq_ignore_ascii_case(name))
            })
            .map(move |h| self.str_at(&h.value_range))
    }

    /// The one value of a header that may appear once, or a
    /// [`ParseError::DuplicateHeader`] when several differing lines carry it.
    pub fn single_header(&self, name: HeaderName) -> Result<Option<&str>, ParseError> {
        let mut it = self.headers(name);
        let first = it.next();
        if let Some(f) = first {
            if it.any(|other| other != f) {
                return Err(ParseError::DuplicateHeader(name.as_str()));
            }
        }
        Ok(first)
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }
}

fn value_str<'a>(b: &'a [u8], range: &Range<u32>) -> &'a str {
    // The header section was validated as UTF-8 and every range starts and
    // ends at an ASCII delimiter, so this cannot fail; "" is a safe fallback.
    std::str::from_utf8(&b[ur(range)]).unwrap_or("")
}

fn parse_start_line(
    b: &[u8],
    start: usize,
    end: usize,
    limits: &Limits,
) -> Result<StartLine, ParseError> {
    let line = &b[start..end];
    if line.starts_with(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        if !line.starts_with(b"SIP/2.0 ") {
            return Err(ParseError::BadVersion);
        }
        let rest = &line[8..];
        if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
            return Err(ParseError::BadStatusCode);
        }
        let code = u16::from(rest[0] - b'0') * 100
            + u16::from(rest[1] - b'0') * 10
            + u16::from(rest[2] - b'0');
        if !(100..=699).contains(&code) {
            return Err(ParseError::BadStatusCode);
        }
        let reason_start = match rest.get(3) {
            None => start + 8 + 3,
            Some(b' ') => start + 8 + 4,
            Some(_) => return Err(ParseError::BadStatusCode),
        };
        if b[reason_start..end]
            .iter()
            .any(|&c| c < 0x20 && c != b'\t' || c == 0x7f)
        {
            return Err(ParseError::BadReasonPhrase);
        }
        return Ok(StartLine::Response {
            code,
            reason: r(reason_start..end),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version
    let sp1 = memchr::memchr(b' ', line).ok_or(ParseError::BadStartLine)?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&c| is_token_char(c)) {
        return Err(ParseError::BadMethod);
    }
    let rest = &line[sp1 + 1..];
    let sp2 = memchr::memrchr(b' ', rest).ok_or(ParseError::BadStartLine)?;
    let uri = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    if uri.is_empty() || uri.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return Err(ParseError::BadStartLine);
    }
    if uri.len() > limits.max_uri_length {
        return Err(ParseError::UriTooLong);
    }
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        return Err(ParseError::BadVersion);
    }
    let method_str = std::str::from_utf8(method).map_err(|_| ParseError::BadMethod)?;
    debug_assert!(is_token(method_str));
    let uri_start = start + sp1 + 1;
    Ok(StartLine::Request {
        method: Method::from_token(method_str),
        method_range: r(start..start + sp1),
        uri: r(uri_start..uri_start + sp2),
    })
}

/// Scans the header lines in `b[from..to]` (each ending in CRLF).
fn index_headers(
    b: &[u8],
    from: usize,
    to: usize,
    limits: &Limits,
) -> Result<Vec<HeaderEntry>, ParseError> {
    let mut headers: Vec<HeaderEntry> = Vec::with_capacity(16);
    let mut pos = from;
    // Whether the current header (folded lines included) is inside a quoted string.
    let mut in_quote = false;
    while pos < to {
        let nl = memchr::memchr(b'\n', &b[pos..to])
            .map(|i| pos + i)
            .ok_or(ParseError::Incomplete)?;
        if nl == pos || b[nl - 1] != b'\r' {
            return Err(ParseError::BadHeaderValue);
        }
        let line_end = nl - 1;
        let line = &b[pos..line_end];
        let folded = matches!(line.first(), Some(b' ' | b'\t'));
        in_quote = check_line_octets(line, folded && in_quote)?;
        if folded {
            // Folded continuation of the previous header (RFC 3261 §7.3.1).
            let last = headers.last_mut().ok_or(ParseError::BadHeaderName)?;
            let trimmed_end = trim_end_ws(b, pos, line_end);
            if trimmed_end > pos && line[..].iter().any(|&c| c != b' ' && c != b'\t') {
                if last.value_range.start == last.value_range.end {
                    // The value began on a continuation line.
                    last.value_range = r(skip_ws(b, pos, line_end)..trimmed_end);
                } else {
                    last.value_range.end = trimmed_end as u32;
                }
            }
            if (last.value_range.end - last.name_range.start) as usize > limits.max_line_length {
                return Err(ParseError::LineTooLong);
            }
        } else {
            if line.len() > limits.max_line_length {
                return Err(ParseError::LineTooLong);
            }
            if headers.len() >= limits.max_headers {
                return Err(ParseError::TooManyHeaders);
            }
            let colon = memchr::memchr(b':', line).ok_or(ParseError::MissingHeaderColon)?;
            let name_end = trim_end_ws(b, pos, pos + colon);
            let name = &b[pos..name_end];
            if name.is_empty() || !name.iter().all(|&c| is_token_char(c)) {
                return Err(ParseError::BadHeaderName);
            }
            let vstart = skip_ws(b, pos + colon + 1, line_end);
            let vend = trim_end_ws(b, vstart, line_end);
            headers.push(HeaderEntry {
                name: HeaderName::from_bytes(name),
                name_range: r(pos..name_end),
                value_range: r(vstart..vend),
            });
        }
        pos = nl + 1;
    }
    Ok(headers)
}

/// Checks the octets of one header line, starting inside a quoted string
/// when `in_quote` (a folded line continuing one). Control characters are
/// refused except as the escaped octet of a quoted-pair, which RFC 3261
/// §25.1 allows to be any of %x00-09 / %x0B-0C / %x0E-7F (RFC 4475 §3.1.1.2).
/// Returns whether the line ends inside a quoted string.
fn check_line_octets(line: &[u8], mut in_quote: bool) -> Result<bool, ParseError> {
    if !in_quote && is_plain_text(line) {
        return Ok(false);
    }
    let mut i = 0;
    while i < line.len() {
        let c = line[i];
        if in_quote && c == b'\\' && line.get(i + 1).is_some_and(|&e| e != b'\r') {
            i += 2;
            continue;
        }
        if (c < 0x20 && c != b'\t') || c == 0x7f {
            return Err(ParseError::BadHeaderValue);
        }
        if c == b'"' {
            in_quote = !in_quote;
        }
        i += 1;
    }
    Ok(in_quote)
}

/// True when `line` has neither a control character nor a quote: the
/// common case, checked without branches so the compiler can vectorize it.
fn is_plain_text(line: &[u8]) -> bool {
    line.iter().fold(true, |ok, &c| {
        ok & (((c >= 0x20) & (c != 0x7f) & (c != b'"')) | (c == b'\t'))
    })
}

fn skip_ws(b: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

fn trim_end_ws(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && (b[end - 1] == b' ' || b[end - 1] == b'\t') {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Message, ParseError> {
        Message::parse(Bytes::copy_from_slice(s.as_bytes()), &Limits::default())
    }

    #[test]
    fn request_with_compact_and_folded_headers() {
        let m = parse(
            "\r\nREGISTER sip:example.com SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
             Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK2, SIP/2.0/UDP b;branch=z9hG4bK3\r\n\
             t: <sip:alice@example.com>\r\nf: <sip:alice@example.com>;tag=1\r\n\
             i: abc\r\nCSeq: 1\r\n  REGISTER\r\nm: <sip:a@10.0.0.1>, <sip:b@10.0.0.1>\r\nl: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(m.method(), Some(Method::Register));
        assert_eq!(m.request_uri(), "sip:example.com");
        assert_eq!(m.header_values(HeaderName::Via).count(), 3);
        assert_eq!(m.header(HeaderName::CallId), Some("abc"));
        assert_eq!(m.header(HeaderName::CSeq), Some("1\r\n  REGISTER"));
        assert_eq!(m.header_values(HeaderName::Contact).count(), 2);
        assert!(m.body().is_empty());
    }

    #[test]
    fn response_and_errors() {
        let m = parse("SIP/2.0 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.reason(), "OK");
        assert_eq!(m.body(), b"abc");
        assert_eq!(
            parse("SIP/2.0 200 OK\r\nContent-Length: 9\r\n\r\nabc").unwrap_err(),
            ParseError::BodyTruncated
        );
        assert_eq!(
            parse("OPTIONS sip:a SIP/2.0\r\nNoColon\r\n\r\n").unwrap_err(),
            ParseError::MissingHeaderColon
        );
        assert_eq!(
            parse("OPTIONS sip:a SIP/3.0\r\n\r\n").unwrap_err(),
            ParseError::BadVersion
        );
        assert_eq!(
            parse("OPTIONS sip:a SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab").unwrap_err(),
            ParseError::BadContentLength
        );
        assert_eq!(
            parse("SIP/2.0 99 x\r\n\r\n").unwrap_err(),
            ParseError::BadStatusCode
        );
        assert_eq!(
            parse("OPTIONS sip:a SIP/2.0\r\n").unwrap_err(),
            ParseError::Incomplete
        );
    }

    #[test]
    fn control_octets_only_as_quoted_pairs() {
        // RFC 3261 §25.1 quoted-pair: any octet but CR and LF may be escaped.
        let m = parse(
            "OPTIONS sip:a SIP/2.0\r\nTo: \"a\\\u{0}b\\\u{7}\r\n \\\u{7f}\" <sip:a@b>\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            m.header(HeaderName::To),
            Some("\"a\\\u{0}b\\\u{7}\r\n \\\u{7f}\" <sip:a@b>")
        );
        for bad in [
            "To: a\u{0}b",
            "To: \"a\u{7}\"",
            "To: \"a\" \\\u{0}",
            "To: \"a\\\rb\"",
        ] {
            let text = format!("OPTIONS sip:a SIP/2.0\r\n{bad}\r\n\r\n");
            assert_eq!(
                parse(&text).unwrap_err(),
                ParseError::BadHeaderValue,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let m = Message::parse(
            Bytes::from_static(b"OPTIONS sip:a SIP/2.0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"),
            &limits,
        );
        assert_eq!(m.unwrap_err(), ParseError::TooManyHeaders);
        let limits = Limits {
            max_message_size: 10,
            ..Limits::default()
        };
        let m = Message::parse(
            Bytes::from_static(b"OPTIONS sip:a SIP/2.0\r\n\r\n"),
            &limits,
        );
        assert_eq!(m.unwrap_err(), ParseError::MessageTooLarge);
    }
}
