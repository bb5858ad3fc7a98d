//! Credentials: the value of an `Authorization` or `Proxy-Authorization`
//! header, and the response computation of RFC 7616 §3.4 (with the
//! RFC 2069 form, without `qop`, for old clients).

use super::params::{push_quoted, push_token, AuthParams};
use super::{Algorithm, DigestError, Qop};
use std::borrow::Cow;
use std::fmt;
use subtle::ConstantTimeEq;

/// Digest credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The user name.
    pub username: Cow<'a, str>,
    /// The realm of the challenge answered.
    pub realm: Cow<'a, str>,
    /// The nonce of the challenge answered.
    pub nonce: Cow<'a, str>,
    /// The `digest-uri` (the Request-URI when the client computed it).
    pub uri: Cow<'a, str>,
    /// The response hash, hex.
    pub response: Cow<'a, str>,
    /// The hash algorithm (`MD5` when the parameter is absent).
    pub algorithm: Algorithm,
    /// True for the `-sess` variant.
    pub sess: bool,
    /// The client nonce (with `qop` or `-sess`).
    pub cnonce: Option<Cow<'a, str>>,
    /// The challenge's opaque value, returned.
    pub opaque: Option<Cow<'a, str>>,
    /// The quality of protection; `None` for an RFC 2069 response.
    pub qop: Option<Qop>,
    /// The nonce count as sent (8 hex digits).
    pub nc: Option<Cow<'a, str>>,
}

/// `HA1 = H(username ":" realm ":" password)` in hex: what a server stores
/// instead of the password.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

