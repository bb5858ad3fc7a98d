//! Typed views of the headers the protocol core decides on.

mod contact;
mod cseq;
mod via;

pub use contact::{parse_contacts, ContactList};
pub use cseq::CSeq;
pub use via::Via;

/// Parses `delta-seconds` as RFC 3261 §20.19/§20.47 say: decimal digits;
/// values above 2^32-1 are taken as 2^32-1; anything else is invalid (`None`,
/// which the registrar treats as "use the default").
pub fn parse_delta_seconds(s: &str) -> Option<u32> {
    let s = crate::scan::trim_lws(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 10 {
        return Some(u32::MAX);
    }
    Some(
        digits
            .parse::<u64>()
            .map_or(0, |v| v.min(u64::from(u32::MAX)) as u32),
    )
}

/// Parses a `qvalue` (`0`, `1`, `0.xyz`, `1.000`) into thousandths.
pub fn parse_qvalue(s: &str) -> Option<u16> {
    let s = crate::scan::trim_lws(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, d) in frac.bytes().enumerate() {
        thousandths += u16::from(d - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The comma-separated values of one header line (quoted strings and
/// `<...>` respected), trimmed, empty items skipped.
pub fn split_list(line: &str) -> impl Iterator<Item = &str> {
    crate::scan::split_outside_quotes(line, b',').filter(|v| !v.is_empty())
}

/// Option-tags of a `Require`, `Supported` or `Proxy-Require` value list.
pub fn option_tags<'a>(values: impl Iterator<Item = &'a str>) -> impl Iterator<Item = &'a str> {
    values.map(crate::scan::trim_lws).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_seconds() {
        assert_eq!(parse_delta_seconds("3600"), Some(3600));
        assert_eq!(parse_delta_seconds("0"), Some(0));
        assert_eq!(parse_delta_seconds("4294967295"), Some(u32::MAX));
        assert_eq!(parse_delta_seconds("4294967296"), Some(u32::MAX));
        assert_eq!(
            parse_delta_seconds("99999999999999999999999"),
            Some(u32::MAX)
        );
        assert_eq!(parse_delta_seconds("00000000000000060"), Some(60));
        assert_eq!(parse_delta_seconds("-1"), None);
        assert_eq!(parse_delta_seconds("Thu, 01 Dec 1994 16:00:00 GMT"), None);
        assert_eq!(parse_delta_seconds(""), None);
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("0.7"), Some(700));
        assert_eq!(parse_qvalue("0.123"), Some(123));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue("abc"), None);
    }
}
