//! The live feed (Server-Sent Events): every change of an AOR's set made
//! through this node (`binding`), expiries (`expired`), a stats sample
//! each interval (`stats`), `lagged` when the client fell behind and
//! missed changes, and a `: keepalive` comment every 15 s. It ends when
//! the listener stops.

use crate::api::bindings::BindingView;
use crate::api::tags;
use crate::error::ErrorBody;
use crate::history::Sample;
use crate::state::Shared;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Serialize;
use server::Change;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use utoipa::ToSchema;

/// How often a keep-alive comment is sent on a quiet feed.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// `event: binding`: an AOR's whole set now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BindingEvent {
    /// The AOR.
    aor: String,
    /// Its bindings now (empty: it is gone).
    bindings: Vec<BindingView>,
}

/// `event: expired`: bindings that expired.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExpiredEvent {
    /// The bindings that expired.
    bindings: Vec<BindingView>,
}

/// `event: lagged`: changes the client missed (it should reload its list).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LaggedEvent {
    /// How many.
    missed: u64,
}

struct Feed {
    changes: server::Subscription,
    stats: Receiver<Sample>,
    shutdown: server::Shutdown,
}

fn event(name: &str, data: &impl Serialize) -> Option<Event> {
    Event::default().event(name).json_data(data).ok()
}

fn of_change(change: Change) -> Option<Event> {
    let now = crate::clock::now_ms();
    match change {
        Change::Stored { aor, bindings } => event(
            "binding",
            &BindingEvent {
                aor,
                bindings: BindingView::all(&bindings, now),
            },
        ),
        Change::Expired { bindings } => event(
            "expired",
            &ExpiredEvent {
                bindings: BindingView::all(&bindings, now),
            },
        ),
    }
}

/// The next event of `feed`; `None` once it ends (shutdown, or the node is gone).
async fn next(feed: &mut Feed) -> Option<Event> {
    loop {
        let got = tokio::select! {
            c = feed.changes.recv() => match c {
                Ok(change) => of_change(change),
                Err(RecvError::Lagged(missed)) => event("lagged", &LaggedEvent { missed }),
                Err(RecvError::Closed) => return None,
            },
            s = feed.stats.recv() => match s {
                Ok(sample) => event("stats", &sample),
                // A missed sample is not worth telling: the next one comes.
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return None,
            },
            () = feed.shutdown.wait() => return None,
        };
        if got.is_some() {
            return got;
        }
    }
}

/// The live feed.
#[utoipa::path(get, path = "/api/v1/events", tag = tags::STATS,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "An endless event stream: `binding` (BindingEvent), `expired` \
            (ExpiredEvent), `stats` (Sample), `lagged` (LaggedEvent), and `: keepalive` comments",
            body = String, content_type = "text/event-stream"),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ))]
pub(crate) async fn events(
    State(app): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed {
        changes: app.ctx.node.subscribe(),
        stats: app.history.subscribe(),
        shutdown: app.shutdown.clone(),
    };
    let stream = stream::unfold(feed, |mut feed| async move {
        let ev = next(&mut feed).await?;
        Some((Ok(ev), feed))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEPALIVE).text("keepalive"))
}
