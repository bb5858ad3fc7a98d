//! Challenges: the value of a `WWW-Authenticate` or `Proxy-Authenticate`
//! header (RFC 7616 §3.3, RFC 3261 §22.4).

use super::params::{push_quoted, push_token, AuthParams};
use super::{Algorithm, DigestError, Qop};
use std::borrow::Cow;
use std::fmt;

/// A digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The protection space (RFC 7616 `realm`).
    pub realm: Cow<'a, str>,
    /// The server nonce.
    pub nonce: Cow<'a, str>,
    /// Opaque data the client must return unchanged.
    pub opaque: Option<Cow<'a, str>>,
    /// The hash algorithm (`MD5` when the parameter is absent).
    pub algorithm: Algorithm,
    /// True for the `-sess` variant of the algorithm.
    pub sess: bool,
    /// The qop values offered that this crate implements; empty for an
    /// RFC 2069 challenge without `qop`.
    pub qop: Vec<Qop>,
    /// True when the previous request was refused only because its nonce
    /// had expired (retry with the new nonce, no need to ask the user).
    pub stale: bool,
}

impl<'a> Challenge<'a> {
    /// Parses one challenge from already split parameters. Errors for a
    /// scheme other than Digest, a missing realm or nonce, an algorithm not
    /// implemented, or a `qop` list naming none of `auth` / `auth-int`.
    pub fn from_params(p: &AuthParams<'a>) -> Result<Challenge<'a>, DigestError> {
        if !p.is_digest() {
            return Err(DigestError::NotDigest);
        }
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut algorithm = (Algorithm::Md5, false);
        let mut qop = Vec::new();
        let mut qop_given = false;
        let mut stale = false;
        for (name, value) in &p.params {
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value.clone()),
                "nonce" => nonce = Some(value.clone()),
                "opaque" => opaque = Some(value.clone()),
                "algorithm" => {
                    algorithm = Algorithm::parse(value).ok_or(DigestError::UnsupportedAlgorithm)?
                }
                "qop" => {
                    qop_given = true;
                    qop.extend(value.split(',').filter_map(|q| Qop::parse(q.trim())));
                }
                "stale" => stale = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        if qop_given && qop.is_empty() {
            return Err(DigestError::UnsupportedQop);
        }
        Ok(Challenge {
            realm: realm.ok_or(DigestError::MissingParam("realm"))?,
            nonce: nonce.ok_or(DigestError::MissingParam("nonce"))?,
            opaque,
            algorithm: algorithm.0,
            sess: algorithm.1,
            qop,
            stale,
        })
    }

    /// Every digest challenge this crate can answer in the given header
    /// values (one per `WWW-Authenticate` line), in order; others skipped.
    pub fn parse_all<I>(values: I) -> Vec<Challenge<'a>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        values
            .into_iter()
            .filter_map(|v| AuthParams::parse_all(v).ok())
            .flatten()
            .filter_map(|p| Challenge::from_params(&p).ok())
            .collect()
    }

    /// The challenge a client should answer: the strongest algorithm
    /// offered, the first one listed among equals. `None` when empty.
    pub fn strongest<'c>(challenges: &'c [Challenge<'a>]) -> Option<&'c Challenge<'a>> {
        challenges
            .iter()
            .fold(None, |best: Option<&Challenge<'a>>, c| match best {
                Some(b) if b.algorithm.strength() >= c.algorithm.strength() => Some(b),
                _ => Some(c),
            })
    }
}

impl fmt::Display for Challenge<'_> {
    /// The header value: `Digest realm="…", nonce="…", opaque="…",
    /// algorithm=…, qop="auth,auth-int"[, stale=true]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(192);
        s.push_str("Digest ");
        push_quoted(&mut s, "realm", &self.realm);
        push_quoted(&mut s, "nonce", &self.nonce);
        if let Some(o) = &self.opaque {
            push_quoted(&mut s, "opaque", o);
        }
        let sess = if self.sess { "-sess" } else { "" };
        push_token(
            &mut s,
            "algorithm",
            format_args!("{}{sess}", self.algorithm),
        );
        if !self.qop.is_empty() {
            let list: Vec<&str> = self.qop.iter().map(|q| q.name()).collect();
            push_quoted(&mut s, "qop", &list.join(","));
        }
        if self.stale {
            push_token(&mut s, "stale", "true");
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = Challenge {
            realm: "example.com".into(),
            nonce: "abc".into(),
            opaque: Some("xyz".into()),
            algorithm: Algorithm::Sha256,
            sess: false,
            qop: vec![Qop::Auth, Qop::AuthInt],
            stale: true,
        };
        let text = c.to_string();
        assert_eq!(
            text,
            "Digest realm=\"example.com\", nonce=\"abc\", opaque=\"xyz\", algorithm=SHA-256, qop=\"auth,auth-int\", stale=true"
        );
        let back = Challenge::parse_all([text.as_str()]);
        assert_eq!(back, vec![c]);
    }

    #[test]
    fn defaults_and_unknown_parts() {
        let all = Challenge::parse_all([
            "Digest realm=\"r\", nonce=\"n\"",
            "Basic realm=\"r\"",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1",
            "Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf\"",
            "Digest realm=\"r\", nonce=\"n\", algorithm=sha-512-256-sess, qop=\"auth-int, x\"",
        ]);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].algorithm, Algorithm::Md5);
        assert!(all[0].qop.is_empty());
        assert_eq!(all[1].algorithm, Algorithm::Sha512_256);
        assert!(all[1].sess);
        assert_eq!(all[1].qop, vec![Qop::AuthInt]);
        assert_eq!(
            Challenge::strongest(&all).map(|c| c.algorithm),
            Some(Algorithm::Sha512_256)
        );
        assert!(Challenge::strongest(&[]).is_none());
    }

    #[test]
    fn missing_realm_or_nonce() {
        let p = AuthParams::parse_all("Digest nonce=\"n\"").unwrap();
        assert_eq!(
            Challenge::from_params(&p[0]),
            Err(DigestError::MissingParam("realm"))
        );
        let p = AuthParams::parse_all("Digest realm=\"n\"").unwrap();
        assert_eq!(
            Challenge::from_params(&p[0]),
            Err(DigestError::MissingParam("nonce"))
        );
    }
}
