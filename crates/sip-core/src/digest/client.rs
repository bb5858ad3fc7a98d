//! The client side: answering a challenge (for `locus register` and tests).

use super::credentials::ha1;
use super::{Challenge, Credentials, Qop};
use std::borrow::Cow;

/// The parts of the request being authorized that enter the response.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method (`REGISTER`).
    pub method: &'a str,
    /// The Request-URI, as it will be sent.
    pub uri: &'a str,
    /// The body (hashed for `auth-int`).
    pub body: &'a [u8],
}

/// The `Authorization` value answering `challenge` for `username` /
/// `password`. Uses `qop=auth` when offered, else `auth-int`, else the
/// RFC 2069 form. `cnonce` is a fresh random string chosen by the caller;
/// `nc` counts the requests sent with this nonce (1 for the first).
///
/// Pick the challenge with [`Challenge::strongest`] among those of a 401.
pub fn answer(
    challenge: &Challenge<'_>,
    username: &str,
    password: &str,
    request: RequestParts<'_>,
    cnonce: &str,
    nc: u32,
) -> Credentials<'static> {
    let qop = if challenge.qop.contains(&Qop::Auth) {
        Some(Qop::Auth)
    } else if challenge.qop.contains(&Qop::AuthInt) {
        Some(Qop::AuthInt)
    } else {
        None
    };
    let mut creds = Credentials {
        username: Cow::Owned(username.to_string()),
        realm: Cow::Owned(challenge.realm.to_string()),
        nonce: Cow::Owned(challenge.nonce.to_string()),
        uri: Cow::Owned(request.uri.to_string()),
        response: Cow::Borrowed(""),
        algorithm: challenge.algorithm,
        sess: challenge.sess,
        cnonce: (qop.is_some() || challenge.sess).then(|| Cow::Owned(cnonce.to_string())),
        opaque: challenge.opaque.as_ref().map(|o| Cow::Owned(o.to_string())),
        qop,
        nc: qop.map(|_| Cow::Owned(format!("{nc:08x}"))),
    };
    let h = ha1(challenge.algorithm, username, &challenge.realm, password);
    creds.response = Cow::Owned(creds.expected_response(&h, request.method, request.body));
    creds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algorithm;

    #[test]
    fn answers_verify_with_the_stored_ha1() {
        for qop in [vec![], vec![Qop::AuthInt], vec![Qop::Auth, Qop::AuthInt]] {
            for alg in Algorithm::ALL {
                let ch = Challenge {
                    realm: "example.com".into(),
                    nonce: "n1".into(),
                    opaque: Some("o".into()),
                    algorithm: alg,
                    sess: false,
                    qop: qop.clone(),
                    stale: false,
                };
                let req = RequestParts {
                    method: "REGISTER",
                    uri: "sip:example.com",
                    body: b"x",
                };
                let c = answer(&ch, "alice", "pw", req, "cn", 3);
                let stored = ha1(alg, "alice", "example.com", "pw");
                let parsed_text = c.to_string();
                let parsed = Credentials::parse(&parsed_text).unwrap();
                assert!(parsed.verify(&stored, "REGISTER", b"x"));
                assert_eq!(parsed.opaque.as_deref(), Some("o"));
                if qop.is_empty() {
                    assert_eq!(parsed.qop, None);
                } else {
                    assert_eq!(parsed.nc_value(), Some(3));
                    assert_eq!(
                        parsed.qop,
                        Some(qop[qop.len() - 1])
                            .filter(|_| qop.len() == 1)
                            .or(Some(Qop::Auth))
                    );
                }
            }
        }
    }
}
