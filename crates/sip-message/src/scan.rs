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
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut in_quote = false;
        let mut in_angle = false;
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
            } else if c == self.sep && !in_angle {
                self.pos = i + 1;
                return Some(trim_lws(&self.s[start..i]));
            }
            i += 1;
        }
        self.done = true;
        Some(trim_lws(&self.s[start.min(self.s.len())..]))
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
