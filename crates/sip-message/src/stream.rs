//! Framing SIP messages out of a byte stream (TCP, TLS): CRLF keep-alives
//! between messages are skipped, each message ends where Content-Length says.

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
}

/// Accumulates stream bytes and cuts them into messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    limits: Limits,
    /// CRLF octets consumed since the last frame, so that a keep-alive
    /// split across reads is still seen as one double CRLF.
    crlf_run: usize,
    /// Bytes of the message at the front already searched for the end of
    /// its headers, so a message arriving in small pieces is scanned once.
    scanned: usize,
    /// Total length of the message at the front, once its headers are in.
    pending: Option<usize>,
}

impl StreamFramer {
    /// A framer enforcing `limits` (a message larger than
    /// `max_message_size` is an error as soon as its size is known).
    pub fn new(limits: Limits) -> StreamFramer {
        StreamFramer {
            buf: BytesMut::with_capacity(4096),
            limits,
            crlf_run: 0,
            scanned: 0,
            pending: None,
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
    /// After an error the stream cannot be resynchronised: close it.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ParseError> {
        if let Some(total) = self.pending {
            return Ok(self.take(total));
        }
        // Each double CRLF is one ping (RFC 5626 §3.5.1), whether it came in
        // one read or several; a single CRLF before a message is skipped
        // (RFC 3261 §7.5).
        while self.scanned == 0 && self.buf.starts_with(b"\r\n") {
            self.buf.advance(2);
            self.crlf_run += 2;
            if self.crlf_run >= 4 {
                self.crlf_run = 0;
                return Ok(Some(Frame::Ping));
            }
        }
        // Nothing yet, or half of a CRLF that may still be a keep-alive.
        if self.scanned == 0 && (self.buf.is_empty() || &self.buf[..] == b"\r") {
            return Ok(None);
        }
        // Resume the search a few bytes back: the blank line may straddle reads.
        let from = self.scanned.saturating_sub(3);
        let Some(hdr_end) = find_header_end(&self.buf[from..]).map(|e| e + from) else {
            self.scanned = self.buf.len();
            if self.buf.len() > self.limits.max_message_size {
                return Err(ParseError::MessageTooLarge);
            }
            return Ok(None);
        };
        let head = &self.buf[..hdr_end];
        let mut content_length: Option<usize> = None;
        for line in head.split(|&b| b == b'\n').skip(1) {
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let name = trim_ascii(&line[..colon]);
            if HeaderName::from_bytes(name) == HeaderName::ContentLength {
                let v = std::str::from_utf8(trim_ascii(&line[colon + 1..]))
                    .map_err(|_| ParseError::BadContentLength)?;
                let n =
                    crate::scan::parse_decimal(v, 10).ok_or(ParseError::BadContentLength)? as usize;
                if content_length.is_some_and(|c| c != n) {
                    return Err(ParseError::BadContentLength);
                }
                content_length = Some(n);
            }
        }
        let body_len = content_length.ok_or(ParseError::MissingContentLength)?;
        let total = hdr_end + 2 + body_len;
        if total > self.limits.max_message_size {
            return Err(ParseError::MessageTooLarge);
        }
        self.pending = Some(total);
        Ok(self.take(total))
    }

    /// The message at the front once all `total` bytes are in.
    fn take(&mut self, total: usize) -> Option<Frame> {
        if self.buf.len() < total {
            return None;
        }
        self.crlf_run = 0;
        self.scanned = 0;
        self.pending = None;
        Some(Frame::Message(self.buf.split_to(total).freeze()))
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
