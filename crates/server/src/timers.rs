//! The one timer loop: sleeps until the earliest deadline the endpoint
//! instances or the store report (at most a second, woken early when an
//! instance armed an earlier timer), then lets them act.

use crate::shell::Shell;
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

/// Runs the timers until shutdown.
pub(crate) async fn run(shell: Arc<Shell>) {
    let shutdown = shell.shutdown().clone();
    loop {
        let now = crate::now_ms();
        let next_endpoint = shell.run_timers(now);
        let expired = shell.store().purge_expired(now);
        for b in &expired {
            tracing::debug!(aor = %b.aor, contact = %b.contact, "binding expired");
        }
        if !expired.is_empty() && shell.changes().listened() {
            shell
                .changes()
                .send(crate::change::Change::Expired { bindings: expired });
        }
        let next = [next_endpoint, shell.store().next_expiry()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(u64::MAX);
        let sleep_ms = next
            .saturating_sub(crate::now_ms())
            .clamp(MIN_SLEEP_MS, MAX_SLEEP_MS);
        shell.plan_wake(crate::now_ms().saturating_add(sleep_ms));
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = shell.timers_woken() => {}
            _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
        }
    }
}
