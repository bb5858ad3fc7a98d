//! Writing SIP messages: a small builder over one `Vec<u8>`, so a response
//! costs one allocation however many headers it carries.

use std::fmt::Write as _;

/// Builds one SIP message: start line, headers, then `finish` with the body
/// (which writes Content-Length).
#[derive(Debug)]
pub struct MessageWriter {
    buf: Vec<u8>,
}

/// Replaces characters a reason phrase or header value must not carry (CR,
/// LF, other controls) with spaces, so text taken from a peer can never
/// inject a header.
pub fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    // Branch-free over the whole text, so the common clean case vectorizes.
    let clean = text.bytes().fold(true, |ok, b| {
        ok & (((b >= 0x20) & (b != 0x7f)) | (b == b'\t'))
    });
    if clean {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

impl MessageWriter {
    /// Starts a response with its status line.
    pub fn response(code: u16, reason: &str) -> MessageWriter {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(b"SIP/2.0 ");
        buf.extend_from_slice(itoa::Buffer::new().format(code).as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(sanitize(reason).as_bytes());
        buf.extend_from_slice(b"\r\n");
        MessageWriter { buf }
    }

    /// A copy of this response so far with another status line: the
    /// headers written up to now (those copied from the request) serve two
    /// responses that differ in their status and the headers that follow.
    pub fn with_status(&self, code: u16, reason: &str) -> MessageWriter {
        // The status line is the writer's own, so it ends at the first LF.
        let head_end = memchr::memchr(b'\n', &self.buf).map_or(self.buf.len(), |i| i + 1);
        let mut other = MessageWriter::response(code, reason);
        other.buf.extend_from_slice(&self.buf[head_end..]);
        other
    }

    /// Starts a request with its request line.
    pub fn request(method: &str, uri: &str) -> MessageWriter {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(method.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(uri.as_bytes());
        buf.extend_from_slice(b" SIP/2.0\r\n");
        MessageWriter { buf }
    }

    /// Appends `Name: value`. The value is sanitized of control characters.
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(sanitize(value).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Appends `Name: ` followed by formatted text (no sanitizing: for values
    /// locus builds itself).
    pub fn header_fmt(&mut self, name: &str, args: std::fmt::Arguments<'_>) -> &mut Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        let _ = self.write_fmt(args);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Appends raw bytes to the current header section (for a value written
    /// in several steps: call [`MessageWriter::header_start`] first and
    /// [`MessageWriter::header_end`] after).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Writes `Name: ` and leaves the value open.
    pub fn header_start(&mut self, name: &str) -> &mut Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self
    }

    /// Ends a header opened with [`MessageWriter::header_start`].
    pub fn header_end(&mut self) -> &mut Self {
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Writes Content-Length (and Content-Type when a body is given), the
    /// blank line and the body, and returns the bytes.
    pub fn finish(mut self, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
        if let Some(ct) = content_type {
            self.header("Content-Type", ct);
        }
        self.buf.extend_from_slice(b"Content-Length: ");
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        self.buf.extend_from_slice(b"\r\n\r\n");
        self.buf.extend_from_slice(body);
        self.buf
    }
}

impl std::fmt::Write for MessageWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_sanitizes() {
        let mut w = MessageWriter::response(400, "Bad\r\nInjected: yes");
        w.header("Call-ID", "a\r\nb");
        let out = String::from_utf8(w.finish(None, b"")).unwrap();
        assert_eq!(
            out,
            "SIP/2.0 400 Bad  Injected: yes\r\nCall-ID: a  b\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn with_status_keeps_the_headers_written_so_far() {
        let mut w = MessageWriter::response(200, "OK");
        w.header("Call-ID", "c");
        let mut failed = w.with_status(500, "Server Internal Error");
        failed.header("Retry-After", "5");
        w.header("Date", "d");
        assert_eq!(
            String::from_utf8(failed.finish(None, b"")).unwrap(),
            "SIP/2.0 500 Server Internal Error\r\nCall-ID: c\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(
            String::from_utf8(w.finish(None, b"")).unwrap(),
            "SIP/2.0 200 OK\r\nCall-ID: c\r\nDate: d\r\nContent-Length: 0\r\n\r\n"
        );
    }
}
