//! Third-party registration grants: which authenticated identities may
//! register which other addresses-of-record (RFC 3261 §10.2: a REGISTER
//! whose From differs from its To).

use location_model::User;
use std::fmt;

/// `IDENTITY=PATTERN`: the user `IDENTITY` (`user@domain`) may register
/// the AORs matching `PATTERN`: `user@domain`, `*@domain` (any user of the
/// domain) or `*` (any AOR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    user: String,
    domain: String,
    pattern: Pattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Domain(String),
    Exact(String, String),
}

/// The `user@host` of a canonical AOR (scheme removed, port removed), or
/// `None` when it has no user part.
pub fn aor_user_host(aor: &str) -> Option<(&str, &str)> {
    let rest = aor
        .strip_prefix("sip:")
        .or_else(|| aor.strip_prefix("sips:"))
        .unwrap_or(aor);
    let (user, hostport) = rest.rsplit_once('@')?;
    Some((user, strip_port(hostport)))
}

/// `host` of `host[:port]` (IPv6 kept in brackets).
pub fn strip_port(hostport: &str) -> &str {
    if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(end) => &hostport[..=end],
            None => hostport,
        }
    } else {
        hostport.split(':').next().unwrap_or(hostport)
    }
}

impl Grant {
    /// Parses `IDENTITY=PATTERN`; the error says what is wrong.
    pub fn parse(spec: &str) -> Result<Grant, String> {
        let (identity, pattern) = spec.split_once('=').ok_or_else(|| {
            format!("expected IDENTITY=PATTERN (e.g. pbx@example.com=*@example.com), got '{spec}'")
        })?;
        let (user, domain) = identity
            .trim()
            .split_once('@')
            .filter(|(u, d)| !u.is_empty() && !d.is_empty() && !u.contains('*'))
            .ok_or_else(|| format!("identity must be user@domain, got '{identity}'"))?;
        let pattern = match pattern.trim() {
            "*" => Pattern::Any,
            p => match p.split_once('@') {
                Some(("*", d)) if !d.is_empty() => Pattern::Domain(d.to_ascii_lowercase()),
                Some((u, d)) if !u.is_empty() && !d.is_empty() && !u.contains('*') => {
                    Pattern::Exact(u.to_string(), d.to_ascii_lowercase())
                }
                _ => {
                    return Err(format!(
                        "pattern must be user@domain, *@domain or *, got '{p}'"
                    ))
                }
            },
        };
        Ok(Grant {
            user: user.to_string(),
            domain: domain.to_ascii_lowercase(),
            pattern,
        })
    }

    /// True when `user` may register `aor` under this grant.
    pub fn permits(&self, user: &User, aor: &str) -> bool {
        if user.username != self.user || user.domain != self.domain {
            return false;
        }
        let Some((u, host)) = aor_user_host(aor) else {
            return false;
        };
        match &self.pattern {
            Pattern::Any => true,
            Pattern::Domain(d) => host == d,
            Pattern::Exact(pu, pd) => u == pu && host == pd,
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}=", self.user, self.domain)?;
        match &self.pattern {
            Pattern::Any => f.write_str("*"),
            Pattern::Domain(d) => write!(f, "*@{d}"),
            Pattern::Exact(u, d) => write!(f, "{u}@{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use location_model::Ha1Set;

    fn user(name: &str, domain: &str) -> User {
        User {
            username: name.into(),
            domain: domain.into(),
            realm: domain.into(),
            ha1: Ha1Set::default(),
        }
    }

    #[test]
    fn patterns() {
        let pbx = user("pbx", "example.com");
        let g = Grant::parse("pbx@Example.com=*@example.com").unwrap();
        assert_eq!(g.to_string(), "pbx@example.com=*@example.com");
        assert!(g.permits(&pbx, "sip:alice@example.com"));
        assert!(g.permits(&pbx, "sip:alice@example.com:5060"));
        assert!(!g.permits(&pbx, "sip:alice@example.org"));
        assert!(!g.permits(&user("alice", "example.com"), "sip:bob@example.com"));
        let g = Grant::parse("pbx@example.com=bob@example.com").unwrap();
        assert!(g.permits(&pbx, "sip:bob@example.com"));
        assert!(!g.permits(&pbx, "sip:carol@example.com"));
        let g = Grant::parse("pbx@example.com=*").unwrap();
        assert!(g.permits(&pbx, "sips:x@y.org"));
        for bad in [
            "pbx",
            "pbx@example.com",
            "@x=*",
            "pbx@x=*@",
            "pbx@x=a*@x",
            "*@x=*",
        ] {
            assert!(Grant::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_host() {
        assert_eq!(aor_user_host("sip:a@b.c:5060"), Some(("a", "b.c")));
        assert_eq!(aor_user_host("sip:a@[::1]:5060"), Some(("a", "[::1]")));
        assert_eq!(aor_user_host("sip:b.c"), None);
    }
}
