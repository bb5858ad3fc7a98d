//! How a request is matched to its server transaction (RFC 3261 §17.2.3).

use sip_message::headers::{split_list, Via};
use sip_message::{HeaderName, Message, NameAddr};
use std::sync::Arc;

/// How a request is matched to a transaction (§17.2.3): the branch, sent-by
/// and method for RFC 3261 peers; the RFC 2543 identifiers otherwise.
/// Shared text, so the table and its timer queue clone it for free.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey(Arc<str>);

impl TransactionKey {
    /// The key of a request; `None` when it has no Via to key on.
    pub fn of(req: &Message) -> Option<TransactionKey> {
        Self::of_method(req, req.method_str())
    }

    /// The key of the transaction `req` belongs to when it is matched as
    /// `method`: a CANCEL or an ACK for a non-2xx is matched with
    /// `"INVITE"` to find the INVITE server transaction (§9.2, §17.2.3).
    pub fn of_method(req: &Message, method: &str) -> Option<TransactionKey> {
        let top = req
            .header(HeaderName::Via)
            .and_then(|l| split_list(l).next())?;
        let via = Via::parse(top).ok()?;
        Some(Self::of_via(req, method, top, &via))
    }

    /// The key of `req` matched as `method`, given its top Via value `top`
    /// already parsed as `via` (saves parsing it again).
    pub fn of_via(req: &Message, method: &str, top: &str, via: &Via<'_>) -> TransactionKey {
        if via.has_rfc3261_branch() {
            let branch = via.branch().unwrap_or("");
            let mut key =
                String::with_capacity(branch.len() + via.host_str.len() + method.len() + 8);
            key.push_str(branch);
            key.push('|');
            push_sent_by(&mut key, via);
            key.push('|');
            key.push_str(method);
            return TransactionKey(key.into());
        }
        Self::rfc2543(req, method, top)
    }

    /// RFC 2543 matching: Request-URI, From tag, Call-ID, CSeq number and
    /// method, top Via. The To tag is left out: the ACK of a non-2xx
    /// carries the tag of the response, the INVITE none.
    fn rfc2543(req: &Message, method: &str, top: &str) -> TransactionKey {
        let from = req
            .header(HeaderName::From)
            .and_then(|v| NameAddr::parse(v).ok());
        let from_tag = from.as_ref().and_then(NameAddr::tag).unwrap_or("");
        let seq = req
            .header(HeaderName::CSeq)
            .and_then(|c| sip_message::headers::CSeq::parse(c).ok())
            .map_or(0, |c| c.seq);
        let call_id = req.header(HeaderName::CallId).unwrap_or("");
        let mut key = String::with_capacity(64 + call_id.len() + top.len());
        for part in ["2543", req.request_uri(), from_tag, call_id] {
            key.push_str(part);
            key.push('|');
        }
        key.push_str(itoa::Buffer::new().format(seq));
        key.push(' ');
        key.push_str(method);
        key.push('|');
        key.push_str(top);
        TransactionKey(key.into())
    }
}

/// Appends the Via's sent-by as `host:port` (host lower case, port 0 when
/// absent).
fn push_sent_by(key: &mut String, via: &Via<'_>) {
    key.extend(via.host_str.chars().map(|c| c.to_ascii_lowercase()));
    key.push(':');
    key.push_str(itoa::Buffer::new().format(via.port.unwrap_or(0)));
}

/// The hasher of the transaction tables: fast, and seeded (from the
/// endpoint's random input) because keys come from the network.
pub type KeyHasher = ahash::RandomState;

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sip_message::Limits;

    fn req(branch: &str) -> Message {
        let s = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\n\
             To: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\r\n"
        );
        Message::parse(Bytes::from(s), &Limits::default()).unwrap()
    }

    #[test]
    fn keys_differ_by_branch_and_legacy_ones_are_marked() {
        let k1 = TransactionKey::of(&req("z9hG4bK1")).unwrap();
        let k2 = TransactionKey::of(&req("z9hG4bK2")).unwrap();
        assert_ne!(k1, k2);
        let legacy = TransactionKey::of(&req("old-branch")).unwrap();
        assert!(legacy.0.starts_with("2543|"));
    }

    #[test]
    fn rfc2543_key_lists_the_identifiers() {
        let k = TransactionKey::of(&req("old-branch")).unwrap();
        assert_eq!(
            &*k.0,
            "2543|sip:example.com|1|c|1 REGISTER|SIP/2.0/UDP 10.0.0.1:5060;branch=old-branch"
        );
        let k = TransactionKey::of_method(&req("z9hG4bK1"), "INVITE").unwrap();
        assert_eq!(&*k.0, "z9hG4bK1|10.0.0.1:5060|INVITE");
    }
}
