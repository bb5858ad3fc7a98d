//! `;name=value` parameter lists of URIs and headers, read lazily from the
//! raw text.

use crate::error::ParseError;
use crate::scan::{split_outside_quotes, trim_lws};

/// A parameter list as raw text (without the leading `;`). Iterating yields
/// `(name, value)` pairs; names compare case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a str,
}

impl<'a> Params<'a> {
    /// Wraps the text after the first `;` (or "" for no parameters).
    pub fn new(raw: &'a str) -> Self {
        Params { raw }
    }

    /// The raw text, without the leading `;`.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Every `(name, value)` pair; a parameter without `=` has value `None`.
    /// Values are returned as written (quotes kept; see [`unquote`]).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        let raw = self.raw;
        split_outside_quotes(raw, b';')
            .filter(|p| !p.is_empty())
            .map(|p| match p.find('=') {
                Some(eq) => (trim_lws(&p[..eq]), Some(trim_lws(&p[eq + 1..]))),
                None => (p, None),
            })
    }

    /// The parameter named `name` (case-insensitive): `None` if absent,
    /// `Some(None)` if present without a value.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// [`Params::get`] for each of `names`, in one pass over the text
    /// (for callers that look up several parameters of one list).
    pub fn get_many<const N: usize>(&self, names: [&str; N]) -> [Option<Option<&'a str>>; N] {
        let mut found = [None; N];
        for (n, v) in self.iter() {
            for (name, slot) in names.iter().zip(found.iter_mut()) {
                if slot.is_none() && n.eq_ignore_ascii_case(name) {
                    *slot = Some(v);
                }
            }
        }
        found
    }

    /// True when a parameter named `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Checks that every parameter has a token name and a token or
    /// quoted-string value (RFC 3261 `generic-param`; IPv6 references and
    /// the characters URIs allow are accepted in values).
    pub fn validate(&self) -> Result<(), ParseError> {
        for part in split_outside_quotes(self.raw, b';') {
            if part.is_empty() {
                if self.raw.is_empty() {
                    return Ok(());
                }
                return Err(ParseError::BadParameter);
            }
            let (name, value) = match part.find('=') {
                Some(eq) => (trim_lws(&part[..eq]), Some(trim_lws(&part[eq + 1..]))),
                None => (part, None),
            };
            if !name
                .bytes()
                .all(|b| crate::scan::is_token_char(b) || b"[]/:&+$".contains(&b))
                || name.is_empty()
            {
                return Err(ParseError::BadParameter);
            }
            if let Some(v) = value {
                if v.starts_with('"') {
                    unquote(v)?;
                } else if v.is_empty()
                    || !v
                        .bytes()
                        .all(|b| crate::scan::is_token_char(b) || b"[]/:&+$@?=,".contains(&b))
                {
                    return Err(ParseError::BadParameter);
                }
            }
        }
        Ok(())
    }
}

/// The content of a quoted string, with the quotes removed and `\x` escapes
/// kept as written when there are none to resolve, or resolved into a new
/// string when there are. A value without quotes is returned unchanged.
pub fn unquote(v: &str) -> Result<std::borrow::Cow<'_, str>, ParseError> {
    let Some(inner) = v.strip_prefix('"') else {
        return Ok(std::borrow::Cow::Borrowed(v));
    };
    let b = inner.as_bytes();
    let mut i = 0;
    let mut escaped = false;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                escaped = true;
                i += 1;
                if i >= b.len() {
                    return Err(ParseError::UnterminatedQuote);
                }
            }
            b'"' => {
                if i + 1 != b.len() {
                    return Err(ParseError::UnterminatedQuote);
                }
                let content = &inner[..i];
                if !escaped {
                    return Ok(std::borrow::Cow::Borrowed(content));
                }
                let mut out = String::with_capacity(content.len());
                let mut chars = content.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        if let Some(n) = chars.next() {
                            out.push(n);
                        }
                    } else {
                        out.push(c);
                    }
                }
                return Ok(std::borrow::Cow::Owned(out));
            }
            _ => {}
        }
        i += 1;
    }
    Err(ParseError::UnterminatedQuote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_and_finds() {
        let p = Params::new("tag=1; expires = 60;lr;+sip.instance=\"<urn:uuid:1;2>\"");
        assert_eq!(p.get("TAG"), Some(Some("1")));
        assert_eq!(p.get("expires"), Some(Some("60")));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.get("+sip.instance"), Some(Some("\"<urn:uuid:1;2>\"")));
        assert_eq!(p.get("nope"), None);
        assert_eq!(
            p.get_many(["nope", "LR", "tag", "expires"]),
            [None, Some(None), Some(Some("1")), Some(Some("60"))]
        );
        let twice = Params::new("q=1;Q=2");
        assert_eq!(twice.get_many(["q"]), [twice.get("q")]);
        assert!(p.validate().is_ok());
        assert_eq!(unquote("\"a\\\"b\"").unwrap(), "a\"b");
        assert!(unquote("\"open").is_err());
    }
}
