//! The CSeq header (RFC 3261 §20.16).

use crate::error::ParseError;
use crate::scan::{is_token, trim_lws};

/// `CSeq: <number> <method>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number (less than 2^31 as §8.1.1.5 requires).
    pub seq: u32,
    /// The method token.
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    /// Parses a CSeq value.
    pub fn parse(s: &'a str) -> Result<CSeq<'a>, ParseError> {
        let s = trim_lws(s);
        let split = s.find([' ', '\t', '\r', '\n']).ok_or(ParseError::BadCSeq)?;
        let num = &s[..split];
        let method = trim_lws(&s[split..]);
        let seq = crate::scan::parse_decimal(num, 10).ok_or(ParseError::BadCSeq)?;
        if seq >= 1 << 31 || !is_token(method) {
            return Err(ParseError::BadCSeq);
        }
        Ok(CSeq {
            seq: seq as u32,
            method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            CSeq::parse("1 REGISTER").unwrap(),
            CSeq {
                seq: 1,
                method: "REGISTER"
            }
        );
        assert_eq!(CSeq::parse("2\r\n  INVITE").unwrap().method, "INVITE");
        assert_eq!(
            CSeq::parse("2147483648 INVITE").unwrap_err(),
            ParseError::BadCSeq
        );
        assert_eq!(CSeq::parse("x INVITE").unwrap_err(), ParseError::BadCSeq);
        assert_eq!(CSeq::parse("1").unwrap_err(), ParseError::BadCSeq);
    }
}
