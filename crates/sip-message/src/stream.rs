//! Framing SIP messages out of a byte stream (TCP, TLS): CRLF keep-alives
//! between messages are pings, each message ends where Content-Length says
//! (RFC 3261 §18.3).
//!
//! A message larger than [`Limits::max_message_size`] is never buffered
//! whole: the framer hands over its head as [`Frame::TooLarge`], so that a
//! request can be answered 513 Message Too Large (RFC 3261 §21.5.14), then
//! reads past the rest of it keeping only a count, and frames the next
//! message. How much it reads past is capped by [`Limits::max_discard`];
//! beyond that, or when an oversized message cannot be delimited, the stream
//! is in error and must be closed.

use crate::error::ParseError;
use crate::header::HeaderName;
use crate::limits::Limits;
use crate::message::find_header_end;
use bytes::{Buf, Bytes, BytesMut};

/// What the framer found at the front of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One complete message, to parse with [`crate::Message::parse_framed`].
    Message(Bytes),
    /// A double-CRLF keep-alive ping (RFC 5626 §3.5.1), to answer with CRLF.
    Ping,
    /// The head of a message larger than [`Limits::max_message_size`], at
    /// most that many bytes, for answering a request with 513 Message Too
    /// Large (RFC 3261 §21.5.14) from its Via, From, To, Call-ID and CSeq:
    /// the start line, headers and blank line when they fit, else the first
    /// `max_message_size` bytes (which may end inside a line). It is not a
    /// whole message and may be a response, which gets no answer. The framer
    /// drops the rest of the message itself and then frames the next one.
    TooLarge(Bytes),
}

/// Accumulates stream bytes and cuts them into messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    limits: Limits,
    /// CRLF octets consumed since the last frame, so that a keep-alive
    /// split across reads is still seen as one double CRLF.
    crlf_run: usize,
    /// Where the message at the front of the buffer stands.
    state: State,
}

/// The framer's progress through the message at the front of the stream.
#[derive(Debug)]
enum State {
    /// Looking for the end of the headers; the first `scanned` bytes were
    /// already searched, so a message arriving in small pieces is scanned
    /// once.
    Head { scanned: usize },
    /// The headers are in and the whole message is `total` bytes.
    Body { total: usize },
    /// A [`Frame::TooLarge`] was given for a message whose headers do not
    /// end within `max_message_size` bytes: its headers are read and
    /// dropped, looking for their end and the Content-Length.
    SkipHead(HeadScan),
    /// The rest of an oversized message, `left` bytes, is read and dropped.
    Skip { left: usize },
    /// An oversized message could not be skipped: nothing further can be
    /// framed, and the bytes that still arrive are dropped.
    Failed(ParseError),
}

impl StreamFramer {
    /// A framer enforcing `limits`: a message larger than `max_message_size`
    /// becomes a [`Frame::TooLarge`] and is skipped, up to `max_discard`.
    pub fn new(limits: Limits) -> StreamFramer {
        StreamFramer {
            buf: BytesMut::with_capacity(4096),
            limits,
            crlf_run: 0,
            state: State::Head { scanned: 0 },
        }
    }

