//! `locus stats`: what the running server reports (`/api/v1/stats`), or,
//! when no server runs, the counts the data directory holds.

use crate::api_client::{ApiError, ServerArgs, Session};
use crate::failure::{exit_code, Failure};
use clap::Args;
use location::{read_bindings, SqliteUsers, StoreError, UserStore};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

/// Arguments of `locus stats`.
#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// Print the server's JSON object (or, without a server, the store's counts as JSON)
    #[arg(long)]
    pub json: bool,

    /// Where the server and the store are.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// What was found.
enum Stats {
    /// The server's `/api/v1/stats` object.
    Server(Value),
    /// Counts read from the data directory (no server runs).
    Store {
        bindings: usize,
        aors: usize,
        accounts: usize,
    },
}

/// Prints the statistics; exit 1 when neither the server nor the store
/// can be read.
pub fn run(args: &StatsArgs) -> ExitCode {
    exit_code(print_stats(args))
}

fn print_stats(args: &StatsArgs) -> Result<(), Failure> {
    let target = args.server.target()?;
    let stats = target.either(from_server, from_store)?;
    let text = match (&stats, args.json) {
        (Stats::Server(value), true) => format!("{value}\n"),
        (Stats::Server(value), false) => render(value),
        (
            Stats::Store {
                bindings,
                aors,
                accounts,
            },
            json,
        ) => {
            if json {
                let value = json!({
                    "server": false,
                    "bindings": bindings,
                    "aors": aors,
                    "accounts": accounts,
                });
                format!("{value}\n")
            } else {
                format!(
                    "no server running; from the data directory {}:\n\
                     bindings: {bindings} ({aors} AORs)\naccounts: {accounts}\n",
                    target.data_dir.display()
                )
            }
        }
    };
    print!("{text}");
    Ok(())
}

fn from_server(session: &Session) -> Result<Stats, ApiError> {
    let answer = session.get(session.url(&["api", "v1", "stats"]))?;
    if answer.status != 200 || !answer.body.is_object() {
        return Err(ApiError::Failed(Failure::Failed(format!(
            "the server at {} answered {}: {}",
            session.base(),
            answer.status,
            answer.error()
        ))));
    }
    Ok(Stats::Server(answer.body))
}

fn from_store(dir: &Path) -> Result<Stats, Failure> {
    let bindings = read_bindings(dir, None, server::now_ms()).map_err(|e| match e {
        StoreError::Missing(path) => Failure::Failed(format!(
            "no server runs and there is no location store at {}",
            path.display()
        )),
        e => Failure::Failed(format!(
            "cannot read the location store in {}: {e}",
            dir.display()
        )),
    })?;
    let aors: BTreeSet<&str> = bindings.iter().map(|b| b.aor.as_str()).collect();
    let accounts = SqliteUsers::open(dir)
        .and_then(|users| users.list(None))
        .map_err(|e| Failure::Failed(format!("account database: {e}")))?
        .len();
    Ok(Stats::Store {
        bindings: bindings.len(),
        aors: aors.len(),
        accounts,
    })
}

/// The server's statistics as lines of text.
fn render(stats: &Value) -> String {
    let text = |key: &str| match stats.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    };
    let state = if stats.get("draining").and_then(Value::as_bool) == Some(true) {
        "draining"
    } else {
        "serving"
    };
    let listeners: Vec<String> = stats
        .get("listeners")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let store = match stats.get("store") {
        Some(s) if s.get("healthy").and_then(Value::as_bool) == Some(true) => "healthy".to_owned(),
        Some(s) => format!(
            "unhealthy: {}",
            s.get("error").and_then(Value::as_str).unwrap_or("unknown")
        ),
        None => "-".to_owned(),
    };
    let mut out = format!(
        "locus {}, up {} s, {state}\nlisteners: {}\nbindings: {} ({} AORs), in flight: {}, TCP \
         connections: {}, blocked sources: {}\n",
        text("version"),
        text("uptime_seconds"),
        listeners.join(", "),
        text("bindings"),
        text("aors"),
        text("in_flight"),
        text("tcp_connections"),
        text("blocked_sources"),
    );
    for section in ["register", "proxy", "security"] {
        if let Some(Value::Object(counts)) = stats.get(section) {
            out.push_str(&format!("{section}: {}\n", counts_line(counts)));
        }
    }
    if let Some(latency) = stats.get("register_latency") {
        let count = latency.get("count").and_then(Value::as_f64).unwrap_or(0.0);
        let sum = latency
            .get("sum_seconds")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if count > 0.0 {
            let mean_ms = sum / count * 1000.0;
            out.push_str(&format!(
                "register latency: mean {mean_ms:.3} ms over {count} answered\n"
            ));
        }
    }
    out.push_str(&format!("store: {store}\n"));
    out
}

/// `key value, key value` of an object of counts.
fn counts_line(counts: &Map<String, Value>) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_contracts_object() {
        let stats = json!({"version":"0.1.0","uptime_seconds":12,"draining":false,"in_flight":0,
            "bindings":3,"aors":2,"tcp_connections":0,"blocked_sources":0,
            "register":{"ok":5,"redirect":0,"challenge":2,"rejected":1,"error":0,"declined":0},
            "register_latency":{"count":5,"sum_seconds":0.004},
            "store":{"healthy":true,"error":null},
            "listeners":["udp:127.0.0.1:5060","tcp:127.0.0.1:5060"]});
        let text = render(&stats);
        assert!(
            text.starts_with("locus 0.1.0, up 12 s, serving\n"),
            "{text}"
        );
        assert!(
            text.contains("listeners: udp:127.0.0.1:5060, tcp:127.0.0.1:5060"),
            "{text}"
        );
        assert!(text.contains("bindings: 3 (2 AORs)"), "{text}");
        assert!(
            text.contains("register: challenge 2, declined 0, error 0, ok 5"),
            "{text}"
        );
        assert!(
            text.contains("register latency: mean 0.800 ms over 5 answered"),
            "{text}"
        );
        assert!(text.ends_with("store: healthy\n"), "{text}");
        let text = render(&json!({"draining": true, "store": {"healthy": false, "error": "disk"}}));
        assert!(
            text.contains(", draining\n") && text.contains("store: unhealthy: disk"),
            "{text}"
        );
    }
}
