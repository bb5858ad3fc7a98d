//! Non-INVITE server transactions (RFC 3261 §17.2.2): a retransmitted
//! request is answered with the response already sent and is not processed
//! again. Time is an input; the shell asks [`TransactionTable::poll_timeout`]
//! when to call [`TransactionTable::handle_timeout`].

use bytes::Bytes;
use sip_message::headers::{split_list, Via};
use sip_message::{HeaderName, Message, NameAddr};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// RFC 3261 T1 in milliseconds.
pub const T1_MS: u64 = 500;

/// Timer J for unreliable transports: how long a completed transaction
/// keeps its response to answer retransmissions (64*T1).
pub const TIMER_J_MS: u64 = 64 * T1_MS;

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

/// The hasher of the transaction maps: fast, and seeded at random per
/// table because keys come from the network.
pub type KeyHasher = ahash::RandomState;

/// The server transactions of one shard.
///
/// Every timer has the same duration (64*T1), so deadlines are armed in
/// time order and a FIFO queue replaces a sorted index; a queued deadline
/// that no longer matches its entry's (the entry was re-armed or ended) is
/// skipped when it comes due.
#[derive(Debug, Default)]
pub struct TransactionTable {
    entries: HashMap<TransactionKey, Entry, KeyHasher>,
    timers: VecDeque<(u64, TransactionKey)>,
}

/// How long a transaction in Trying is kept if the core never answers
/// (a safety net; a final response normally comes long before).
const TRYING_LIMIT_MS: u64 = 64 * T1_MS;

/// The longest timer armed: a queued deadline further than this from now
/// was armed before the wall clock stepped back, and is treated as due so
/// it does not hold up the entries queued behind it.
const LONGEST_TIMER_MS: u64 = if TIMER_J_MS > TRYING_LIMIT_MS {
    TIMER_J_MS
} else {
    TRYING_LIMIT_MS
};

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

    /// Matches a request against the table; a new one enters Trying.
    pub fn on_request(&mut self, key: &TransactionKey, now_ms: u64) -> TxDisposition {
        let slot = match self.entries.entry(key.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => {
                return match &e.get().state {
                    State::Trying => TxDisposition::Absorb,
                    State::Completed(resp) => TxDisposition::Retransmit(resp.clone()),
                };
            }
            std::collections::hash_map::Entry::Vacant(slot) => slot,
        };
        let deadline = now_ms + TRYING_LIMIT_MS;
        slot.insert(Entry {
            state: State::Trying,
            deadline,
        });
        self.timers.push_back((deadline, key.clone()));
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
        let entry = Entry {
            state: State::Completed(response),
            deadline,
        };
        match self.entries.get_mut(key) {
            Some(e) => *e = entry,
            None => {
                self.entries.insert(key.clone(), entry);
            }
        }
        self.timers.push_back((deadline, key.clone()));
    }

    /// The earliest instant at which [`TransactionTable::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.front().map(|(t, _)| *t)
    }

    /// Ends every transaction whose timer has fired by `now_ms`, then gives
    /// back the memory of a burst once the table has shrunk.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        while let Some((deadline, _)) = self.timers.front() {
            let due = *deadline <= now_ms || *deadline > now_ms.saturating_add(LONGEST_TIMER_MS);
            if !due {
                break;
            }
            let Some((deadline, key)) = self.timers.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.deadline == deadline)
            {
                self.entries.remove(&key);
            }
        }
        self.shrink();
    }

    /// Shrinks the map and the queue when less than a quarter of their
    /// capacity is in use (to twice their length), so a burst of
    /// transactions does not keep its peak memory.
    fn shrink(&mut self) {
        if self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to(self.entries.len() * 2);
        }
        if self.timers.len() < self.timers.capacity() / 4 {
            self.timers.shrink_to(self.timers.len() * 2);
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

    #[test]
    fn memory_of_a_burst_is_given_back_once_it_expired() {
        let mut t = TransactionTable::new();
        for i in 0..1000 {
            let k = TransactionKey::of(&req(&format!("z9hG4bK{i}"))).unwrap();
            t.on_request(&k, 0);
            t.on_final_response(&k, Bytes::new(), false, 10);
        }
        assert!(t.entries.capacity() >= 1000);
        t.handle_timeout(10 + TIMER_J_MS);
        assert!(t.is_empty());
        assert!(t.entries.capacity() < 1000);
        assert!(t.timers.capacity() < 1000);
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn a_clock_step_back_does_not_hold_later_timers() {
        let mut t = TransactionTable::new();
        let old = TransactionKey::of(&req("z9hG4bK1")).unwrap();
        let new = TransactionKey::of(&req("z9hG4bK2")).unwrap();
        t.on_request(&old, 10_000_000);
        t.on_request(&new, 1_000);
        t.handle_timeout(1_000 + TRYING_LIMIT_MS);
        assert!(t.is_empty());
    }
}
