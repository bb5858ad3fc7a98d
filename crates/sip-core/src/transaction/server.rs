//! Server transactions (RFC 3261 §17.2, with the Accepted state of RFC
//! 6026): the one implementation behind every request locus answers,
//! whether the registrar answers it itself or the proxy forwards it.
//!
//! A retransmitted request is answered with the last response sent and is
//! not processed again (§17.2.1, §17.2.2); the final response of an INVITE
//! is retransmitted on Timer G until its ACK arrives; a completed
//! transaction is kept for Timer H, I, J or L and then forgotten. Time is
//! an input; the owner asks [`ServerTable::poll_timeout`] when to call
//! [`ServerTable::handle_timeout`].

use super::key::{KeyHasher, TransactionKey};
use super::timers::{TimerQueue, T1_MS, T2_MS, TIMER_H_MS, TIMER_I_MS, TIMER_J_MS, TIMER_L_MS};
use bytes::Bytes;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// Where a server transaction is (§17.2.1, §17.2.2, RFC 6026).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// A non-INVITE request is being processed, nothing sent yet.
    Trying,
    /// A provisional response was sent (or, for an INVITE, will be).
    Proceeding,
    /// A final response was sent (a non-2xx one, for an INVITE).
    Completed,
    /// An INVITE was answered with a 2xx (RFC 6026).
    Accepted,
    /// The ACK of an INVITE's non-2xx final response arrived.
    Confirmed,
}

/// One server transaction.
#[derive(Debug)]
pub struct ServerTransaction {
    invite: bool,
    reliable: bool,
    state: ServerState,
    /// The last response sent, for retransmissions of the request.
    last: Option<Bytes>,
    /// Timer G (an INVITE's non-2xx final over an unreliable transport):
    /// the next retransmission and the interval that led to it.
    timer_g: Option<(u64, u64)>,
    /// When the transaction ends: Timer H, I, J or L, or the guard of a
    /// request its owner never answers.
    end_at: Option<u64>,
}

/// What the owner does with a request that matched a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retransmission {
    /// Nothing has been sent yet: drop the copy.
    Absorb,
    /// Send this response again.
    Resend(Bytes),
}

/// What an ACK did to the INVITE server transaction it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// It acknowledged the non-2xx final response: absorbed (§17.2.1).
    Absorbed,
    /// It is not the transaction's to absorb (an ACK of a 2xx, or one that
    /// arrived before any final response): the owner passes it on.
    PassOn,
}

/// What a timer did to a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTimeout {
    /// Timer G: send the final response again.
    Resend(Bytes),
    /// The transaction has ended and is gone.
    Ended,
}

impl ServerTransaction {
    /// A transaction for a new request: Proceeding for an INVITE (whose
    /// owner sends 100 Trying), Trying otherwise. `reliable` transports
    /// need no retransmission and keep no completed transaction.
    pub fn new(invite: bool, reliable: bool) -> ServerTransaction {
        ServerTransaction {
            invite,
            reliable,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            last: None,
            timer_g: None,
            end_at: None,
        }
    }

    /// Ends the transaction at `deadline` unless a final response comes
    /// first: a safety net for an owner that might never answer.
    pub fn with_guard(mut self, deadline: u64) -> ServerTransaction {
        self.end_at = Some(deadline);
        self
    }

    /// Where the transaction is.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// True for an INVITE transaction.
    pub fn is_invite(&self) -> bool {
        self.invite
    }

    /// True while no final response has been sent.
    pub fn is_pending(&self) -> bool {
        matches!(self.state, ServerState::Trying | ServerState::Proceeding)
    }

    /// The answer to a retransmission of the request (§17.2.1, §17.2.2).
    pub fn on_retransmission(&self) -> Retransmission {
        match &self.last {
            Some(last) => Retransmission::Resend(last.clone()),
            None => Retransmission::Absorb,
        }
    }

    /// Records a provisional response before it is sent; false (send
    /// nothing) once a final response has been sent.
    pub fn send_provisional(&mut self, bytes: Bytes) -> bool {
        if !self.is_pending() {
            return false;
        }
        self.state = ServerState::Proceeding;
        self.last = Some(bytes);
        true
    }

