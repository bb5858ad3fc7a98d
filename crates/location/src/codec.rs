//! The compact encoding of one AOR's binding set.
//!
//! The same bytes are the hot table's value for the AOR and the `bindings`
//! column of the database, so a change is encoded once. Layout:
//!
//! ```text
//! set     = version:u8 count:varint binding*
//! binding = contact:str q:varint expires_at_ms:varint call_id:str
//!           cseq:varint received:opt transport:str local:opt
//!           user_agent:opt path_len:varint str* instance:opt
//!           reg_id:optnum updated_at_ms:varint action:u8
//! action  = 0 (none) | 1 (proxy) | 2 (redirect)   (RFC 2543 Contact param)
//! str     = len:varint utf8-bytes
//! opt     = 0 (None) | len+1:varint utf8-bytes
//! optnum  = 0 (None) | n+1:varint
//! ```
//!
//! Varints are unsigned LEB128. The AOR itself is not in the set (it is
//! the key). To add a field: bump [`FORMAT`], write it at the end of
//! `encode_binding`, and read it in `read_binding` under
//! `if version >= NEW { .. } else { default }`, so older rows still load.

use std::fmt;

use crate::{Binding, ContactAction};

/// Version byte written at the start of every encoded set.
pub(crate) const FORMAT: u8 = 1;

/// An encoded set that does not follow the format (or is a newer format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadBlob;

impl fmt::Display for BadBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed or unsupported binding set encoding")
    }
}

impl std::error::Error for BadBlob {}

/// Encode a whole set (already normalised). The empty set encodes too: in
/// the journal it means "this AOR has no bindings any more".
pub(crate) fn encode(set: &[Binding]) -> Box<[u8]> {
    let size: usize = set
        .iter()
        .map(|b| {
            32 + b.contact.len()
                + b.call_id.len()
                + b.transport.len()
                + b.received.as_ref().map_or(0, String::len)
                + b.local.as_ref().map_or(0, String::len)
                + b.user_agent.as_ref().map_or(0, String::len)
                + b.instance.as_ref().map_or(0, String::len)
                + b.path.iter().map(|p| p.len() + 2).sum::<usize>()
        })
        .sum();
    let mut out = Vec::with_capacity(size + 2);
    out.push(FORMAT);
    varint(&mut out, set.len() as u64);
    for b in set {
        encode_binding(&mut out, b);
    }
    out.into_boxed_slice()
}

fn encode_binding(out: &mut Vec<u8>, b: &Binding) {
    string(out, &b.contact);
    varint(out, u64::from(b.q));
    varint(out, b.expires_at_ms);
    string(out, &b.call_id);
    varint(out, u64::from(b.cseq));
    optional(out, b.received.as_deref());
    string(out, &b.transport);
    optional(out, b.local.as_deref());
    optional(out, b.user_agent.as_deref());
    varint(out, b.path.len() as u64);
    for value in &b.path {
        string(out, value);
    }
    optional(out, b.instance.as_deref());
    varint(out, b.reg_id.map_or(0, |id| u64::from(id) + 1));
    varint(out, b.updated_at_ms);
    out.push(match b.action {
        None => 0,
        Some(ContactAction::Proxy) => 1,
        Some(ContactAction::Redirect) => 2,
    });
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        // Low seven bits with the continuation flag; truncation intended.
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn string(out: &mut Vec<u8>, value: &str) {
    varint(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

fn optional(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(0),
        Some(value) => {
            varint(out, value.len() as u64 + 1);
            out.extend_from_slice(value.as_bytes());
        }
    }
}

/// One binding as it lies in the encoded set, borrowing its text.
pub(crate) struct RawBinding<'a> {
    pub(crate) contact: &'a str,
    pub(crate) q: u16,
    pub(crate) expires_at_ms: u64,
    pub(crate) call_id: &'a str,
    pub(crate) cseq: u32,
    pub(crate) received: Option<&'a str>,
    pub(crate) transport: &'a str,
    pub(crate) local: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) path: Vec<&'a str>,
    pub(crate) instance: Option<&'a str>,
    pub(crate) reg_id: Option<u32>,
    pub(crate) updated_at_ms: u64,
    pub(crate) action: Option<ContactAction>,
}