    /// Mutable access to the receive buffer, for reading into directly.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next frame if the buffer holds one; `Ok(None)` means "read more".
    ///
    /// After an error the stream cannot be resynchronised: close it. The
    /// errors are a message that cannot be delimited (no Content-Length, a
    /// bad one) and [`ParseError::MessageTooLarge`] for one larger than
    /// [`Limits::max_discard`]. An error found before any frame of its
    /// message leaves the message's head in the buffer, for an answer built
    /// from it; one found after a [`Frame::TooLarge`] (whose head was the
    /// answerable part) leaves the buffer empty and repeats on every call.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ParseError> {
        loop {
            match self.state {
                State::Head { scanned } => return self.head(scanned),
                State::Body { total } => return Ok(self.take(total)),
                State::Skip { left } => {
                    let n = left.min(self.buf.len());
                    self.buf.advance(n);
                    if n < left {
                        self.state = State::Skip { left: left - n };
                        return Ok(None);
                    }
                    self.state = State::Head { scanned: 0 };
                }
                State::SkipHead(ref mut scan) => {
                    match scan.feed(&self.buf, self.limits.max_discard) {
                        Ok(None) => {
                            self.buf.clear();
                            return Ok(None);
                        }
                        Ok(Some(HeadEnd { used, left })) => {
                            self.buf.advance(used);
                            self.state = State::Skip { left };
                        }
                        Err(e) => self.state = State::Failed(e),
                    }
                }
                State::Failed(e) => {
                    self.buf.clear();
                    return Err(e);
                }
            }
        }
    }

    /// Frames the message at the front whose first `scanned` bytes were
    /// searched for the end of the headers: pings before it, the message,
    /// or its head if it is too large.
    fn head(&mut self, scanned: usize) -> Result<Option<Frame>, ParseError> {
        // Each double CRLF is one ping (RFC 5626 §3.5.1), whether it came in
        // one read or several; a single CRLF before a message is skipped
        // (RFC 3261 §7.5).
        while scanned == 0 && self.buf.starts_with(b"\r\n") {
            self.buf.advance(2);
            self.crlf_run += 2;
            if self.crlf_run >= 4 {
                self.crlf_run = 0;
                return Ok(Some(Frame::Ping));
            }
        }
        // Nothing yet, or half of a CRLF that may still be a keep-alive.
        if scanned == 0 && (self.buf.is_empty() || &self.buf[..] == b"\r") {
            return Ok(None);
        }
        // Headers ending past `max_message_size` are too large whatever the
        // body, so the search never looks further (and so does not depend
        // on how much arrived at once). It resumes a few bytes back: the
        // blank line may straddle reads.
        let max = self.limits.max_message_size;
        let searched = self.buf.len().min(max);
        let from = scanned.saturating_sub(3).min(searched);
        let Some(hdr_end) = find_header_end(&self.buf[from..searched]).map(|e| e + from) else {
            if self.buf.len() > max {
                return Ok(Some(self.too_large_head()));
            }
            self.state = State::Head { scanned: searched };
            return Ok(None);
        };
        let head = &self.buf[..hdr_end];
        let mut content_length: Option<u64> = None;
        for line in head.split(|&b| b == b'\n').skip(1) {
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let name = trim_ascii(&line[..colon]);
            if HeaderName::from_bytes(name) == HeaderName::ContentLength {
                let value = trim_ascii(&line[colon + 1..]);
                content_length = Some(parse_content_length(value, content_length)?);
            }
        }
        let body_len = content_length.ok_or(ParseError::MissingContentLength)?;
        let head_len = hdr_end + 2;
        let total = message_total(head_len, body_len);
        if total > max {
            if total > self.limits.max_discard {
                return Err(ParseError::MessageTooLarge);
            }
            self.crlf_run = 0;
            self.state = State::Skip {
                left: total - head_len,
            };
            return Ok(Some(Frame::TooLarge(self.buf.split_to(head_len).freeze())));
        }
        self.state = State::Body { total };
        Ok(self.take(total))
    }

    /// The first `max_message_size` bytes of a message whose headers do not
    /// end within them; its headers are then scanned from the start (the
    /// bytes given stay in the buffer until then).
    fn too_large_head(&mut self) -> Frame {
        self.crlf_run = 0;
        self.state = State::SkipHead(HeadScan::default());
        Frame::TooLarge(Bytes::copy_from_slice(
            &self.buf[..self.limits.max_message_size],
        ))
    }

    /// The message at the front once all `total` bytes are in.
    fn take(&mut self, total: usize) -> Option<Frame> {
        if self.buf.len() < total {
            return None;
        }
        self.crlf_run = 0;
        self.state = State::Head { scanned: 0 };
        Some(Frame::Message(self.buf.split_to(total).freeze()))
    }
}

/// The value of one Content-Length header (trimmed), which must agree with
/// an `earlier` one.
fn parse_content_length(value: &[u8], earlier: Option<u64>) -> Result<u64, ParseError> {
    let v = std::str::from_utf8(value).map_err(|_| ParseError::BadContentLength)?;
    let n = crate::scan::parse_decimal(v, 10).ok_or(ParseError::BadContentLength)?;
    if earlier.is_some_and(|c| c != n) {
        return Err(ParseError::BadContentLength);
    }
    Ok(n)
}

/// Headers of `head_len` bytes plus a body of `body_len`, saturating (a
/// size beyond the address space is merely too large).
fn message_total(head_len: usize, body_len: u64) -> usize {
    usize::try_from(body_len)
        .ok()
        .and_then(|b| b.checked_add(head_len))
        .unwrap_or(usize::MAX)
}

/// Where the headers of an oversized message ended: `used` bytes of the
/// data fed were headers, `left` bytes of body follow.
#[derive(Debug, PartialEq, Eq)]
struct HeadEnd {
    used: usize,
    left: usize,
}

/// Reads the headers of an oversized message as they stream past, keeping
/// only what framing needs: the end of the headers (the first CRLF CRLF, as
/// `find_header_end` finds it) and the Content-Length, taken from the lines
/// exactly as [`StreamFramer`] takes it from a buffered head.
#[derive(Debug, Default)]
struct HeadScan {
    /// Bytes of the message scanned so far, from its first octet.
    consumed: usize,
    /// The last four bytes scanned, to see a blank line however reads cut it.
    tail: u32,
    /// Where the scan stands in the current line.
    line: Line,
    /// The Content-Length of the lines seen so far.
    content_length: Option<u64>,
}

/// The part of a header line a [`HeadScan`] is in.
#[derive(Debug, Default)]
enum Line {
    /// The start line, which carries no header.
    #[default]
    Start,
    /// The header name, up to the first colon.
    Name(Token),
    /// The value of a Content-Length header, up to the end of the line.
    Value(Token),
    /// The rest of a line that is no Content-Length.
    Rest,
}

/// The blank line ending the headers, as the last four bytes scanned.
const HEADER_END: u32 = u32::from_be_bytes(*b"\r\n\r\n");

