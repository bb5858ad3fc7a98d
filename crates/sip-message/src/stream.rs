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

    /// Small limits, so that oversized messages stay small in the tests.
    const SMALL: Limits = Limits {
        max_message_size: 64,
        max_headers: 128,
        max_line_length: 8_192,
        max_uri_length: 2_048,
        max_discard: 4_096,
    };

    /// The frames `data` gives when it arrives in `chunk`-byte reads, each
    /// drained at once, and the error that ended them, if any. Between reads
    /// the buffer never holds more than `max_message_size` bytes.
    fn frame_all(data: &[u8], chunk: usize, limits: Limits) -> (Vec<Frame>, Option<ParseError>) {
        let mut f = StreamFramer::new(limits);
        let mut frames = Vec::new();
        for piece in data.chunks(chunk.max(1)) {
            f.push(piece);
            loop {
                match f.next_frame() {
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => break,
                    Err(e) => return (frames, Some(e)),
                }
            }
            assert!(
                f.buf.len() <= limits.max_message_size,
                "{} bytes buffered",
                f.buf.len()
            );
        }
        (frames, None)
    }

    fn message(m: &[u8]) -> Frame {
        Frame::Message(Bytes::copy_from_slice(m))
    }

    fn too_large(head: &[u8]) -> Frame {
        Frame::TooLarge(Bytes::copy_from_slice(head))
    }

    /// A request whose header section is `head` plus `CRLF CRLF`, and whose
    /// body of `body` bytes is what its Content-Length says.
    fn request(head: &str, body: usize) -> (Vec<u8>, Vec<u8>) {
        let head = format!("{head}\r\nContent-Length: {body}\r\n\r\n").into_bytes();
        let mut whole = head.clone();
        whole.resize(head.len() + body, b'b');
        (head, whole)
    }

    /// [`request`] of `total` bytes in all.
    fn sized(head: &str, total: usize) -> (Vec<u8>, Vec<u8>) {
        let fixed = request(head, 0).0.len() - 1;
        let body = (1..=20)
            .map(|digits| total - fixed - digits)
            .find(|body| body.to_string().len() + fixed + body == total)
            .unwrap();
        request(head, body)
    }

    #[test]
    fn oversized_message_with_a_40k_header_is_too_large_then_skipped() {
        // Default limits: 40 kB headers and a 30 kB body make 70 kB > 64 kB.
        let pad = "a".repeat(40_000);
        let (head, big) = request(
            &format!("MESSAGE sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nX-Pad: {pad}"),
            30_000,
        );
        assert!(big.len() > Limits::default().max_message_size);
        let mut stream = big.clone();
        stream.extend_from_slice(MSG);
        for chunk in [stream.len(), 4096, 1] {
            let (frames, err) = frame_all(&stream, chunk, Limits::default());
            assert_eq!(err, None, "{chunk}-byte reads");
            assert_eq!(
                frames,
                [too_large(&head), message(MSG)],
                "{chunk}-byte reads"
            );
        }
    }

    #[test]
    fn headers_longer_than_the_limit_are_too_large_then_skipped() {
        // Two 40 kB headers: the headers alone pass 64 kB, and the
        // Content-Length comes after that point.
        let pad = "a".repeat(40_000);
        let (_, big) = request(
            &format!("MESSAGE sip:a SIP/2.0\r\nX-Pad: {pad}\r\nX-Pad: {pad}"),
            1_000,
        );
        let max = Limits::default().max_message_size;
        let mut stream = big.clone();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(MSG);
        for chunk in [stream.len(), 1000, 1] {
            let (frames, err) = frame_all(&stream, chunk, Limits::default());
            assert_eq!(err, None, "{chunk}-byte reads");
            assert_eq!(
                frames,
                [too_large(&big[..max]), Frame::Ping, message(MSG)],
                "{chunk}-byte reads"
            );
        }
    }

    #[test]
    fn huge_body_in_small_pieces_is_dropped_as_it_arrives() {
        let (head, big) = request("MESSAGE sip:a SIP/2.0\r\ni: x", 900_000);
        let mut f = StreamFramer::new(Limits::default());
        let mut frames = Vec::new();
        let rest = [b"\r\n" as &[u8], MSG];
        for piece in big.chunks(997).chain(rest) {
            f.push(piece);
            while let Some(frame) = f.next_frame().unwrap() {
                frames.push(frame);
            }
            assert!(f.buf.len() <= 997, "{} bytes kept", f.buf.len());
        }
        assert_eq!(frames, [too_large(&head), message(MSG)]);
    }

    #[test]
    fn headers_that_never_end_hit_the_cap() {
        let mut stream = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        while stream.len() < 2 * SMALL.max_discard {
            stream.extend_from_slice(b"X-Pad: aaaaaaaa\r\n");
        }
        for chunk in [stream.len(), 7, 1] {
            let (frames, err) = frame_all(&stream, chunk, SMALL);
            assert_eq!(frames, [too_large(&stream[..64])], "{chunk}-byte reads");
            assert_eq!(err, Some(ParseError::MessageTooLarge), "{chunk}-byte reads");
        }
        // The error comes with the max_discard-th byte, and stays.
        let mut f = StreamFramer::new(SMALL);
        f.push(&stream[..SMALL.max_discard - 1]);
        assert_eq!(f.next_frame().unwrap(), Some(too_large(&stream[..64])));
        assert_eq!(f.next_frame().unwrap(), None);
        f.push(&stream[SMALL.max_discard - 1..SMALL.max_discard]);
        assert_eq!(f.next_frame(), Err(ParseError::MessageTooLarge));
        f.push(MSG);
        assert_eq!(f.next_frame(), Err(ParseError::MessageTooLarge));
        assert!(f.buf.is_empty());
        // The same with the default limits: 1 MiB of headers.
        let mut stream = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        stream.resize((1 << 20) + 10, b'a');
        let (frames, err) = frame_all(&stream, 4096, Limits::default());
        assert_eq!(frames, [too_large(&stream[..65_535])]);
        assert_eq!(err, Some(ParseError::MessageTooLarge));
    }

    #[test]
    fn discard_cap_is_enforced() {
        let start = "OPTIONS sip:a SIP/2.0";
        // Known length: a message of exactly max_discard bytes is skipped...
        let (head, at_cap) = sized(start, SMALL.max_discard);
        assert_eq!(at_cap.len(), SMALL.max_discard);
        let mut stream = at_cap.clone();
        stream.extend_from_slice(MSG);
        assert_eq!(
            frame_all(&stream, 1, SMALL),
            (vec![too_large(&head), message(MSG)], None)
        );
        // ... one byte more is refused at once, the head still buffered.
        let (head, over) = sized(start, SMALL.max_discard + 1);
        let mut f = StreamFramer::new(SMALL);
        f.push(&over);
        assert_eq!(f.next_frame(), Err(ParseError::MessageTooLarge));
        assert_eq!(&f.buf[..head.len()], &head[..]);
        // Headers past max_message_size: the same cap, known at their end.
        let pad = "a".repeat(100);
        let start = format!("OPTIONS sip:a SIP/2.0\r\nX-Pad: {pad}");
        let (_, at_cap) = sized(&start, SMALL.max_discard);
        let mut stream = at_cap.clone();
        stream.extend_from_slice(MSG);
        assert_eq!(
            frame_all(&stream, 1, SMALL),
            (vec![too_large(&at_cap[..64]), message(MSG)], None)
        );
        let (head, over) = sized(&start, SMALL.max_discard + 1);
        let mut f = StreamFramer::new(SMALL);
        f.push(&over[..head.len()]);
        assert_eq!(f.next_frame().unwrap(), Some(too_large(&over[..64])));
        assert_eq!(f.next_frame(), Err(ParseError::MessageTooLarge));
    }

    #[test]
    fn limits_are_exact() {
        // A message of exactly max_message_size bytes is a message.
        let (_, exact) = sized("OPTIONS sip:a SIP/2.0", 64);
        assert_eq!(frame_all(&exact, 1, SMALL), (vec![message(&exact)], None));
        let (head, over) = sized("OPTIONS sip:a SIP/2.0", 65);
        assert_eq!(frame_all(&over, 1, SMALL), (vec![too_large(&head)], None));
        // Headers of 64 bytes fit; of 65, the blank line straddles the limit.
        let unpadded = request("OPTIONS sip:a SIP/2.0\r\nX: ", 0).0.len();
        for len in [64, 65] {
            let pad = "a".repeat(len - unpadded);
            let (head, m) = request(&format!("OPTIONS sip:a SIP/2.0\r\nX: {pad}"), 0);
            assert_eq!(head.len(), len);
            let mut stream = m.clone();
            stream.extend_from_slice(MSG);
            let first = if len == 64 {
                message(&m)
            } else {
                too_large(&m[..64])
            };
            for chunk in [stream.len(), 1] {
                assert_eq!(
                    frame_all(&stream, chunk, SMALL),
                    (vec![first.clone(), message(MSG)], None)
                );
            }
        }
    }

    #[test]
    fn oversized_messages_that_cannot_be_delimited_are_errors() {
        // Headers within the limit: the errors of today, nothing skipped.
        let mut f = StreamFramer::new(SMALL);
        f.push(b"OPTIONS sip:a SIP/2.0\r\nl: 99x\r\n\r\n");
        assert_eq!(f.next_frame(), Err(ParseError::BadContentLength));
        // Headers past it: their head first, then the error at their end.
        let pad = "a".repeat(100);
        let stream = format!("OPTIONS sip:a SIP/2.0\r\nX-Pad: {pad}\r\n\r\n");
        for chunk in [stream.len(), 1] {
            assert_eq!(
                frame_all(stream.as_bytes(), chunk, SMALL),
                (
                    vec![too_large(&stream.as_bytes()[..64])],
                    Some(ParseError::MissingContentLength)
                )
            );
        }
    }

    #[test]
    fn content_length_reads_the_same_buffered_and_skipped() {
        let cases: &[(&str, Result<(), ParseError>)] = &[
            ("Content-Length: 5", Ok(())),
            ("l:5", Ok(())),
            ("  content-LENGTH  :\t 5 \t", Ok(())),
            ("L: 0000000005", Ok(())),
            ("Content-Length: 5\r\nl: 5", Ok(())),
            ("Content-Length: 5\r\nContent-Lengths: 7", Ok(())),
            ("X-Content-Length: 7\r\nl: 5", Ok(())),
            ("Content-Length: 5 5", Err(ParseError::BadContentLength)),
            ("Content-Length: +5", Err(ParseError::BadContentLength)),
            ("Content-Length: 5x", Err(ParseError::BadContentLength)),
            (
                "Content-Length: 00000000005",
                Err(ParseError::BadContentLength),
            ),
            ("Content-Length:", Err(ParseError::BadContentLength)),
            ("Content-Length: \u{e9}", Err(ParseError::BadContentLength)),
            (
                "Content-Length: 5\r\nl: 6",
                Err(ParseError::BadContentLength),
            ),
            ("Content Length: 5", Err(ParseError::MissingContentLength)),
            ("X: 5", Err(ParseError::MissingContentLength)),
        ];
        let pad = "a".repeat(100);
        for (header, expected) in cases {
            // Buffered: the headers fit in the default limits.
            let small = format!("OPTIONS sip:a SIP/2.0\r\n{header}\r\n\r\n12345");
            let mut f = StreamFramer::new(Limits::default());
            f.push(small.as_bytes());
            let buffered = f.next_frame();
            match expected {
                Ok(()) => assert_eq!(buffered, Ok(Some(message(small.as_bytes()))), "{header}"),
                Err(e) => assert_eq!(buffered, Err(*e), "{header}"),
            }
            // Skipped: the Content-Length comes past max_message_size.
            let big = format!("OPTIONS sip:a SIP/2.0\r\nX-Pad: {pad}\r\n{header}\r\n\r\n12345");
            let mut stream = big.clone().into_bytes();
            stream.extend_from_slice(MSG);
            let head = too_large(&big.as_bytes()[..64]);
            for chunk in [stream.len(), 1] {
                let got = frame_all(&stream, chunk, SMALL);
                match expected {
                    Ok(()) => assert_eq!(got, (vec![head.clone(), message(MSG)], None), "{header}"),
                    Err(e) => assert_eq!(got, (vec![head.clone()], Some(*e)), "{header}"),
                }
            }
        }
    }

    #[test]
    fn one_byte_reads_frame_like_one_read() {
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(MSG);
        // Known length, too large.
        stream.extend_from_slice(&request("MESSAGE sip:a SIP/2.0", 500).1);
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(MSG);
        // Headers too large, the Content-Length past the limit; then a ping
        // and a lone CRLF before the last message.
        let pad = "a".repeat(200);
        stream.extend_from_slice(&request(&format!("MESSAGE sip:a SIP/2.0\r\nX: {pad}"), 300).1);
        stream.extend_from_slice(b"\r\n\r\n\r\n");
        stream.extend_from_slice(MSG);
        let whole = frame_all(&stream, stream.len(), SMALL);
        assert_eq!(whole.1, None);
        assert_eq!(
            whole
                .0
                .iter()
                .map(|f| match f {
                    Frame::Message(_) => 'm',
                    Frame::Ping => 'p',
                    Frame::TooLarge(_) => 't',
                })
                .collect::<String>(),
            "pmtmtpm"
        );
        for chunk in 1..=9 {
            assert_eq!(
                frame_all(&stream, chunk, SMALL),
                whole,
                "{chunk}-byte reads"
            );
        }
    }
}
