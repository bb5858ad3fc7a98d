//! The typed parse error: every defect the parser can find has its own
//! variant, so a server can answer `400 <defect>` and a test can assert it.

use std::fmt;

/// A defect found while parsing a SIP message or one of its parts.
///
/// [`ParseError::defect`] gives a short stable name (used in metrics and
/// tests); `Display` gives a human sentence safe to put in a reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The message is larger than [`crate::Limits::max_message_size`]; from
    /// the stream framer, larger even than [`crate::Limits::max_discard`],
    /// so that it cannot be skipped.
    MessageTooLarge,
    /// More headers than [`crate::Limits::max_headers`].
    TooManyHeaders,
    /// A header or the start line is longer than [`crate::Limits::max_line_length`].
    LineTooLong,
    /// A URI is longer than [`crate::Limits::max_uri_length`].
    UriTooLong,
    /// The message has no empty line ending its headers.
    Incomplete,
    /// The start line is neither a request line nor a status line.
    BadStartLine,
    /// The method of the request line is not a token.
    BadMethod,
    /// The SIP version is not `SIP/2.0`.
    BadVersion,
    /// The status code is not three digits in 100..=699.
    BadStatusCode,
    /// The reason phrase contains characters that TEXT-UTF8 does not allow.
    BadReasonPhrase,
    /// A header line has no colon after its name.
    MissingHeaderColon,
    /// A header name is not a token.
    BadHeaderName,
    /// A header value contains a control character or bare CR/LF.
    BadHeaderValue,
    /// The header section is not valid UTF-8.
    NotUtf8,
    /// Content-Length is not a number, or several differing values are given.
    BadContentLength,
    /// The body is shorter than Content-Length says.
    BodyTruncated,
    /// A stream message has no Content-Length.
    MissingContentLength,
    /// A URI does not follow RFC 3261 §25 (or RFC 3966 for tel).
    BadUri,
    /// A host is neither a hostname nor an IPv4 address nor a bracketed IPv6 reference.
    BadHost,
    /// A port is not a number in 0..=65535.
    BadPort,
    /// A `%` escape is not followed by two hex digits.
    BadEscape,
    /// A quoted string has no closing quote or ends in a lone backslash.
    UnterminatedQuote,
    /// A name-addr has `<` without `>` or text after it that is not a parameter.
    BadNameAddr,
    /// A header parameter is malformed.
    BadParameter,
    /// The Via header is malformed.
    BadVia,
    /// The CSeq header is malformed or its number exceeds 2^31-1.
    BadCSeq,
    /// The Max-Forwards header is not a number in 0..=255.
    BadMaxForwards,
    /// A header that may appear once carries several values.
    DuplicateHeader(&'static str),
    /// A header every request must have is absent.
    MissingHeader(&'static str),
    /// The CSeq method differs from the request method.
    CSeqMethodMismatch,
}

impl ParseError {
    /// A short stable name for the defect (snake_case), for metrics and tests.
    pub fn defect(&self) -> &'static str {
        use ParseError::*;
        match self {
            MessageTooLarge => "message_too_large",
            TooManyHeaders => "too_many_headers",
            LineTooLong => "line_too_long",
            UriTooLong => "uri_too_long",
            Incomplete => "incomplete",
            BadStartLine => "bad_start_line",
            BadMethod => "bad_method",
            BadVersion => "bad_version",
            BadStatusCode => "bad_status_code",
            BadReasonPhrase => "bad_reason_phrase",
            MissingHeaderColon => "missing_header_colon",
            BadHeaderName => "bad_header_name",
            BadHeaderValue => "bad_header_value",
            NotUtf8 => "not_utf8",
            BadContentLength => "bad_content_length",
            BodyTruncated => "body_truncated",
            MissingContentLength => "missing_content_length",
            BadUri => "bad_uri",
            BadHost => "bad_host",
            BadPort => "bad_port",
            BadEscape => "bad_escape",
            UnterminatedQuote => "unterminated_quote",
            BadNameAddr => "bad_name_addr",
            BadParameter => "bad_parameter",
            BadVia => "bad_via",
            BadCSeq => "bad_cseq",
            BadMaxForwards => "bad_max_forwards",
            DuplicateHeader(_) => "duplicate_header",
            MissingHeader(_) => "missing_header",
            CSeqMethodMismatch => "cseq_method_mismatch",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ParseError::*;
        let text = match self {
            MessageTooLarge => "Message Too Large",
            TooManyHeaders => "Too Many Headers",
            LineTooLong => "Header Line Too Long",
            UriTooLong => "URI Too Long",
            Incomplete => "Incomplete Message",
            BadStartLine => "Malformed Start Line",
            BadMethod => "Malformed Method",
            BadVersion => "Unsupported SIP Version",
            BadStatusCode => "Malformed Status Code",
            BadReasonPhrase => "Malformed Reason Phrase",
            MissingHeaderColon => "Header Without Colon",
            BadHeaderName => "Malformed Header Name",
            BadHeaderValue => "Malformed Header Value",
            NotUtf8 => "Headers Not UTF-8",
            BadContentLength => "Malformed Content-Length",
            BodyTruncated => "Body Shorter Than Content-Length",
            MissingContentLength => "Missing Content-Length",
            BadUri => "Malformed URI",
            BadHost => "Malformed Host",
            BadPort => "Malformed Port",
            BadEscape => "Malformed Escape",
            UnterminatedQuote => "Unterminated Quoted String",
            BadNameAddr => "Malformed Name-Addr",
            BadParameter => "Malformed Parameter",
            BadVia => "Malformed Via",
            BadCSeq => "Malformed CSeq",
            BadMaxForwards => "Malformed Max-Forwards",
            DuplicateHeader(h) => return write!(f, "Duplicate {h} Header"),
            MissingHeader(h) => return write!(f, "Missing {h} Header"),
            CSeqMethodMismatch => "CSeq Method Does Not Match Request Method",
        };
        f.write_str(text)
    }
}

impl std::error::Error for ParseError {}