impl RawBinding<'_> {
    /// The owned binding, with `aor` as its key.
    pub(crate) fn to_binding(&self, aor: &str) -> Binding {
        Binding {
            aor: aor.to_owned(),
            contact: self.contact.to_owned(),
            q: self.q,
            expires_at_ms: self.expires_at_ms,
            call_id: self.call_id.to_owned(),
            cseq: self.cseq,
            received: self.received.map(str::to_owned),
            transport: self.transport.to_owned(),
            local: self.local.map(str::to_owned),
            user_agent: self.user_agent.map(str::to_owned),
            path: self.path.iter().map(|v| (*v).to_owned()).collect(),
            instance: self.instance.map(str::to_owned),
            reg_id: self.reg_id,
            updated_at_ms: self.updated_at_ms,
            action: self.action,
        }
    }
}

/// Parse a whole encoded set, calling `each` for every binding in order.
/// Checks everything (lengths, UTF-8, ranges, no trailing bytes) before it
/// returns `Ok`; `each` may have seen a prefix when it returns `Err`. An
/// empty blob is read as the empty set.
pub(crate) fn parse<'a>(
    blob: &'a [u8],
    mut each: impl FnMut(RawBinding<'a>),
) -> Result<(), BadBlob> {
    let Some((&version, rest)) = blob.split_first() else {
        return Ok(());
    };
    if version == 0 || version > FORMAT {
        return Err(BadBlob);
    }
    let mut reader = Reader { rest };
    let count = reader.varint()?;
    for _ in 0..count {
        each(reader.binding(version)?);
    }
    if reader.rest.is_empty() {
        Ok(())
    } else {
        Err(BadBlob)
    }
}

/// The bindings of an encoded set, as owned values keyed by `aor`, keeping
/// only those with `keep(expires_at_ms)`.
pub(crate) fn decode(
    aor: &str,
    blob: &[u8],
    mut keep: impl FnMut(u64) -> bool,
) -> Result<Vec<Binding>, BadBlob> {
    let mut out = Vec::new();
    parse(blob, |raw| {
        if keep(raw.expires_at_ms) {
            out.push(raw.to_binding(aor));
        }
    })?;
    Ok(out)
}

/// The expiry instants of an encoded set, validating it on the way.
pub(crate) fn expiries(blob: &[u8]) -> Result<Vec<u64>, BadBlob> {
    let mut out = Vec::new();
    parse(blob, |raw| out.push(raw.expires_at_ms))?;
    Ok(out)
}

/// The set without its bindings expired at `now_ms`: `None` if nothing is
/// left, the same bytes if nothing expired, else a re-encoded set.
pub(crate) fn without_expired(
    aor: &str,
    blob: &[u8],
    now_ms: u64,
) -> Result<Option<Box<[u8]>>, BadBlob> {
    let expiries = expiries(blob)?;
    if expiries.iter().all(|&at| at > now_ms) {
        return Ok((!expiries.is_empty()).then(|| blob.into()));
    }
    let live = decode(aor, blob, |at| at > now_ms)?;
    Ok((!live.is_empty()).then(|| encode(&live)))
}

/// The number of bindings of an encoded set (its header; 0 for a
/// malformed one).
pub(crate) fn count(blob: &[u8]) -> usize {
    match blob.split_first() {
        Some((_, rest)) => Reader { rest }
            .varint()
            .map_or(0, |n| usize::try_from(n).unwrap_or(0)),
        None => 0,
    }
}

/// The expiry instants of a set the hot table holds (valid by its
/// invariant), read without checking the text: the wheel needs them on
/// every change, and validating every string again costs more than the
/// rest of the walk. A malformed set yields what was read before the defect.
pub(crate) fn skim_expiries(blob: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    if let Some((_, rest)) = blob.split_first() {
        let _ = Reader { rest }.skim(&mut out);
    }
    out
}

/// One AOR's entry in the hot table: the AOR and its encoded set in a
/// single allocation (`aor_len:varint aor set`), so an AOR costs one heap
/// block rather than a key and a value.
pub(crate) fn entry(aor: &str, set: &[u8]) -> Box<[u8]> {
    let mut out = Vec::with_capacity(aor.len() + set.len() + 3);
    string(&mut out, aor);
    out.extend_from_slice(set);
    out.into_boxed_slice()
}

