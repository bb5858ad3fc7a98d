//! Client transactions (RFC 3261 §17.1, with the Accepted state of RFC
//! 6026): the one implementation behind every request locus sends, the
//! proxy's branches and CANCELs and the registration client's REGISTERs.
//!
//! Over an unreliable transport the request is retransmitted on Timer A
//! (INVITE, doubling) or E (non-INVITE, doubling up to T2, at T2 once a
//! provisional response came); Timer B or F ends a transaction that got no
//! final response; a completed transaction absorbs retransmitted final
//! responses for Timer D, K or M (and answers a retransmitted non-2xx
//! final of an INVITE with its ACK again, §17.1.1.2). The owner (the TU)
//! sends what the transaction asks and decides on the responses it passes
//! up. Time is an input.

use super::timers::{T1_MS, T2_MS, TIMER_B_MS, TIMER_D_MS, TIMER_F_MS, TIMER_K_MS, TIMER_M_MS};
use bytes::Bytes;

/// Where a client transaction is (§17.1.1, §17.1.2, RFC 6026).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// An INVITE was sent, nothing received yet.
    Calling,
    /// A non-INVITE request was sent, nothing received yet.
    Trying,
    /// A provisional response was received.
    Proceeding,
    /// A final response (a non-2xx one, for an INVITE) was received.
    Completed,
    /// An INVITE got a 2xx (RFC 6026).
    Accepted,
}

/// One client transaction.
#[derive(Debug)]
pub struct ClientTransaction {
    invite: bool,
    reliable: bool,
    state: ClientState,
    /// The request, as sent (retransmitted as is).
    request: Bytes,
    /// Timer A or E: the next retransmission and the interval that led to it.
    retransmit: Option<(u64, u64)>,
    /// Timer B or F.
    timeout_at: Option<u64>,
    /// Timer D, K or M: when a completed transaction ends.
    end_at: Option<u64>,
    /// The ACK of an INVITE's non-2xx final response, sent again for each
    /// retransmission of that response.
    ack: Option<Bytes>,
}

/// What a response means for the transaction's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A provisional response: pass it up.
    Provisional,
    /// The first final response: pass it up; for an INVITE's non-2xx,
    /// send `ack` (§17.1.1.3).
    Final {
        /// The ACK to send, if any.
        ack: Option<Bytes>,
    },
    /// Another 2xx to an INVITE already accepted (RFC 6026): pass it up
    /// (a proxy forwards every 2xx).
    LaterSuccess,
    /// A retransmission of the final response, absorbed; send `ack` again
    /// if given.
    Absorbed {
        /// The ACK to send again, if any.
        ack: Option<Bytes>,
    },
}

/// What a timer did to a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientTimeout {
    /// Timer A or E: send the request again.
    Retransmit(Bytes),
    /// Timer B or F: no final response came; the transaction is over and
    /// its owner treats it as a 408 (§8.1.3.1).
    TimedOut,
    /// Timer D, K or M: the completed transaction is over.
    Ended,
}

impl ClientTransaction {
    /// A transaction for `request`, sent at `now_ms` (its owner sends it
    /// once; this asks for the retransmissions).
    pub fn new(invite: bool, reliable: bool, request: Bytes, now_ms: u64) -> ClientTransaction {
        ClientTransaction {
            invite,
            reliable,
            state: if invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            request,
            retransmit: (!reliable).then_some((now_ms + T1_MS, T1_MS)),
            timeout_at: Some(now_ms + if invite { TIMER_B_MS } else { TIMER_F_MS }),
            end_at: None,
            ack: None,
        }
    }

    /// Where the transaction is.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// True for an INVITE transaction.
    pub fn is_invite(&self) -> bool {
        self.invite
    }

    /// The request as sent.
    pub fn request(&self) -> &Bytes {
        &self.request
    }

    /// A response with status `code` matched the transaction at `now_ms`;
    /// `make_ack` writes the ACK for it (called once, for the first
    /// non-2xx final response of an INVITE).
    pub fn on_response(
        &mut self,
        code: u16,
        now_ms: u64,
        make_ack: impl FnOnce() -> Bytes,
    ) -> ClientEvent {
        match self.state {
            ClientState::Completed => {
                let ack = if code >= 300 { self.ack.clone() } else { None };
                return ClientEvent::Absorbed { ack };
            }
            ClientState::Accepted => {
                return if (200..300).contains(&code) {
                    ClientEvent::LaterSuccess
                } else {
                    ClientEvent::Absorbed { ack: None }
                };
            }
            ClientState::Calling | ClientState::Trying | ClientState::Proceeding => {}
        }
        if code < 200 {
            if self.invite {
                // §17.1.1.2: no more retransmissions, and Timer B stops.
                self.retransmit = None;
                self.timeout_at = None;
            } else if self.state == ClientState::Trying {
                // §17.1.2.2: retransmissions go on at T2.
                if let Some((_, _)) = self.retransmit {
                    self.retransmit = Some((now_ms + T2_MS, T2_MS));
                }
            }
            self.state = ClientState::Proceeding;
            return ClientEvent::Provisional;
        }
        self.retransmit = None;
        self.timeout_at = None;
        if self.invite && code < 300 {
            self.state = ClientState::Accepted;
            self.end_at = Some(now_ms + TIMER_M_MS);
            return ClientEvent::Final { ack: None };
        }
        self.state = ClientState::Completed;
        if self.invite {
            self.end_at = Some(now_ms + if self.reliable { 0 } else { TIMER_D_MS });
            let ack = make_ack();
            self.ack = Some(ack.clone());
            ClientEvent::Final { ack: Some(ack) }
        } else {
            self.end_at = Some(now_ms + if self.reliable { 0 } else { TIMER_K_MS });
            ClientEvent::Final { ack: None }
        }
    }

