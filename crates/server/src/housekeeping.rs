//! Reloading changed accounts: the I/O half of authentication (the core
//! reads the accounts from memory, this keeps that memory in step with the
//! account database, so `locus users` changes apply without a restart).

use crate::shutdown::Shutdown;
use location::{SqliteUsers, UserCache};
use std::sync::Arc;
use std::time::Duration;

/// How often changed accounts are picked up.
const USERS_REFRESH: Duration = Duration::from_secs(1);

/// Reloads changed accounts every second until shutdown.
pub(crate) async fn refresh_users(users: Arc<UserCache<SqliteUsers>>, shutdown: Shutdown) {
    let mut refresh = tokio::time::interval(USERS_REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = refresh.tick() => {
                let users = users.clone();
                match tokio::task::spawn_blocking(move || users.refresh().map(|changed| (changed, users.count()))).await {
                    Ok(Ok((true, count))) => tracing::info!(users = count, "accounts reloaded"),
                    Ok(Ok((false, _))) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot reload accounts"),
                    Err(e) => tracing::warn!(error = %e, "account reload task failed"),
                }
            }
        }
    }
}
