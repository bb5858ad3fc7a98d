//! The `auth-param` lists of `WWW-Authenticate`, `Authorization` and their
//! `Proxy-` variants (RFC 3261 §25.1, RFC 7235 §2.1): a scheme, then
//! comma-separated `name=value` pairs whose values are tokens or quoted
//! strings with `\` escapes. Names compare case-insensitively.

use super::DigestError;
use std::borrow::Cow;
use std::fmt::Write as _;

/// One challenge or credentials: the scheme and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams<'a> {
    /// The scheme, as written (`Digest`).
    pub scheme: &'a str,
    /// The parameters in order, values unquoted.
    pub params: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> AuthParams<'a> {
    /// Parses a header value, which may hold several challenges (each
    /// starting with its scheme).
    pub fn parse_all(value: &'a str) -> Result<Vec<AuthParams<'a>>, DigestError> {
        let mut out: Vec<AuthParams<'a>> = Vec::new();
        let b = value.as_bytes();
        let mut i = 0;
        loop {
            while i < b.len() && (b[i] == b',' || is_ws(b[i])) {
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            let start = i;
            while i < b.len() && !is_ws(b[i]) && b[i] != b'=' && b[i] != b',' && b[i] != b'"' {
                i += 1;
            }
            let name = &value[start..i];
            if name.is_empty() {
                return Err(DigestError::Malformed("expected a parameter name"));
            }
            let mut j = i;
            while j < b.len() && is_ws(b[j]) {
                j += 1;
            }
            if j < b.len() && b[j] == b'=' {
                j += 1;
                while j < b.len() && is_ws(b[j]) {
                    j += 1;
                }
                let (v, end) = if j < b.len() && b[j] == b'"' {
                    quoted(value, j)?
                } else {
                    let vs = j;
                    while j < b.len() && b[j] != b',' && !is_ws(b[j]) {
                        j += 1;
                    }
                    (Cow::Borrowed(&value[vs..j]), j)
                };
                let current = out
                    .last_mut()
                    .ok_or(DigestError::Malformed("parameter before the scheme"))?;
                current.params.push((name, v));
                i = end;
            } else {
                out.push(AuthParams {
                    scheme: name,
                    params: Vec::new(),
                });
                i = j;
            }
        }
        if out.is_empty() {
            return Err(DigestError::Malformed("empty value"));
        }
        Ok(out)
    }

    /// True when the scheme is `Digest` (case-insensitive).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("digest")
    }

    /// The value of parameter `name` (case-insensitive), the first if repeated.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// The quoted string starting at `value[start] == '"'`: its unescaped
/// content and the index after the closing quote.
fn quoted(value: &str, start: usize) -> Result<(Cow<'_, str>, usize), DigestError> {
    let b = value.as_bytes();
    let mut i = start + 1;
    let mut escaped = false;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                escaped = true;
                i += 2;
            }
            b'"' => {
                let inner = &value[start + 1..i];
                let v = if escaped {
                    let mut s = String::with_capacity(inner.len());
                    let mut chars = inner.chars();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => s.extend(chars.next()),
                            c => s.push(c),
                        }
                    }
                    Cow::Owned(s)
                } else {
                    Cow::Borrowed(inner)
                };
                return Ok((v, i + 1));
            }
            _ => i += 1,
        }
    }
    Err(DigestError::Malformed("unterminated quoted string"))
}

/// Appends `, name="value"` (or `name="value"` first), escaping `"` and `\`.
pub(crate) fn push_quoted(out: &mut String, name: &str, value: &str) {
    push_sep(out);
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Appends `, name=value` with a token value.
pub(crate) fn push_token(out: &mut String, name: &str, value: impl std::fmt::Display) {
    push_sep(out);
    let _ = write!(out, "{name}={value}");
}

fn push_sep(out: &mut String) {
    if !out.ends_with(' ') {
        out.push_str(", ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tokens_quoted_strings_and_escapes() {
        let all = AuthParams::parse_all(
            "Digest  USERNAME=\"a\\\"b\" ,realm=\"x, y\",nc=00000001,qop=auth , ,algorithm=MD5",
        )
        .unwrap();
        assert_eq!(all.len(), 1);
        let p = &all[0];
        assert!(p.is_digest());
        assert_eq!(p.get("username"), Some("a\"b"));
        assert_eq!(p.get("Realm"), Some("x, y"));
        assert_eq!(p.get("nc"), Some("00000001"));
        assert_eq!(p.get("qop"), Some("auth"));
        assert_eq!(p.get("algorithm"), Some("MD5"));
        assert_eq!(p.get("opaque"), None);
    }

    #[test]
    fn several_challenges_in_one_value() {
        let all =
            AuthParams::parse_all("Digest realm=\"a\", nonce=\"1\", Digest realm=\"b\", nonce=2")
                .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].get("realm"), Some("b"));
        assert_eq!(all[1].get("nonce"), Some("2"));
    }

    #[test]
    fn defects_are_errors() {
        assert!(AuthParams::parse_all("").is_err());
        assert!(AuthParams::parse_all("realm=\"a\"").is_err());
        assert!(AuthParams::parse_all("Digest realm=\"open").is_err());
        assert!(AuthParams::parse_all("Digest realm=\"a\\").is_err());
        assert!(AuthParams::parse_all("Digest \"x\"").is_err());
    }

    #[test]
    fn quoting_escapes() {
        let mut s = String::from("Digest ");
        push_quoted(&mut s, "realm", "a\"b\\c");
        push_token(&mut s, "nc", "00000001");
        assert_eq!(s, "Digest realm=\"a\\\"b\\\\c\", nc=00000001");
        let back = AuthParams::parse_all(&s).unwrap();
        assert_eq!(back[0].get("realm"), Some("a\"b\\c"));
    }
}
