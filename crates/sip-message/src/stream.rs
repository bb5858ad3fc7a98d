//! Framing SIP messages out of a byte stream (TCP, TLS): CRLF keep-alives
//! between messages are skipped, each message ends where Content-Length says.

use crate::error::ParseError;
use crate::header::HeaderName;
use crate::limits::Limits;
use crate::message::{find_header_end, skip_leading_crlf};
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
}

impl StreamFramer {
    /// A framer enforcing `limits` (a message larger than
    /// `max_message_size` is an error as soon as its size is known).
    pub fn new(limits: Limits) -> StreamFramer {
        StreamFramer {
            buf: BytesMut::with_capacity(4096),
            limits,
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
        let skip = skip_leading_crlf(&self.buf);
        if skip > 0 {
            self.buf.advance(skip);
            if skip >= 4 {
                return Ok(Some(Frame::Ping));
            }
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        let Some(hdr_end) = find_header_end(&self.buf) else {
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
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(Frame::Message(self.buf.split_to(total).freeze())))
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
