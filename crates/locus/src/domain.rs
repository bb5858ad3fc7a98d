//! Domain names as locus accepts them: RFC 3261 hostnames and IP literals,
//! in one canonical spelling, for `serve --domain` and `users --domain`.

use std::net::{IpAddr, Ipv6Addr};

/// Lowercases a hostname or IP literal; IPv6 (bare or bracketed) becomes the
/// bracketed canonical form. `None` when it is neither.
pub fn normalize_domain(raw: &str) -> Option<String> {
    let lower = raw.to_ascii_lowercase();
    if let Some(inner) = lower.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(|ip| format!("[{ip}]"));
    }
    match lower.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => Some(ip.to_string()),
        Ok(IpAddr::V6(ip)) => Some(format!("[{ip}]")),
        Err(_) => is_hostname(&lower).then_some(lower),
    }
}

/// RFC 3261 `hostname`: dot-separated labels of letters, digits and inner
/// hyphens, the last one starting with a letter.
fn is_hostname(host: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let top_ok = host
        .rsplit('.')
        .next()
        .is_some_and(|top| top.starts_with(|c: char| c.is_ascii_alphabetic()));
    host.len() <= 253 && host.split('.').all(label_ok) && top_ok
}
