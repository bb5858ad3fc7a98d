//! Stateless nonces: `hex(issued_ms ‖ salt ‖ HMAC-SHA-256(secret, issued_ms ‖ salt)[..16])`.
//! Any node holding the same secret can check a nonce, and its age comes
//! from the nonce itself, so nothing is stored per challenge.

use super::algorithm::{from_hex, to_hex};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in a nonce.
const MAC_LEN: usize = 16;
/// Bytes of a decoded nonce: timestamp, salt, MAC.
const NONCE_LEN: usize = 8 + 8 + MAC_LEN;

/// What a nonce check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Ours and within its lifetime; it expires at `expires_ms`.
    Fresh {
        /// When the nonce stops being accepted (Unix ms).
        expires_ms: u64,
    },
    /// Ours but expired: the client should retry with a new one (`stale=true`).
    Stale,
    /// Not issued with this secret, or malformed.
    Invalid,
}

/// The server secret, keyed for issuing and checking nonces.
#[derive(Clone)]
pub struct NonceKey {
    mac: HmacSha256,
    opaque: String,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// A key from the server secret (at least 16 random bytes recommended).
    pub fn new(secret: &[u8]) -> NonceKey {
        // HMAC accepts keys of any length.
        let mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable_key());
        let mut m = mac.clone();
        m.update(b"locus opaque");
        let opaque = to_hex(&m.finalize().into_bytes()[..8]);
        NonceKey { mac, opaque }
    }

    /// A new nonce issued at `now_ms`; `salt` makes nonces of the same
    /// millisecond distinct (any value, e.g. random or a counter).
    pub fn issue(&self, now_ms: u64, salt: u64) -> String {
        let mut raw = [0u8; NONCE_LEN];
        raw[..8].copy_from_slice(&now_ms.to_be_bytes());
        raw[8..16].copy_from_slice(&salt.to_be_bytes());
        let tag = self.tag(&raw[..16]);
        raw[16..].copy_from_slice(&tag);
        to_hex(&raw)
    }

    /// Checks a nonce received at `now_ms` against a lifetime.
    pub fn check(&self, nonce: &str, now_ms: u64, lifetime_ms: u64) -> NonceStatus {
        if nonce.len() != NONCE_LEN * 2 {
            return NonceStatus::Invalid;
        }
        let Some(raw) = from_hex(nonce) else {
            return NonceStatus::Invalid;
        };
        let tag = self.tag(&raw[..16]);
        if !bool::from(tag.ct_eq(&raw[16..])) {
            return NonceStatus::Invalid;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        let issued = u64::from_be_bytes(ts);
        let expires_ms = issued.saturating_add(lifetime_ms);
        if issued > now_ms.saturating_add(lifetime_ms) {
            // From the far future: another node's clock is badly off.
            return NonceStatus::Invalid;
        }
        if now_ms >= expires_ms {
            return NonceStatus::Stale;
        }
        NonceStatus::Fresh { expires_ms }
    }

    /// The `opaque` value sent with challenges (derived from the secret,
    /// so every node of a cluster sends the same).
    pub fn opaque(&self) -> &str {
        &self.opaque
    }

    /// A value derived from the secret and `label` (hex, `len` bytes at
    /// most 32), for keyed dummies that must not be guessable.
    pub fn derive(&self, label: &[u8], len: usize) -> String {
        let mut m = self.mac.clone();
        m.update(b"locus derive ");
        m.update(label);
        let out = m.finalize().into_bytes();
        to_hex(&out[..len.min(out.len())])
    }

    fn tag(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let mut m = self.mac.clone();
        m.update(data);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }
}

/// HMAC-SHA-256 takes keys of every length; this is never reached.
fn unreachable_key() -> HmacSha256 {
    unreachable!("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_stale_invalid() {
        let k = NonceKey::new(b"secret-secret-secret");
        let n = k.issue(1_000_000, 7);
        assert_eq!(n.len(), 64);
        assert_eq!(
            k.check(&n, 1_000_500, 1000),
            NonceStatus::Fresh {
                expires_ms: 1_001_000
            }
        );
        assert_eq!(k.check(&n, 1_001_000, 1000), NonceStatus::Stale);
        assert_eq!(
            k.check(&n, 999_500, 1000),
            NonceStatus::Fresh {
                expires_ms: 1_001_000
            }
        );
        assert_eq!(k.check(&n, 10, 1000), NonceStatus::Invalid);
        let other = NonceKey::new(b"another secret");
        assert_eq!(other.check(&n, 1_000_500, 1000), NonceStatus::Invalid);
        let mut forged = n.clone().into_bytes();
        forged[5] = if forged[5] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(k.check(&forged, 1_000_500, 1000), NonceStatus::Invalid);
        assert_eq!(k.check("zz", 1_000_500, 1000), NonceStatus::Invalid);
        assert_ne!(k.issue(1_000_000, 8), n);
    }

    #[test]
    fn opaque_is_stable_per_secret() {
        assert_eq!(NonceKey::new(b"a").opaque(), NonceKey::new(b"a").opaque());
        assert_ne!(NonceKey::new(b"a").opaque(), NonceKey::new(b"b").opaque());
        assert_eq!(format!("{:?}", NonceKey::new(b"a")), "NonceKey(..)");
    }
}