    /// Records the final response `code` before it is sent, and arms the
    /// timers of the state it leads to; false (send nothing) if a final
    /// response was sent already.
    pub fn send_final(&mut self, code: u16, bytes: Bytes, now_ms: u64) -> bool {
        if !self.is_pending() {
            return false;
        }
        self.last = Some(bytes);
        if self.invite && (200..300).contains(&code) {
            self.state = ServerState::Accepted;
            self.end_at = Some(now_ms + TIMER_L_MS);
        } else if self.invite {
            self.state = ServerState::Completed;
            if !self.reliable {
                self.timer_g = Some((now_ms + T1_MS, T1_MS));
            }
            self.end_at = Some(now_ms + TIMER_H_MS);
        } else {
            self.state = ServerState::Completed;
            self.end_at = Some(now_ms + if self.reliable { 0 } else { TIMER_J_MS });
        }
        true
    }

    /// An ACK matched this (INVITE) transaction.
    pub fn on_ack(&mut self, now_ms: u64) -> AckOutcome {
        match self.state {
            ServerState::Completed => {
                self.state = ServerState::Confirmed;
                self.timer_g = None;
                self.end_at = Some(now_ms + if self.reliable { 0 } else { TIMER_I_MS });
                AckOutcome::Absorbed
            }
            ServerState::Confirmed => AckOutcome::Absorbed,
            ServerState::Trying | ServerState::Proceeding | ServerState::Accepted => {
                AckOutcome::PassOn
            }
        }
    }

    /// When the transaction next has a timer to run.
    pub fn deadline(&self) -> Option<u64> {
        self.timers().into_iter().flatten().min()
    }

    /// Every timer of the transaction (Timer G, its end): its owner queues
    /// each one when it is set, at its own duration.
    pub fn timers(&self) -> [Option<u64>; 2] {
        [self.timer_g.map(|(t, _)| t), self.end_at]
    }

    /// True when the transaction has ended by `now_ms`.
    fn ended(&self, now_ms: u64) -> bool {
        self.end_at.is_some_and(|t| t <= now_ms)
    }

    /// Runs the timers due at `now_ms`.
    fn on_timer(&mut self, now_ms: u64) -> Option<ServerTimeout> {
        if self.ended(now_ms) {
            return Some(ServerTimeout::Ended);
        }
        match self.timer_g {
            Some((due, interval)) if due <= now_ms => {
                let interval = (interval * 2).min(T2_MS);
                self.timer_g = Some((now_ms + interval, interval));
                self.last.clone().map(ServerTimeout::Resend)
            }
            _ => None,
        }
    }
}

/// A server transaction and what its owner keeps with it.
#[derive(Debug)]
pub struct ServerEntry<T> {
    /// The transaction.
    pub tx: ServerTransaction,
    /// The owner's state (the request, where responses go, routing).
    pub data: T,
}

/// How a request matched the table.
#[derive(Debug, PartialEq, Eq)]
pub enum Match {
    /// No transaction had this key: one was created; process the request.
    New,
    /// A retransmission: do what this says, and do not process it again.
    Retransmission(Retransmission),
}

/// The server transactions of one owner, by key, with their timers.
///
/// Every timer is queued when it is set, at its own duration (so the queue
/// stays O(1), see [`TimerQueue`]); a queued deadline that no longer
/// matches its transaction's timers finds nothing due when it comes up.
#[derive(Debug)]
pub struct ServerTable<T> {
    entries: HashMap<TransactionKey, ServerEntry<T>, KeyHasher>,
    timers: TimerQueue<TransactionKey>,
}