    /// When the transaction next has a timer to run.
    pub fn deadline(&self) -> Option<u64> {
        self.timers().into_iter().flatten().min()
    }

    /// Every timer of the transaction (A or E; B or F; D, K or M): its
    /// owner queues each one when it is set, at its own duration.
    pub fn timers(&self) -> [Option<u64>; 3] {
        [
            self.retransmit.map(|(t, _)| t),
            self.timeout_at,
            self.end_at,
        ]
    }

    /// Runs the timers due at `now_ms`.
    pub fn on_timer(&mut self, now_ms: u64) -> Option<ClientTimeout> {
        if self.end_at.is_some_and(|t| t <= now_ms) {
            return Some(ClientTimeout::Ended);
        }
        if self.timeout_at.is_some_and(|t| t <= now_ms) {
            self.retransmit = None;
            self.timeout_at = None;
            return Some(ClientTimeout::TimedOut);
        }
        match self.retransmit {
            Some((due, interval)) if due <= now_ms => {
                let interval = if self.invite {
                    interval * 2
                } else if self.state == ClientState::Proceeding {
                    T2_MS
                } else {
                    (interval * 2).min(T2_MS)
                };
                self.retransmit = Some((now_ms + interval, interval));
                Some(ClientTimeout::Retransmit(self.request.clone()))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tx: &mut ClientTransaction, until: u64) -> Vec<(u64, ClientTimeout)> {
        let mut out = Vec::new();
        while let Some(t) = tx.deadline().filter(|t| *t <= until) {
            if let Some(e) = tx.on_timer(t) {
                let done = !matches!(e, ClientTimeout::Retransmit(_));
                out.push((t, e));
                if done {
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn non_invite_retransmits_doubling_to_t2_then_times_out_on_timer_f() {
        let mut tx = ClientTransaction::new(false, false, Bytes::from_static(b"REQ"), 0);
        let times: Vec<u64> = run(&mut tx, 40_000).into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            times,
            [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 32000]
        );
    }

    #[test]
    fn invite_retransmits_doubling_without_cap_then_times_out_on_timer_b() {
        let mut tx = ClientTransaction::new(true, false, Bytes::from_static(b"INV"), 0);
        let out = run(&mut tx, 40_000);
        let times: Vec<u64> = out.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [500, 1500, 3500, 7500, 15500, 31500, 32000]);
        assert_eq!(out.last().map(|(_, e)| e), Some(&ClientTimeout::TimedOut));
    }

    #[test]
    fn an_invite_non_2xx_is_acked_once_built_and_again_for_each_retransmission() {
        let mut tx = ClientTransaction::new(true, false, Bytes::from_static(b"INV"), 0);
        assert_eq!(
            tx.on_response(180, 10, || unreachable!()),
            ClientEvent::Provisional
        );
        assert_eq!(
            tx.deadline(),
            None,
            "no retransmission, no Timer B once proceeding"
        );
        let ack = Bytes::from_static(b"ACK");
        let first = tx.on_response(486, 20, || ack.clone());
        assert_eq!(
            first,
            ClientEvent::Final {
                ack: Some(ack.clone())
            }
        );
        let again = tx.on_response(486, 30, || unreachable!());
        assert_eq!(again, ClientEvent::Absorbed { ack: Some(ack) });
        assert_eq!(tx.deadline(), Some(20 + TIMER_D_MS));
    }

    #[test]
    fn an_accepted_invite_passes_later_2xx_up_until_timer_m() {
        let mut tx = ClientTransaction::new(true, true, Bytes::from_static(b"INV"), 0);
        assert_eq!(
            tx.on_response(200, 10, || unreachable!()),
            ClientEvent::Final { ack: None }
        );
        assert_eq!(
            tx.on_response(200, 20, || unreachable!()),
            ClientEvent::LaterSuccess
        );
        assert_eq!(tx.on_timer(10 + TIMER_M_MS), Some(ClientTimeout::Ended));
    }

    #[test]
    fn a_provisional_slows_non_invite_retransmissions_to_t2() {
        let mut tx = ClientTransaction::new(false, false, Bytes::from_static(b"REQ"), 0);
        tx.on_response(100, 100, || unreachable!());
        assert_eq!(tx.deadline(), Some(100 + T2_MS));
        assert_eq!(
            tx.on_timer(100 + T2_MS),
            Some(ClientTimeout::Retransmit(Bytes::from_static(b"REQ")))
        );
        assert_eq!(tx.deadline(), Some(100 + 2 * T2_MS));
    }
}
