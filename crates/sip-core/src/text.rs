//! Addresses and tags written without the `core::fmt` machinery: they are
//! written for every response and every binding.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Room for the longest socket address text, `[v6%scope]:port`.
const CAP: usize = 64;

/// An IP or socket address as text, in a stack buffer.
pub(crate) struct AddrText {
    buf: [u8; CAP],
    len: usize,
}

impl AddrText {
    /// `ip` as its `Display` writes it.
    pub(crate) fn ip(ip: IpAddr) -> AddrText {
        let mut t = AddrText {
            buf: [0; CAP],
            len: 0,
        };
        match ip {
            IpAddr::V4(a) => t.push_v4(a),
            IpAddr::V6(a) => t.push_fmt(format_args!("{a}")),
        }
        t
    }

    /// `addr` as its `Display` writes it: `ip:port`, `[v6]:port`.
    pub(crate) fn socket(addr: SocketAddr) -> AddrText {
        match addr {
            SocketAddr::V4(a) => {
                let mut t = AddrText::ip(IpAddr::V4(*a.ip()));
                t.push(b":");
                t.push(itoa::Buffer::new().format(a.port()).as_bytes());
                t
            }
            SocketAddr::V6(a) => {
                let mut t = AddrText {
                    buf: [0; CAP],
                    len: 0,
                };
                t.push_fmt(format_args!("{a}"));
                t
            }
        }
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(CAP);
        let n = end - self.len;
        self.buf[self.len..end].copy_from_slice(&bytes[..n]);
        self.len = end;
    }

    fn push_v4(&mut self, a: Ipv4Addr) {
        for (i, octet) in a.octets().into_iter().enumerate() {
            if i > 0 {
                self.push(b".");
            }
            self.push(itoa::Buffer::new().format(octet).as_bytes());
        }
    }

    /// IPv6 text is rare enough to go through `fmt`, still without an
    /// allocation.
    fn push_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        let mut rest = &mut self.buf[self.len..];
        let room = rest.len();
        let _ = std::io::Write::write_fmt(&mut rest, args);
        self.len += room - rest.len();
    }
}

/// `v` as 16 lower-case hex digits (as `{:016x}` writes it).
pub(crate) fn hex16(v: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    (0..16)
        .rev()
        .map(|i| char::from(DIGITS[((v >> (i * 4)) & 0xf) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_display_writes_them() {
        for a in [
            "203.0.113.7:40123",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::1]:5060",
            "[2001:db8::7]:5061",
            "[::ffff:192.0.2.1]:1",
            "[fe80::1%4294967295]:65535",
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535",
        ] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(AddrText::socket(addr).as_str(), addr.to_string());
            assert_eq!(AddrText::ip(addr.ip()).as_str(), addr.ip().to_string());
        }
    }

    #[test]
    fn hex_is_zero_padded() {
        for v in [0, 1, 0xabc, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(hex16(v), format!("{v:016x}"));
        }
    }
}
