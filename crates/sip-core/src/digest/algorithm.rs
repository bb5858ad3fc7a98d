//! The digest hash algorithms of RFC 7616 §3.3 and RFC 8760: MD5,
//! SHA-256 and SHA-512/256, each optionally in its `-sess` variant.

use md5::Md5;
use sha2::digest::Digest;
use sha2::{Sha256, Sha512_256};

/// A digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `MD5` (RFC 2617; kept for old clients).
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
    /// `SHA-512-256` (RFC 7616, RFC 8760): SHA-512/256.
    Sha512_256,
}

impl Algorithm {
    /// Every algorithm, strongest first (the order challenges are sent in).
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha512_256, Algorithm::Sha256, Algorithm::Md5];

    /// The name used in `algorithm=` parameters.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512_256 => "SHA-512-256",
        }
    }

    /// Parses an `algorithm=` value (case-insensitive). Returns the
    /// algorithm and whether it is the `-sess` variant; `None` for an
    /// algorithm this crate does not implement.
    pub fn parse(value: &str) -> Option<(Algorithm, bool)> {
        let (base, sess) = match value.len().checked_sub(5) {
            Some(cut)
                if value.is_char_boundary(cut) && value[cut..].eq_ignore_ascii_case("-sess") =>
            {
                (&value[..cut], true)
            }
            _ => (value, false),
        };
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(base))
            .map(|a| (a, sess))
    }

    /// Relative strength: higher is stronger.
    pub fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 => 1,
            Algorithm::Sha256 => 2,
            Algorithm::Sha512_256 => 3,
        }
    }

    /// Length of a hash in lower-case hex.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 | Algorithm::Sha512_256 => 64,
        }
    }

    /// `H(p1 ":" p2 ":" ...)` in lower-case hex: the hash of the parts
    /// joined with colons, as every digest formula uses it.
    pub fn hash_hex(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 => hash_parts::<Md5>(parts),
            Algorithm::Sha256 => hash_parts::<Sha256>(parts),
            Algorithm::Sha512_256 => hash_parts::<Sha512_256>(parts),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn hash_parts<D: Digest>(parts: &[&[u8]]) -> String {
    let mut h = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p);
    }
    to_hex(&h.finalize())
}

/// Lower-case hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Bytes of lower- or upper-case hex; `None` for anything else.
pub(crate) fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 != 0 {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_with_sess() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.name()), Some((a, false)));
            let sess = format!("{}-sess", a.name().to_lowercase());
            assert_eq!(Algorithm::parse(&sess), Some((a, true)));
        }
        assert_eq!(Algorithm::parse("SHA-1"), None);
        assert_eq!(Algorithm::parse("-sess"), None);
        assert_eq!(Algorithm::parse("é-sess"), None);
    }

    #[test]
    fn known_hashes() {
        assert_eq!(
            Algorithm::Md5.hash_hex(&[b"a", b"b"]),
            Algorithm::Md5.hash_hex(&[b"a:b"])
        );
        // RFC 1321 test vector.
        assert_eq!(
            Algorithm::Md5.hash_hex(&[b"abc"]),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        // FIPS 180-4 test vectors.
        assert_eq!(
            Algorithm::Sha256.hash_hex(&[b"abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Algorithm::Sha512_256.hash_hex(&[b"abc"]),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(
            from_hex(&to_hex(&[0, 1, 254, 255])),
            Some(vec![0, 1, 254, 255])
        );
        assert_eq!(from_hex("0g"), None);
        assert_eq!(from_hex("abc"), None);
    }
}