impl HeadScan {
    /// Scans `data`, the next bytes of the message. `Ok(None)`: the headers
    /// go on past it. Past `max_discard` bytes, or at the end of headers
    /// without a valid Content-Length, the message cannot be skipped.
    fn feed(&mut self, data: &[u8], max_discard: usize) -> Result<Option<HeadEnd>, ParseError> {
        for (i, &b) in data.iter().enumerate() {
            self.consumed += 1;
            self.line_byte(b)?;
            self.tail = self.tail << 8 | u32::from(b);
            if self.tail == HEADER_END {
                let body_len = self
                    .content_length
                    .ok_or(ParseError::MissingContentLength)?;
                let total = message_total(self.consumed, body_len);
                if total > max_discard {
                    return Err(ParseError::MessageTooLarge);
                }
                return Ok(Some(HeadEnd {
                    used: i + 1,
                    left: total - self.consumed,
                }));
            }
            // The headers alone already exceed the cap.
            if self.consumed >= max_discard {
                return Err(ParseError::MessageTooLarge);
            }
        }
        Ok(None)
    }

    /// Moves the line state past one byte; a Content-Length line is checked
    /// at its end.
    fn line_byte(&mut self, b: u8) -> Result<(), ParseError> {
        if b == b'\n' {
            if let Line::Value(value) = &self.line {
                let value = value.get().ok_or(ParseError::BadContentLength)?;
                self.content_length = Some(parse_content_length(value, self.content_length)?);
            }
            self.line = Line::Name(Token::default());
            return Ok(());
        }
        match &mut self.line {
            Line::Start | Line::Rest => {}
            Line::Name(name) if b == b':' => {
                let is_length = name
                    .get()
                    .is_some_and(|n| HeaderName::from_bytes(n) == HeaderName::ContentLength);
                self.line = if is_length {
                    Line::Value(Token::default())
                } else {
                    Line::Rest
                };
            }
            Line::Name(token) | Line::Value(token) => token.push(b),
        }
        Ok(())
    }
}

/// Octets a [`Token`] keeps: "content-length" is the longest name that
/// matters, and a valid value has at most 10 digits.
const TOKEN_CAP: usize = 14;

/// A header name or Content-Length value arriving byte by byte, trimmed of
/// ASCII whitespace as `trim_ascii` trims it; one with whitespace inside or
/// longer than [`TOKEN_CAP`] is spoilt, as it could be no Content-Length
/// name or value.
#[derive(Debug, Default)]
struct Token {
    octets: [u8; TOKEN_CAP],
    len: usize,
    /// Whitespace followed the last octet kept.
    gap: bool,
    spoilt: bool,
}

impl Token {
    fn push(&mut self, b: u8) {
        if b.is_ascii_whitespace() {
            self.gap = self.len > 0;
        } else if self.gap || self.len == TOKEN_CAP {
            self.spoilt = true;
        } else {
            self.octets[self.len] = b;
            self.len += 1;
        }
    }

    /// The trimmed token, or `None` if it is spoilt.
    fn get(&self) -> Option<&[u8]> {
        (!self.spoilt).then_some(&self.octets[..self.len])
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabc";

    #[test]
    fn frames_split_and_joined_messages() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"\r\n\r\n");
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Ping));
        f.push(&MSG[..10]);
        assert_eq!(f.next_frame().unwrap(), None);
        f.push(&MSG[10..]);
        f.push(b"\r\n");
        f.push(MSG);
        assert_eq!(
            f.next_frame().unwrap(),
            Some(Frame::Message(Bytes::from_static(MSG)))
        );
        assert_eq!(
            f.next_frame().unwrap(),
            Some(Frame::Message(Bytes::from_static(MSG)))
        );
        assert_eq!(f.next_frame().unwrap(), None);
    }

    #[test]
    fn keepalives_split_across_reads_are_still_pings() {
        let mut whole = StreamFramer::new(Limits::default());
        whole.push(b"\r\n\r\n\r\n\r\n");
        let mut split = StreamFramer::new(Limits::default());
        let mut split_frames = Vec::new();
        for b in b"\r\n\r\n\r\n\r\n" {
            split.push(&[*b]);
            while let Some(f) = split.next_frame().unwrap() {
                split_frames.push(f);
            }
        }
        assert_eq!(whole.next_frame().unwrap(), Some(Frame::Ping));
        assert_eq!(whole.next_frame().unwrap(), Some(Frame::Ping));
        assert_eq!(whole.next_frame().unwrap(), None);
        assert_eq!(split_frames, [Frame::Ping, Frame::Ping]);
        // A single CRLF before a message is no ping (RFC 3261 §7.5).
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"\r\n");
        f.push(MSG);
        f.push(b"\r\n");
        assert_eq!(
            f.next_frame().unwrap(),
            Some(Frame::Message(Bytes::from_static(MSG)))
        );
        assert_eq!(f.next_frame().unwrap(), None);
    }

    #[test]
    fn rejects_missing_or_huge_length() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:a SIP/2.0\r\n\r\n");
        assert_eq!(
            f.next_frame().unwrap_err(),
            ParseError::MissingContentLength
        );
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 99999999\r\n\r\n");
        assert_eq!(f.next_frame().unwrap_err(), ParseError::MessageTooLarge);
    }
}