/// The AOR bytes and the encoded set of an [`entry`]; `None` if the entry
/// is malformed (it never is when built by [`entry`]).
pub(crate) fn split_entry(entry: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut reader = Reader { rest: entry };
    let len = usize::try_from(reader.varint().ok()?).ok()?;
    (len <= reader.rest.len()).then(|| reader.rest.split_at(len))
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, BadBlob> {
        let mut value: u64 = 0;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            let bits = u64::from(byte & 0x7f);
            let shift = 7 * i as u32;
            if shift == 63 && bits > 1 {
                return Err(BadBlob);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        Err(BadBlob)
    }

    fn byte(&mut self) -> Result<u8, BadBlob> {
        let (&b, rest) = self.rest.split_first().ok_or(BadBlob)?;
        self.rest = rest;
        Ok(b)
    }

    fn number<T: TryFrom<u64>>(&mut self) -> Result<T, BadBlob> {
        T::try_from(self.varint()?).map_err(|_| BadBlob)
    }

    fn bytes(&mut self, len: u64) -> Result<&'a str, BadBlob> {
        let len = usize::try_from(len).map_err(|_| BadBlob)?;
        if len > self.rest.len() {
            return Err(BadBlob);
        }
        let (text, rest) = self.rest.split_at(len);
        self.rest = rest;
        std::str::from_utf8(text).map_err(|_| BadBlob)
    }

    fn string(&mut self) -> Result<&'a str, BadBlob> {
        let len = self.varint()?;
        self.bytes(len)
    }

    fn optional(&mut self) -> Result<Option<&'a str>, BadBlob> {
        match self.varint()? {
            0 => Ok(None),
            n => self.bytes(n - 1).map(Some),
        }
    }

    fn skip(&mut self, len: u64) -> Result<(), BadBlob> {
        let len = usize::try_from(len).map_err(|_| BadBlob)?;
        self.rest = self.rest.get(len..).ok_or(BadBlob)?;
        Ok(())
    }

    fn skip_string(&mut self) -> Result<(), BadBlob> {
        let len = self.varint()?;
        self.skip(len)
    }

    fn skip_optional(&mut self) -> Result<(), BadBlob> {
        match self.varint()? {
            0 => Ok(()),
            n => self.skip(n - 1),
        }
    }

    /// Walk the bindings after the version byte as [`Reader::binding`]
    /// reads them (keep the two in step), collecting only the expiries.
    fn skim(&mut self, out: &mut Vec<u64>) -> Result<(), BadBlob> {
        for _ in 0..self.varint()? {
            self.skip_string()?; // contact
            self.varint()?; // q
            out.push(self.varint()?);
            self.skip_string()?; // call_id
            self.varint()?; // cseq
            self.skip_optional()?; // received
            self.skip_string()?; // transport
            self.skip_optional()?; // local
            self.skip_optional()?; // user_agent
            for _ in 0..self.varint()? {
                self.skip_string()?; // path
            }
            self.skip_optional()?; // instance
            self.varint()?; // reg_id
            self.varint()?; // updated_at_ms
            self.byte()?; // action
        }
        Ok(())
    }

    fn binding(&mut self, _version: u8) -> Result<RawBinding<'a>, BadBlob> {
        Ok(RawBinding {
            contact: self.string()?,
            q: self.number()?,
            expires_at_ms: self.varint()?,
            call_id: self.string()?,
            cseq: self.number()?,
            received: self.optional()?,
            transport: self.string()?,
            local: self.optional()?,
            user_agent: self.optional()?,
            path: {
                let count = self.varint()?;
                let mut path = Vec::new();
                for _ in 0..count {
                    path.push(self.string()?);
                }
                path
            },
            instance: self.optional()?,
            reg_id: match self.varint()? {
                0 => None,
                n => Some(u32::try_from(n - 1).map_err(|_| BadBlob)?),
            },
            updated_at_ms: self.varint()?,
            action: match self.byte()? {
                0 => None,
                1 => Some(ContactAction::Proxy),
                2 => Some(ContactAction::Redirect),
                _ => return Err(BadBlob),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(contact: &str) -> Binding {
        Binding {
            aor: "sip:alice@example.com".into(),
            contact: contact.into(),
            q: 1000,
            expires_at_ms: u64::MAX,
            call_id: "call ü".into(),
            cseq: u32::MAX,
            received: Some("192.0.2.4:5062".into()),
            transport: "tcp".into(),
            local: Some("[2001:db8::1]:5060".into()),
            user_agent: Some(String::new()),
            path: vec!["<sip:p1;lr>".into(), String::new(), "a\nb".into()],
            instance: Some("<urn:uuid:1>".into()),
            reg_id: Some(u32::MAX),
            updated_at_ms: 1,
            action: Some(ContactAction::Redirect),
        }
    }

    fn plain(contact: &str, expires_at_ms: u64) -> Binding {
        Binding {
            q: 0,
            expires_at_ms,
            cseq: 0,
            received: None,
            local: None,
            user_agent: None,
            path: Vec::new(),
            instance: None,
            reg_id: None,
            updated_at_ms: 0,
            ..full(contact)
        }
    }

    #[test]
    fn sets_round_trip() {
        let aor = "sip:alice@example.com";
        for set in [
            vec![],
            vec![full("sip:a@h1")],
            vec![full("sip:a@h1"), plain("sip:a@h2", 5)],
        ] {
            let blob = encode(&set);
            assert_eq!(blob[0], FORMAT);
            assert_eq!(decode(aor, &blob, |_| true).unwrap(), set);
            let at: Vec<u64> = set.iter().map(|b| b.expires_at_ms).collect();
            assert_eq!(expiries(&blob).unwrap(), at);
            assert_eq!(skim_expiries(&blob), at);
            let entry = entry(aor, &blob);
            assert_eq!(split_entry(&entry), Some((aor.as_bytes(), &blob[..])));
        }
        assert!(decode(aor, &[], |_| true).unwrap().is_empty());
    }

    #[test]
    fn a_typical_binding_is_compact() {
        let b = Binding {
            aor: "sip:user1@example.com".into(),
            contact: "sip:user1@192.0.2.1:5060;transport=udp".into(),
            q: 1000,
            expires_at_ms: 1_700_003_600_000,
            call_id: "00000001-5f3c9a1e-42d1-4b7e-9c1a-000000000001".into(),
            cseq: 1,
            received: Some("198.51.100.1:5061".into()),
            transport: "udp".into(),
            local: Some("203.0.113.1:5060".into()),
            user_agent: Some("Linphone/5.2.0 (x86)".into()),
            path: Vec::new(),
            instance: None,
            reg_id: None,
            updated_at_ms: 1_700_000_000_000,
            action: None,
        };
        let text: usize = [
            &b.contact,
            &b.call_id,
            &b.transport,
            b.received.as_ref().unwrap(),
            b.local.as_ref().unwrap(),
            b.user_agent.as_ref().unwrap(),
        ]
        .iter()
        .map(|s| s.len())
        .sum();
        // Version, count, six lengths, q, two 6-byte instants, five small
        // ints and the action byte.
        assert_eq!(encode(&[b]).len(), text + 27);
    }

    #[test]
    fn without_expired_keeps_drops_or_reencodes() {
        let aor = "sip:alice@example.com";
        let blob = encode(&[plain("sip:a@h1", 10), plain("sip:a@h2", 20)]);
        assert_eq!(
            without_expired(aor, &blob, 5).unwrap().as_deref(),
            Some(&*blob)
        );
        let kept = without_expired(aor, &blob, 10).unwrap().unwrap();
        assert_eq!(
            decode(aor, &kept, |_| true).unwrap(),
            [plain("sip:a@h2", 20)]
        );
        assert_eq!(without_expired(aor, &blob, 20).unwrap(), None);
        assert_eq!(without_expired(aor, &encode(&[]), 0).unwrap(), None);
    }

    #[test]
    fn malformed_sets_are_rejected() {
        let good = encode(&[full("sip:a@h1")]);
        // Every strict prefix is truncated somewhere; extra bytes trail.
        for len in 1..good.len() {
            assert_eq!(expiries(&good[..len]), Err(BadBlob), "prefix {len}");
        }
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert_eq!(expiries(&trailing), Err(BadBlob));
        let mut newer = good.to_vec();
        newer[0] = FORMAT + 1;
        assert_eq!(expiries(&newer), Err(BadBlob));
        // Invalid UTF-8 in the contact; an over-long varint.
        let mut bad_text = encode(&[plain("sip:x", 1)]);
        bad_text[3] = 0xff;
        assert_eq!(expiries(&bad_text), Err(BadBlob));
        assert_eq!(
            expiries(&[FORMAT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(BadBlob)
        );
    }
}
