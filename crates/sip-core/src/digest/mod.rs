//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760),
//! pure and usable by both sides:
//!
//! - a server builds [`Challenge`]s with nonces from a [`NonceKey`],
//!   parses [`Credentials`] and checks them with [`Credentials::verify`]
//!   against a stored HA1 ([`ha1`]);
//! - a client parses the challenges of a 401/407 with
//!   [`Challenge::parse_all`], picks [`Challenge::strongest`] and computes
//!   its `Authorization` value with [`answer`].
//!
//! Algorithms: MD5, SHA-256, SHA-512-256 (and their `-sess` variants);
//! qop `auth`, `auth-int` and none (RFC 2069).

mod algorithm;
mod challenge;
mod client;
mod credentials;
mod nonce;
mod params;

pub use algorithm::Algorithm;
pub use challenge::Challenge;
pub use client::{answer, RequestParts};
pub use credentials::{ha1, Credentials};
pub use nonce::{NonceKey, NonceStatus};
pub use params::AuthParams;

use std::fmt;

/// Quality of protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// Authentication of the request line.
    Auth,
    /// Authentication with integrity protection of the body.
    AuthInt,
}

impl Qop {
    /// The token: `auth` or `auth-int`.
    pub fn name(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    /// Parses a qop token (case-insensitive).
    pub fn parse(s: &str) -> Option<Qop> {
        if s.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }
}

/// Why a challenge or credentials value cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestError {
    /// The value does not follow the auth-param syntax.
    Malformed(&'static str),
    /// The scheme is not `Digest`.
    NotDigest,
    /// A required parameter is absent (or, for `nc`, not 8 hex digits).
    MissingParam(&'static str),
    /// The algorithm is not one of MD5, SHA-256, SHA-512-256 (or -sess).
    UnsupportedAlgorithm,
    /// The qop is not `auth` or `auth-int`.
    UnsupportedQop,
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestError::Malformed(what) => write!(f, "malformed digest parameters: {what}"),
            DigestError::NotDigest => f.write_str("not a Digest challenge or credentials"),
            DigestError::MissingParam(p) => write!(f, "missing or invalid digest parameter {p}"),
            DigestError::UnsupportedAlgorithm => f.write_str("unsupported digest algorithm"),
            DigestError::UnsupportedQop => f.write_str("unsupported qop"),
        }
    }
}

impl std::error::Error for DigestError {}