impl<T> ServerTable<T> {
    /// An empty table whose keys are hashed with `hasher` (seeded: the
    /// keys come from the network).
    pub fn new(hasher: KeyHasher) -> ServerTable<T> {
        ServerTable {
            entries: HashMap::with_hasher(hasher),
            timers: TimerQueue::new(),
        }
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of transactions that have not sent a final response yet.
    pub fn pending(&self) -> usize {
        self.entries.values().filter(|e| e.tx.is_pending()).count()
    }

    /// The entry of `key`.
    pub fn get(&self, key: &TransactionKey) -> Option<&ServerEntry<T>> {
        self.entries.get(key)
    }

    /// The entry of `key`, to change its owner's state.
    pub fn get_mut(&mut self, key: &TransactionKey) -> Option<&mut ServerEntry<T>> {
        self.entries.get_mut(key)
    }

    /// Matches a request (one hash probe): a retransmission, or a new
    /// transaction made by `make` (with its owner's state) at `now_ms`.
    pub fn on_request(
        &mut self,
        key: &TransactionKey,
        now_ms: u64,
        make: impl FnOnce() -> (ServerTransaction, T),
    ) -> Match {
        match self.entries.entry(key.clone()) {
            Entry::Occupied(e) => Match::Retransmission(e.get().tx.on_retransmission()),
            Entry::Vacant(slot) => {
                let (tx, data) = make();
                let set = tx.timers();
                slot.insert(ServerEntry { tx, data });
                self.queue_set(key, [None; 2], set, now_ms);
                Match::New
            }
        }
    }

    /// Records the provisional response of `key`; false if it must not be
    /// sent (no such transaction, or it has answered finally).
    pub fn send_provisional(&mut self, key: &TransactionKey, bytes: Bytes) -> bool {
        self.entries
            .get_mut(key)
            .is_some_and(|e| e.tx.send_provisional(bytes))
    }

    /// Records the final response of `key` and arms its timers; false if
    /// it must not be sent. A transaction that ends at once (a non-INVITE
    /// over a reliable transport) is forgotten now.
    pub fn send_final(
        &mut self,
        key: &TransactionKey,
        code: u16,
        bytes: Bytes,
        now_ms: u64,
    ) -> bool {
        let Some(entry) = self.entries.get_mut(key) else {
            return false;
        };
        let before = entry.tx.timers();
        if !entry.tx.send_final(code, bytes, now_ms) {
            return false;
        }
        if entry.tx.ended(now_ms) {
            self.entries.remove(key);
        } else {
            let after = entry.tx.timers();
            self.queue_set(key, before, after, now_ms);
        }
        true
    }

    /// An ACK for the INVITE transaction `key`; `None` when there is none.
    pub fn on_ack(&mut self, key: &TransactionKey, now_ms: u64) -> Option<AckOutcome> {
        let tx = &mut self.entries.get_mut(key)?.tx;
        let before = tx.timers();
        let outcome = tx.on_ack(now_ms);
        let after = tx.timers();
        self.queue_set(key, before, after, now_ms);
        Some(outcome)
    }

    /// Removes the transaction of `key` (its owner gave up on it).
    pub fn remove(&mut self, key: &TransactionKey) -> Option<ServerEntry<T>> {
        self.entries.remove(key)
    }

    /// Queues the timers set at `now_ms`: those of `after` that differ
    /// from `before`.
    fn queue_set(
        &mut self,
        key: &TransactionKey,
        before: [Option<u64>; 2],
        after: [Option<u64>; 2],
        now_ms: u64,
    ) {
        for (old, new) in before.into_iter().zip(after) {
            if let Some(d) = new.filter(|_| new != old) {
                self.timers.arm(now_ms, d, key.clone());
            }
        }
    }

    /// The earliest instant at which [`ServerTable::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.next_deadline()
    }

    /// Runs every timer due at `now_ms`, telling `on` of each
    /// retransmission to send and each transaction that ended (with its
    /// entry, already removed); then gives back the memory of a burst.
    pub fn handle_timeout(
        &mut self,
        now_ms: u64,
        mut on: impl FnMut(&TransactionKey, ServerTimeout, &ServerEntry<T>),
    ) {
        while let Some((_, key)) = self.timers.pop_due(now_ms) {
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            let before = entry.tx.timers();
            match entry.tx.on_timer(now_ms) {
                Some(ServerTimeout::Ended) => {
                    if let Some(gone) = self.entries.remove(&key) {
                        on(&key, ServerTimeout::Ended, &gone);
                    }
                    continue;
                }
                Some(resend) => on(&key, resend, entry),
                None => {}
            }
            let after = entry.tx.timers();
            self.queue_set(&key, before, after, now_ms);
        }
        self.shrink();
    }

    /// Shrinks the map and the queue when less than a quarter of their
    /// capacity is in use, so a burst does not keep its peak memory.
    fn shrink(&mut self) {
        if self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to(self.entries.len() * 2);
        }
        self.timers.shrink();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sip_message::{Limits, Message};

