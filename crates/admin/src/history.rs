//! The stats history: a task of the listener samples the counters every
//! [`INTERVAL`] and keeps the last [`KEEP`] samples (ten minutes), each
//! holding what happened in its interval (REGISTERs answered 200, those
//! that failed, failed authentications) and the gauges at its end
//! (blocked sources, bindings). Every sample is also sent to the live
//! feeds (`event: stats`).

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// How often a sample is taken.
pub(crate) const INTERVAL: Duration = Duration::from_secs(2);

/// How many samples are kept (ten minutes).
pub(crate) const KEEP: usize = 300;

/// One interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct Sample {
    /// The end of the interval (Unix ms).
    pub t: u64,
    /// REGISTERs answered 2xx in the interval.
    pub register_ok: u64,
    /// REGISTERs answered otherwise in the interval (challenges not counted).
    pub register_failed: u64,
    /// Failed authentications in the interval.
    pub auth_failures: u64,
    /// Sources blocked at the end of the interval.
    pub blocked_sources: u64,
    /// Bindings held at the end of the interval.
    pub bindings: u64,
}

/// The samples kept and the feed of new ones.
pub(crate) struct History {
    samples: Mutex<VecDeque<Sample>>,
    feed: broadcast::Sender<Sample>,
}

impl Default for History {
    fn default() -> Self {
        History {
            samples: Mutex::new(VecDeque::with_capacity(KEEP)),
            feed: broadcast::channel(16).0,
        }
    }
}

impl History {
    /// The samples kept, oldest first.
    pub(crate) fn samples(&self) -> Vec<Sample> {
        self.lock().iter().copied().collect()
    }

    /// The samples taken from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Sample> {
        self.feed.subscribe()
    }

    fn push(&self, sample: Sample) {
        {
            let mut samples = self.lock();
            if samples.len() == KEEP {
                samples.pop_front();
            }
            samples.push_back(sample);
        }
        let _ = self.feed.send(sample);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Sample>> {
        self.samples.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The counters a sample takes the differences of.
#[derive(Debug, Clone, Copy, Default)]
struct Counted {
    register_ok: u64,
    register_failed: u64,
    auth_failures: u64,
}

fn counted(node: &server::Node) -> Counted {
    let totals = node.metrics().totals();
    let mut c = Counted::default();
    for (result, n) in totals.register {
        match result {
            "ok" => c.register_ok += n,
            "challenge" => {}
            _ => c.register_failed += n,
        }
    }
    c.auth_failures = totals
        .security
        .iter()
        .filter(|(name, _)| *name == "locus_auth_failures_total")
        .map(|(_, n)| n)
        .sum();
    c
}

/// Starts sampling: the counters now are the base of the first sample;
/// a task takes one every [`INTERVAL`] until the listener stops.
pub(crate) fn start(history: Arc<History>, node: server::Node, shutdown: server::Shutdown) {
    let before = counted(&node);
    tokio::spawn(run(history, node, shutdown, before));
}

async fn run(
    history: Arc<History>,
    node: server::Node,
    shutdown: server::Shutdown,
    mut before: Counted,
) {
    let node = &node;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.wait() => return,
        }
        let now = counted(node);
        let gauges = node.gauges();
        history.push(Sample {
            t: crate::clock::now_ms(),
            register_ok: now.register_ok.saturating_sub(before.register_ok),
            register_failed: now.register_failed.saturating_sub(before.register_failed),
            auth_failures: now.auth_failures.saturating_sub(before.auth_failures),
            blocked_sources: gauges.blocked_sources as u64,
            bindings: gauges.counts.bindings,
        });
        before = now;
    }
}