impl<'a> Credentials<'a> {
    /// Parses the first Digest credentials in a header value.
    pub fn parse(value: &'a str) -> Result<Credentials<'a>, DigestError> {
        let all = AuthParams::parse_all(value)?;
        let p = all
            .into_iter()
            .find(AuthParams::is_digest)
            .ok_or(DigestError::NotDigest)?;
        Credentials::from_params(p)
    }

    /// Builds credentials from parsed parameters.
    pub fn from_params(p: AuthParams<'a>) -> Result<Credentials<'a>, DigestError> {
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = (Algorithm::Md5, false);
        let mut cnonce = None;
        let mut opaque = None;
        let mut qop = None;
        let mut nc = None;
        for (name, value) in p.params {
            match name.to_ascii_lowercase().as_str() {
                "username" => username = Some(value),
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "uri" => uri = Some(value),
                "response" => response = Some(value),
                "algorithm" => {
                    algorithm = Algorithm::parse(&value).ok_or(DigestError::UnsupportedAlgorithm)?
                }
                "cnonce" => cnonce = Some(value),
                "opaque" => opaque = Some(value),
                "qop" => qop = Some(Qop::parse(&value).ok_or(DigestError::UnsupportedQop)?),
                "nc" => nc = Some(value),
                // RFC 7616 userhash: not supported; the name then cannot match.
                _ => {}
            }
        }
        let creds = Credentials {
            username: username.ok_or(DigestError::MissingParam("username"))?,
            realm: realm.ok_or(DigestError::MissingParam("realm"))?,
            nonce: nonce.ok_or(DigestError::MissingParam("nonce"))?,
            uri: uri.ok_or(DigestError::MissingParam("uri"))?,
            response: response.ok_or(DigestError::MissingParam("response"))?,
            algorithm: algorithm.0,
            sess: algorithm.1,
            cnonce,
            opaque,
            qop,
            nc,
        };
        if (creds.qop.is_some() || creds.sess) && creds.cnonce.is_none() {
            return Err(DigestError::MissingParam("cnonce"));
        }
        if creds.qop.is_some() && creds.nc_value().is_none() {
            return Err(DigestError::MissingParam("nc"));
        }
        Ok(creds)
    }

    /// The nonce count as a number: `nc` must be exactly 8 hex digits.
    pub fn nc_value(&self) -> Option<u32> {
        let nc = self.nc.as_deref()?;
        if nc.len() != 8 {
            return None;
        }
        u32::from_str_radix(nc, 16).ok()
    }

    /// The response these credentials must carry for a request with
    /// `method` and `body`, given the user's stored `ha1` (hex) for
    /// [`Credentials::algorithm`].
    pub fn expected_response(&self, ha1: &str, method: &str, body: &[u8]) -> String {
        let alg = self.algorithm;
        let cnonce = self.cnonce.as_deref().unwrap_or("");
        let session_ha1;
        let ha1 = if self.sess {
            session_ha1 = alg.hash_hex(&[ha1.as_bytes(), self.nonce.as_bytes(), cnonce.as_bytes()]);
            session_ha1.as_str()
        } else {
            ha1
        };
        let ha2 = match self.qop {
            Some(Qop::AuthInt) => {
                let body_hash = alg.hash_hex(&[body]);
                alg.hash_hex(&[method.as_bytes(), self.uri.as_bytes(), body_hash.as_bytes()])
            }
            _ => alg.hash_hex(&[method.as_bytes(), self.uri.as_bytes()]),
        };
        match self.qop {
            Some(q) => alg.hash_hex(&[
                ha1.as_bytes(),
                self.nonce.as_bytes(),
                self.nc.as_deref().unwrap_or("").as_bytes(),
                cnonce.as_bytes(),
                q.name().as_bytes(),
                ha2.as_bytes(),
            ]),
            None => alg.hash_hex(&[ha1.as_bytes(), self.nonce.as_bytes(), ha2.as_bytes()]),
        }
    }

    /// True when the response is right for `ha1`, `method` and `body`.
    /// The comparison takes the same time wherever the first difference is.
    pub fn verify(&self, ha1: &str, method: &str, body: &[u8]) -> bool {
        let expected = self.expected_response(ha1, method, body);
        let given = self.response.to_ascii_lowercase();
        expected.as_bytes().ct_eq(given.as_bytes()).into()
    }

    /// Owned copy, independent of the parsed text.
    pub fn into_owned(self) -> Credentials<'static> {
        let own = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        Credentials {
            username: own(self.username),
            realm: own(self.realm),
            nonce: own(self.nonce),
            uri: own(self.uri),
            response: own(self.response),
            algorithm: self.algorithm,
            sess: self.sess,
            cnonce: self.cnonce.map(own),
            opaque: self.opaque.map(own),
            qop: self.qop,
            nc: self.nc.map(own),
        }
    }
}

impl fmt::Display for Credentials<'_> {
    /// The header value: `Digest username="…", realm="…", nonce="…",
    /// uri="…", response="…", algorithm=…[, cnonce="…"][, opaque="…"]
    /// [, qop=…, nc=…]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(256);
        s.push_str("Digest ");
        push_quoted(&mut s, "username", &self.username);
        push_quoted(&mut s, "realm", &self.realm);
        push_quoted(&mut s, "nonce", &self.nonce);
        push_quoted(&mut s, "uri", &self.uri);
        push_quoted(&mut s, "response", &self.response);
        let sess = if self.sess { "-sess" } else { "" };
        push_token(
            &mut s,
            "algorithm",
            format_args!("{}{sess}", self.algorithm),
        );
        if let Some(c) = &self.cnonce {
            push_quoted(&mut s, "cnonce", c);
        }
        if let Some(o) = &self.opaque {
            push_quoted(&mut s, "opaque", o);
        }
        if let Some(q) = self.qop {
            push_token(&mut s, "qop", q.name());
            if let Some(nc) = &self.nc {
                push_token(&mut s, "nc", nc);
            }
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5 example (HTTP, MD5, qop=auth).
    #[test]
    fn rfc2617_example() {
        let c = Credentials::parse(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
             qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
             response=\"6629fae49393a05397450978507c4ef1\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert!(c.verify(&h, "GET", b""));
        assert!(!c.verify(&h, "POST", b""));
        assert_eq!(c.nc_value(), Some(1));
    }

    /// RFC 7616 §3.9.1 example (SHA-256, qop=auth).
    #[test]
    fn rfc7616_sha256_example() {
        let c = Credentials::parse(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
             algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
             response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        )
        .unwrap();
        let h = ha1(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert!(c.verify(&h, "GET", b""));
    }

    #[test]
    fn rfc2069_and_auth_int_and_sess() {
        let h = ha1(Algorithm::Sha512_256, "bob", "r", "pw");
        for (qop, sess) in [
            (None, false),
            (Some(Qop::AuthInt), false),
            (Some(Qop::Auth), true),
        ] {
            let mut c = Credentials {
                username: "bob".into(),
                realm: "r".into(),
                nonce: "n".into(),
                uri: "sip:r".into(),
                response: "".into(),
                algorithm: Algorithm::Sha512_256,
                sess,
                cnonce: Some("c".into()),
                opaque: None,
                qop,
                nc: qop.map(|_| "00000002".into()),
            };
            c.response = c.expected_response(&h, "REGISTER", b"body").into();
            let text = c.to_string();
            let back = Credentials::parse(&text).unwrap();
            assert!(back.verify(&h, "REGISTER", b"body"), "{text}");
            let body_matters = qop == Some(Qop::AuthInt);
            assert_eq!(back.verify(&h, "REGISTER", b"other"), !body_matters);
        }
    }

    #[test]
    fn required_parameters() {
        assert_eq!(
            Credentials::parse("Digest realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\""),
            Err(DigestError::MissingParam("username"))
        );
        assert_eq!(
            Credentials::parse(
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", qop=auth, cnonce=\"c\", nc=1"
            ),
            Err(DigestError::MissingParam("nc"))
        );
        assert_eq!(Credentials::parse("Basic abc"), Err(DigestError::NotDigest));
    }
}
