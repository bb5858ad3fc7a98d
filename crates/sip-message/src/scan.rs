//! Character classes and small scanning helpers shared by the parsers.

/// `token` characters of RFC 3261 §25.1.
pub(crate) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// True when `s` is a non-empty token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Linear white space inside a header value: folding has left CR LF
/// followed by SP/HT in the raw slice, which counts as white space.
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `s` without leading and trailing linear white space.
pub(crate) fn trim_lws(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii() && is_lws(c as u8))
}

/// Index of the first byte at or after `i` that is not linear white space.
pub(crate) fn skip_lws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_lws(b[i]) {
        i += 1;
    }
    i
}

/// Splits `s` at `sep` bytes that stand outside quoted strings and angle
/// brackets; yields the trimmed pieces, empty ones included.
pub(crate) fn split_outside_quotes(s: &str, sep: u8) -> SplitOutside<'_> {
    SplitOutside {
        s,
        pos: 0,
        done: false,
        sep,
    }
}

/// Iterator returned by [`split_outside_quotes`].
pub(crate) struct SplitOutside<'a> {
    s: &'a str,
    pos: usize,
    done: bool,
    sep: u8,
}

impl<'a> Iterator for SplitOutside<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let start = self.pos;
        match self.find_sep(start) {
            Some(i) => {
                self.pos = i + 1;
                Some(trim_lws(&self.s[start..i]))
            }
            None => {
                self.done = true;
                Some(trim_lws(&self.s[start.min(self.s.len())..]))
            }
        }
    }
}

impl SplitOutside<'_> {
    /// Index of the next `sep` at or after `i` outside quoted strings and
    /// angle brackets. Jumps between the bytes that matter with `memchr`:
    /// inside a quote `\` and `"`; inside `<...>` `"` and `>`; elsewhere
    /// `"`, `<` and `sep`.
    fn find_sep(&self, mut i: usize) -> Option<usize> {
        let b = self.s.as_bytes();
        let mut in_quote = false;
        let mut in_angle = false;
        while i < b.len() {
            let rest = &b[i..];
            let found = if in_quote {
                memchr::memchr2(b'\\', b'"', rest)
            } else if in_angle {
                memchr::memchr2(b'"', b'>', rest)
            } else {
                memchr::memchr3(b'"', b'<', self.sep, rest)
            };
            i += found?;
            match b[i] {
                b'\\' => i += 1,
                b'"' => in_quote = !in_quote,
                b'<' if !in_quote => in_angle = true,
                b'>' if !in_quote => in_angle = false,
                c if c == self.sep && !in_quote && !in_angle => return Some(i),
                _ => {}
            }
            i += 1;
        }
        None
    }
}

/// Value of one hex digit.
pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses a decimal number of at most `max_digits` digits.
pub(crate) fn parse_decimal(s: &str, max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte scan `find_sep` replaced, as the reference.
    fn reference(s: &str, sep: u8) -> Vec<&str> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        let (mut in_quote, mut in_angle) = (false, false);
        while i < b.len() {
            let c = b[i];
            if in_quote {
                if c == b'\\' {
                    i += 1;
                } else if c == b'"' {
                    in_quote = false;
                }
            } else if c == b'"' {
                in_quote = true;
            } else if c == b'<' {
                in_angle = true;
            } else if c == b'>' {
                in_angle = false;
            } else if c == sep && !in_angle {
                out.push(trim_lws(&s[start..i]));
                start = i + 1;
            }
            i += 1;
        }
        out.push(trim_lws(&s[start.min(s.len())..]));
        out
    }

    #[test]
    fn splits_as_the_byte_by_byte_scan() {
        for s in [
            "",
            ",",
            "a",
            "a,b",
            " a , b ,",
            ",,a,,",
            "SIP/2.0/UDP h;branch=z9hG4bK1;rport , SIP/2.0/TCP g",
            "\"a,b\" <c,d>, e",
            "<sip:a@b;lr>;+sip.instance=\"<urn:uuid:1;2>\";reg-id=1;expires=60",
            "\"x\\\",y\",z",
            "\"open,quote",
            "<open,angle",
            "a>b,c<d\"e>f\",g>,h",
            "\"ends with backslash\\",
            "\u{e9},\u{fc};x",
        ] {
            for sep in [b',', b';', b'&'] {
                let got: Vec<&str> = split_outside_quotes(s, sep).collect();
                assert_eq!(got, reference(s, sep), "{s:?} split at {}", sep as char);
            }
        }
    }
}
