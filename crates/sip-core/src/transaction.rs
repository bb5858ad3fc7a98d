//! Non-INVITE server transactions (RFC 3261 §17.2.2): a retransmitted
//! request is answered with the response already sent and is not processed
//! again. Time is an input; the shell asks [`TransactionTable::poll_timeout`]
//! when to call [`TransactionTable::handle_timeout`].

use bytes::Bytes;
use sip_message::headers::{split_list, Via};
use sip_message::{HeaderName, Message, NameAddr};
use std::collections::{BTreeMap, HashMap};

/// RFC 3261 T1 in milliseconds.
pub const T1_MS: u64 = 500;

/// Timer J for unreliable transports: how long a completed transaction
/// keeps its response to answer retransmissions (64*T1).
pub const TIMER_J_MS: u64 = 64 * T1_MS;

/// How a request is matched to a transaction (§17.2.3): the branch, sent-by
/// and method for RFC 3261 peers; the RFC 2543 identifiers otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey(String);

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
        let sent_by = format!(
            "{}:{}",
            via.host_str.to_ascii_lowercase(),
            via.port.unwrap_or(0)
        );
        if via.has_rfc3261_branch() {
            return Some(TransactionKey(format!(
                "{}|{sent_by}|{method}",
                via.branch().unwrap_or("")
            )));
        }
        // RFC 2543 matching: Request-URI, From tag, Call-ID, CSeq number
        // and method, top Via. The To tag is left out: the ACK of a non-2xx
        // carries the tag of the response, the INVITE none.
        let from_tag = req
            .header(HeaderName::From)
            .and_then(|v| NameAddr::parse(v).ok())
            .and_then(|n| n.tag().map(str::to_string))
            .unwrap_or_default();
        let seq = req
            .header(HeaderName::CSeq)
            .and_then(|c| sip_message::headers::CSeq::parse(c).ok())
            .map_or(0, |c| c.seq);
        Some(TransactionKey(format!(
            "2543|{}|{from_tag}|{}|{seq} {method}|{top}",
            req.request_uri(),
            req.header(HeaderName::CallId).unwrap_or(""),
        )))
    }
}

/// What to do with an incoming request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxDisposition {
    /// A new transaction: process the request.
    New,
    /// A retransmission while the request is still being processed: drop it.
    Absorb,
    /// A retransmission of a completed transaction: send this response again.
    Retransmit(Bytes),
}

#[derive(Debug)]
enum State {
    Trying,
    Completed(Bytes),
}

#[derive(Debug)]
struct Entry {
    state: State,
    deadline: u64,
}

/// The server transactions of one shard.
#[derive(Debug, Default)]
pub struct TransactionTable {
    entries: HashMap<TransactionKey, Entry>,
    timers: BTreeMap<(u64, u64), TransactionKey>,
    seq: u64,
}

/// How long a transaction in Trying is kept if the core never answers
/// (a safety net; a final response normally comes long before).
const TRYING_LIMIT_MS: u64 = 64 * T1_MS;

impl TransactionTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn arm(&mut self, key: &TransactionKey, deadline: u64) {
        self.seq += 1;
        self.timers.insert((deadline, self.seq), key.clone());
    }

    /// Matches a request against the table; a new one enters Trying.
    pub fn on_request(&mut self, key: &TransactionKey, now_ms: u64) -> TxDisposition {
        if let Some(e) = self.entries.get(key) {
            return match &e.state {
                State::Trying => TxDisposition::Absorb,
                State::Completed(resp) => TxDisposition::Retransmit(resp.clone()),
            };
        }
        let deadline = now_ms + TRYING_LIMIT_MS;
        self.entries.insert(
            key.clone(),
            Entry {
                state: State::Trying,
                deadline,
            },
        );
        self.arm(key, deadline);
        TxDisposition::New
    }

    /// Records the final response sent; the transaction enters Completed and
    /// is kept for Timer J (0 on reliable transports, so it ends now).
    pub fn on_final_response(
        &mut self,
        key: &TransactionKey,
        response: Bytes,
        reliable: bool,
        now_ms: u64,
    ) {
        if reliable {
            self.entries.remove(key);
            return;
        }
        let deadline = now_ms + TIMER_J_MS;
        self.entries.insert(
            key.clone(),
            Entry {
                state: State::Completed(response),
                deadline,
            },
        );
        self.arm(key, deadline);
    }

    /// The earliest instant at which [`TransactionTable::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.keys().next().map(|(t, _)| *t)
    }

    /// Ends every transaction whose timer has fired by `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let ((deadline, _), key) = entry.remove_entry();
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.deadline == deadline)
            {
                self.entries.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_message::Limits;

    fn req(branch: &str) -> Message {
        let s = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\n\
             To: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\r\n"
        );
        Message::parse(Bytes::from(s), &Limits::default()).unwrap()
    }

    #[test]
    fn retransmission_gets_the_same_response_until_timer_j() {
        let mut t = TransactionTable::new();
        let k = TransactionKey::of(&req("z9hG4bK1")).unwrap();
        assert_eq!(t.on_request(&k, 0), TxDisposition::New);
        assert_eq!(t.on_request(&k, 10), TxDisposition::Absorb);
        t.on_final_response(&k, Bytes::from_static(b"resp"), false, 100);
        assert_eq!(
            t.on_request(&k, 200),
            TxDisposition::Retransmit(Bytes::from_static(b"resp"))
        );
        t.handle_timeout(100 + TIMER_J_MS - 1);
        assert_eq!(
            t.on_request(&k, 300),
            TxDisposition::Retransmit(Bytes::from_static(b"resp"))
        );
        t.handle_timeout(100 + TIMER_J_MS);
        assert!(t.is_empty());
        assert_eq!(t.on_request(&k, 100 + TIMER_J_MS), TxDisposition::New);
    }

    #[test]
    fn reliable_transport_ends_at_once_and_keys_differ_by_branch() {
        let mut t = TransactionTable::new();
        let k1 = TransactionKey::of(&req("z9hG4bK1")).unwrap();
        let k2 = TransactionKey::of(&req("z9hG4bK2")).unwrap();
        assert_ne!(k1, k2);
        assert_eq!(t.on_request(&k1, 0), TxDisposition::New);
        t.on_final_response(&k1, Bytes::from_static(b"r"), true, 1);
        assert!(t.is_empty());
        let legacy = TransactionKey::of(&req("old-branch")).unwrap();
        assert!(legacy.0.starts_with("2543|"));
    }
}
