//! Log setup: lines on stderr, human-readable text or one JSON object per
//! line, at the level of the settings (`RUST_LOG` overrides it). The level
//! can be changed while running (a reload); the format cannot.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Accepted log levels (`--log-level`, `log_level`), least verbose first.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// How log lines are written (`--log-format`, `log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One line of text per event, for people.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `message`
    /// and the event's fields), for log collectors.
    Json,
}

/// The installed logger: changes its level on a reload.
pub struct Logging {
    /// Swaps the level filter; `None` when `RUST_LOG` decides (a reload
    /// leaves it alone) or another logger was installed first.
    filter: Option<reload::Handle<EnvFilter, Registry>>,
}

impl Logging {
    /// Applies `level` (one of [`LOG_LEVELS`]) from now on, unless
    /// `RUST_LOG` set the filter at start.
    pub fn set_level(&self, level: &str) {
        let Some(handle) = &self.filter else {
            return;
        };
        if let Err(e) = handle.reload(EnvFilter::new(level)) {
            tracing::error!(error = %e, "cannot change the log level");
        }
    }
}

/// Installs the global tracing subscriber: `format` on stderr, `level`
/// unless `RUST_LOG` is set.
pub fn init(level: &str, format: LogFormat) -> Logging {
    let (filter, from_env) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, true),
        Err(_) => (EnvFilter::new(level), false),
    };
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    Logging {
        filter: (installed.is_ok() && !from_env).then_some(handle),
    }
}
