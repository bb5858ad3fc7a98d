//! The Via header (RFC 3261 §20.42, RFC 3581 rport).

use crate::error::ParseError;
use crate::params::Params;
use crate::scan::trim_lws;
use crate::uri::{parse_hostport, Host};

/// One Via value: `SIP/2.0/UDP host:port;branch=...;rport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via<'a> {
    /// The transport token (`UDP`, `TCP`, `TLS`, `WS`, ...), as written.
    pub transport: &'a str,
    /// The sent-by host.
    pub host: Host<'a>,
    /// The sent-by host as written.
    pub host_str: &'a str,
    /// The sent-by port, if written.
    pub port: Option<u16>,
    /// Via parameters.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via value (split a multi-value line first).
    pub fn parse(s: &'a str) -> Result<Via<'a>, ParseError> {
        let s = trim_lws(s);
        // sent-protocol = protocol-name SLASH protocol-version SLASH transport
        let mut parts = s.splitn(3, '/');
        let name = trim_lws(parts.next().ok_or(ParseError::BadVia)?);
        let version = trim_lws(parts.next().ok_or(ParseError::BadVia)?);
        let rest = trim_lws(parts.next().ok_or(ParseError::BadVia)?);
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(ParseError::BadVia);
        }
        let t_end = rest
            .find([' ', '\t', '\r', '\n'])
            .ok_or(ParseError::BadVia)?;
        let transport = &rest[..t_end];
        if !crate::scan::is_token(transport) {
            return Err(ParseError::BadVia);
        }
        let after = trim_lws(&rest[t_end..]);
        let (sent_by, params) = match after.find(';') {
            Some(i) => (trim_lws(&after[..i]), trim_lws(&after[i + 1..])),
            None => (after, ""),
        };
        // Whitespace around the port colon is allowed by the grammar (COLON).
        let sent_by_host_end = sent_by.find([' ', '\t']).unwrap_or(sent_by.len());
        let (host, port) = if sent_by_host_end < sent_by.len() {
            let host = &sent_by[..sent_by_host_end];
            let tail = trim_lws(&sent_by[sent_by_host_end..]);
            let port = trim_lws(tail.strip_prefix(':').ok_or(ParseError::BadVia)?);
            let (h, _) = parse_hostport(host).map_err(|_| ParseError::BadVia)?;
            let p = crate::scan::parse_decimal(port, 5)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or(ParseError::BadVia)?;
            (h, Some(p))
        } else {
            parse_hostport(sent_by).map_err(|_| ParseError::BadVia)?
        };
        let host_str = if sent_by.starts_with('[') {
            &sent_by[..sent_by.find(']').map_or(sent_by.len(), |i| i + 1)]
        } else {
            sent_by[..sent_by_host_end]
                .split(':')
                .next()
                .unwrap_or(sent_by)
        };
        let params = Params::new(params);
        params.validate().map_err(|_| ParseError::BadVia)?;
        Ok(Via {
            transport,
            host,
            host_str,
            port,
            params,
        })
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.get("branch").flatten()
    }

    /// True when the branch carries the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;rport").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host_str, "192.0.2.1");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bKabc"));
        assert_eq!(v.params.get("rport"), Some(None));
        let v = Via::parse("SIP / 2.0 / TCP [2001:db8::9]:5061 ;branch=z9hG4bK1").unwrap();
        assert_eq!(v.host_str, "[2001:db8::9]");
        assert_eq!(v.port, Some(5061));
        let v = Via::parse("SIP/2.0/UDP host.example.com : 5062;branch=z9hG4bK2").unwrap();
        assert_eq!(v.port, Some(5062));
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/3.0/UDP h").is_err());
    }
}
