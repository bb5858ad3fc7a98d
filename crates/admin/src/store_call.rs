//! The location store's callbacks as futures: every operation reports
//! through a `Done` callback (from memory at once, or later from a writer
//! thread); here it completes a oneshot channel, waited on with a bound
//! so that a store that never answers gives 503 instead of a hung request.

use crate::error::ApiError;
use location_model::{Done, StoreError};
use std::time::Duration;

/// How long a store operation may take before the request gets 503.
pub(crate) const STORE_WAIT: Duration = Duration::from_secs(5);

/// Runs `op` with a callback and waits for its result; a store that does
/// not answer within [`STORE_WAIT`] (or drops the callback) is a 503.
pub(crate) async fn call<T: Send + 'static>(
    op: impl FnOnce(Done<T>),
) -> Result<Result<T, StoreError>, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    op(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    match tokio::time::timeout(STORE_WAIT, rx).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(_)) => Err(ApiError::unavailable(format!(
            "location store: {}",
            StoreError::WriterGone
        ))),
        Err(_) => Err(ApiError::unavailable(format!(
            "location store: no answer within {} s",
            STORE_WAIT.as_secs()
        ))),
    }
}

/// A store error as the API answers it: a cursor it did not hand out is
/// the client's fault (400), anything else means it cannot serve (503).
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::InvalidCursor => ApiError::bad_request("invalid cursor"),
        e => ApiError::unavailable(format!("location store: {e}")),
    }
}
