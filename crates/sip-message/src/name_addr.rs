//! `name-addr` and `addr-spec` with header parameters, as in To, From,
//! Contact, Route, Record-Route and Path (RFC 3261 §20.10, §25.1).

use crate::error::ParseError;
use crate::params::{unquote, Params};
use crate::scan::{is_token_char, skip_lws, trim_lws};

/// One `name-addr` or `addr-spec` followed by header parameters.
///
/// Without angle brackets every `;` after the URI starts a header
/// parameter (RFC 3261 §20: such a URI cannot carry its own parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name as written (quoted string with quotes, or tokens).
    pub display: Option<&'a str>,
    /// The URI text, without angle brackets.
    pub uri: &'a str,
    /// True when the URI was enclosed in `<...>`.
    pub bracketed: bool,
    /// Header parameters after the URI (`;tag=...`, `;expires=...`, `;q=...`).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// Parses one value (not a comma-separated list: split that first).
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, ParseError> {
        let s = trim_lws(s);
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(ParseError::BadNameAddr);
        }
        let (display, after_display) = if b[0] == b'"' {
            let end = quoted_end(b, 0)?;
            (Some(&s[..end]), end)
        } else if let Some(lt) = s.find('<') {
            // Tokens before '<' form the display name.
            let d = trim_lws(&s[..lt]);
            if !d
                .bytes()
                .all(|c| is_token_char(c) || c == b' ' || c == b'\t' || c == b'\r' || c == b'\n')
            {
                return Err(ParseError::BadNameAddr);
            }
            (if d.is_empty() { None } else { Some(d) }, lt)
        } else {
            (None, 0)
        };
        let i = skip_lws(b, after_display);
        if b.get(i) == Some(&b'<') {
            let close = s[i..]
                .find('>')
                .map(|c| c + i)
                .ok_or(ParseError::BadNameAddr)?;
            let uri = &s[i + 1..close];
            let rest = trim_lws(&s[close + 1..]);
            let params = parse_params_tail(rest)?;
            return Ok(NameAddr {
                display,
                uri,
                bracketed: true,
                params,
            });
        }
        if display.is_some() {
            return Err(ParseError::BadNameAddr);
        }
        let (uri, rest) = match s.find(';') {
            Some(semi) => (trim_lws(&s[..semi]), &s[semi..]),
            None => (s, ""),
        };
        if uri
            .bytes()
            .any(|c| c == b' ' || c == b',' || c == b'?' || c == b'>')
        {
            return Err(ParseError::BadNameAddr);
        }
        Ok(NameAddr {
            display,
            uri,
            bracketed: false,
            params: parse_params_tail(rest)?,
        })
    }

    /// The display name without quotes and escapes.
    pub fn display_name(&self) -> Option<std::borrow::Cow<'a, str>> {
        self.display.and_then(|d| unquote(d).ok())
    }

    /// The `tag` parameter (To/From).
    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag").flatten()
    }
}

fn parse_params_tail(rest: &str) -> Result<Params<'_>, ParseError> {
    if rest.is_empty() {
        return Ok(Params::default());
    }
    let inner = rest.strip_prefix(';').ok_or(ParseError::BadNameAddr)?;
    let p = Params::new(trim_lws(inner));
    p.validate()?;
    Ok(p)
}

/// Index just past the closing quote of the quoted string starting at `start`.
fn quoted_end(b: &[u8], start: usize) -> Result<usize, ParseError> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(ParseError::UnterminatedQuote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let n = NameAddr::parse(
            "\"Alice \\\"A\\\"\" <sip:alice@example.com;transport=tcp>;tag=88;expires=60",
        )
        .unwrap();
        assert_eq!(n.display_name().unwrap(), "Alice \"A\"");
        assert_eq!(n.uri, "sip:alice@example.com;transport=tcp");
        assert_eq!(n.tag(), Some("88"));
        let n = NameAddr::parse("sip:alice@example.com;expires=60").unwrap();
        assert_eq!(n.uri, "sip:alice@example.com");
        assert_eq!(n.params.get("expires"), Some(Some("60")));
        let n = NameAddr::parse("Bob Smith <sip:bob@b.example>").unwrap();
        assert_eq!(n.display, Some("Bob Smith"));
        assert_eq!(
            NameAddr::parse("<sip:a@b").unwrap_err(),
            ParseError::BadNameAddr
        );
        assert_eq!(
            NameAddr::parse("\"open <sip:a@b>").unwrap_err(),
            ParseError::UnterminatedQuote
        );
        let n = NameAddr::parse("<sip:[2001:db8::1]:5060>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1").unwrap();
        assert_eq!(n.params.get("reg-id"), Some(Some("1")));
    }
}