    fn key(branch: &str) -> TransactionKey {
        let s = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\n\
             To: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\r\n"
        );
        let msg = Message::parse(Bytes::from(s), &Limits::default()).unwrap();
        TransactionKey::of(&msg).unwrap()
    }

    fn table() -> ServerTable<()> {
        ServerTable::new(KeyHasher::with_seeds(1, 2, 3, 4))
    }

    fn non_invite(reliable: bool) -> impl FnOnce() -> (ServerTransaction, ()) {
        move || (ServerTransaction::new(false, reliable), ())
    }

    #[test]
    fn retransmission_gets_the_same_response_until_timer_j() {
        let mut t = table();
        let k = key("z9hG4bK1");
        assert_eq!(t.on_request(&k, 0, non_invite(false)), Match::New);
        assert_eq!(
            t.on_request(&k, 10, non_invite(false)),
            Match::Retransmission(Retransmission::Absorb)
        );
        assert!(t.send_final(&k, 200, Bytes::from_static(b"resp"), 100));
        let resend = Match::Retransmission(Retransmission::Resend(Bytes::from_static(b"resp")));
        assert_eq!(t.on_request(&k, 200, non_invite(false)), resend);
        t.handle_timeout(100 + TIMER_J_MS - 1, |_, _, _| {});
        assert_eq!(t.on_request(&k, 300, non_invite(false)), resend);
        let mut ended = 0;
        t.handle_timeout(100 + TIMER_J_MS, |_, e, _| {
            assert_eq!(e, ServerTimeout::Ended);
            ended += 1;
        });
        assert_eq!(ended, 1);
        assert!(t.is_empty());
        assert_eq!(
            t.on_request(&k, 100 + TIMER_J_MS, non_invite(false)),
            Match::New
        );
    }

    #[test]
    fn reliable_transport_keeps_no_completed_transaction() {
        let mut t = table();
        let k = key("z9hG4bK1");
        assert_eq!(t.on_request(&k, 0, non_invite(true)), Match::New);
        assert!(t.send_final(&k, 200, Bytes::from_static(b"r"), 1));
        assert!(t.is_empty());
        assert!(!t.send_final(&k, 200, Bytes::from_static(b"r"), 1));
    }

    #[test]
    fn a_guarded_transaction_nobody_answers_ends() {
        let mut t = table();
        let k = key("z9hG4bK1");
        t.on_request(&k, 0, || {
            (
                ServerTransaction::new(false, false).with_guard(TIMER_J_MS),
                (),
            )
        });
        t.handle_timeout(TIMER_J_MS, |_, _, _| {});
        assert!(t.is_empty());
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn an_invite_non_2xx_is_resent_on_timer_g_until_the_ack() {
        let mut t = table();
        let k = key("z9hG4bK1");
        t.on_request(&k, 0, || (ServerTransaction::new(true, false), ()));
        assert!(t.send_final(&k, 486, Bytes::from_static(b"486"), 0));
        let mut resent = Vec::new();
        for now in [T1_MS, 3 * T1_MS] {
            assert_eq!(t.poll_timeout(), Some(now));
            t.handle_timeout(now, |_, e, _| resent.push((now, e)));
        }
        assert_eq!(resent.len(), 2);
        assert_eq!(t.on_ack(&k, 2_000), Some(AckOutcome::Absorbed));
        assert_eq!(
            t.get(&k).map(|e| e.tx.state()),
            Some(ServerState::Confirmed)
        );
        t.handle_timeout(2_000 + TIMER_I_MS, |_, _, _| {});
        assert!(t.is_empty());
    }

    #[test]
    fn memory_of_a_burst_is_given_back_once_it_expired() {
        let mut t = table();
        for i in 0..1000 {
            let k = key(&format!("z9hG4bK{i}"));
            t.on_request(&k, 0, non_invite(false));
            t.send_final(&k, 200, Bytes::new(), 10);
        }
        assert!(t.entries.capacity() >= 1000);
        t.handle_timeout(10 + TIMER_J_MS, |_, _, _| {});
        assert!(t.is_empty());
        assert!(t.entries.capacity() < 1000);
        assert!(t.timers.capacity() < 1000);
        assert_eq!(t.poll_timeout(), None);
    }
}
