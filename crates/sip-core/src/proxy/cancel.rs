//! CANCEL (RFC 3261 §9.1, §16.10): a CANCEL received is answered at once
//! and cancels every pending branch of its INVITE; the proxy's own
//! CANCELs go out on a branch once it has had a provisional response.

use super::branch::{CancelState, ClientKey};
use super::Proxy;
use crate::outbox::Outbox;
use crate::reply::Reply;
use crate::transaction::{ClientState, TransactionKey};

impl Proxy {
    /// CANCEL (§16.10): 200 at once when the INVITE is known (481 if not),
    /// then every pending branch is cancelled.
    pub(super) fn handle_cancel(&mut self, key: &TransactionKey, now_ms: u64, out: &mut Outbox) {
        let invite_key = self
            .servers
            .get(key)
            .and_then(|e| TransactionKey::of_method(&e.data.req, "INVITE"))
            .filter(|k| self.servers.get(k).is_some());
        let Some(invite_key) = invite_key else {
            return self.respond(
                key,
                Reply::new(481, "Call/Transaction Does Not Exist"),
                now_ms,
                out,
            );
        };
        self.respond(key, Reply::new(200, "OK"), now_ms, out);
        let Some(entry) = self.servers.get_mut(&invite_key) else {
            return;
        };
        if !entry.tx.is_pending() {
            return;
        }
        let waiting_for_lookup = match entry.data.context.as_mut() {
            Some(context) => {
                context.cancelled = true;
                context.branches.is_empty()
            }
            None => true,
        };
        if waiting_for_lookup {
            return self.respond(
                &invite_key,
                Reply::new(487, "Request Terminated"),
                now_ms,
                out,
            );
        }
        self.cancel_branches(&invite_key, None, now_ms, out);
    }

    /// Cancels every pending INVITE branch of `key` but `except` (§16.7
    /// step 10, §16.10): at once if it has had a provisional response,
    /// else as soon as it has one (§9.1).
    pub(super) fn cancel_branches(
        &mut self,
        key: &TransactionKey,
        except: Option<&ClientKey>,
        now_ms: u64,
        out: &mut Outbox,
    ) {
        let Some(context) = self.servers.get(key).and_then(|e| e.data.context.as_ref()) else {
            return;
        };
        let branches: Vec<ClientKey> = context
            .branches
            .iter()
            .filter(|b| Some(*b) != except)
            .cloned()
            .collect();
        for ck in branches {
            let Some(b) = self.branches.get_mut(&ck) else {
                continue;
            };
            if !b.tx.is_invite() || !matches!(b.cancel, CancelState::No | CancelState::Wanted) {
                continue;
            }
            match b.tx.state() {
                ClientState::Calling => b.cancel = CancelState::Wanted,
                ClientState::Proceeding => self.send_cancel(&ck, now_ms, out),
                ClientState::Trying | ClientState::Completed | ClientState::Accepted => {}
            }
        }
    }
}
