//! The one timer loop: sleeps until the earliest deadline the core (server
//! transactions, proxy transactions) or the store reports (at most a
//! second, woken early when the proxy armed a new timer), then lets them act.

use crate::dispatch::Shared;
use crate::shutdown::Shutdown;
use location::LocationStore;
use std::sync::Arc;
use std::time::Duration;

/// Longest sleep between two checks.
const MAX_SLEEP_MS: u64 = 1000;

/// Shortest sleep between two checks: under steady load some timer is due
/// every millisecond (Timer J of the requests of 32 s ago), and waking for
/// each would cost a thread wake-up per millisecond to free a few entries.
/// Timers fire up to this late instead: RFC 3261 timers are lower bounds,
/// and the shortest of them (T1, 500 ms) is fifty times this.
const MIN_SLEEP_MS: u64 = 10;

pub(crate) async fn run<S: LocationStore>(shared: Arc<Shared<S>>, shutdown: Shutdown) {
    loop {
        let now = crate::now_ms();
        let next_tx = shared.transaction_timers(now);
        let (sends, next_proxy) = shared.router().timers(shared.store(), now);
        for t in sends {
            shared.send_transmit(t);
        }
        let expired = shared.store().purge_expired(now);
        for b in &expired {
            tracing::debug!(aor = %b.aor, contact = %b.contact, "binding expired");
        }
        let next = [next_tx, next_proxy, shared.store().next_expiry()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(u64::MAX);
        let sleep_ms = next
            .saturating_sub(crate::now_ms())
            .clamp(MIN_SLEEP_MS, MAX_SLEEP_MS);
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = shared.timers_woken() => {}
            _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
        }
    }
}
