//! What `locus register` prints: a table of bindings (or one JSON object
//! per line with `--json`) on stdout; notes, errors and, with `-v`, every
//! SIP message on stderr, so stdout stays parseable.

use bytes::Bytes;
use sip_core::client::{BindingInfo, Destination, Failure, Operation, State, Transmit};
use std::io::Write;
use std::net::SocketAddr;

pub struct Printer {
    json: bool,
    verbose: bool,
    aor: String,
}

impl Printer {
    pub fn new(json: bool, verbose: bool, aor: String) -> Printer {
        Printer { json, verbose, aor }
    }

    /// A progress note (stderr).
    pub fn note(&self, text: &str) {
        eprintln!("locus: {text}");
    }

    pub fn sent(&self, t: &Transmit, local: &str) {
        if self.verbose {
            let what = if t.retransmission {
                "retransmitted"
            } else {
                "sent"
            };
            eprintln!(
                "--> {what} {} {local} -> {}\n{}",
                t.destination.transport.as_str(),
                t.destination.addr,
                String::from_utf8_lossy(&t.payload)
            );
        }
    }

    pub fn received(&self, bytes: &Bytes, from: Option<SocketAddr>) {
        if self.verbose {
            let from = from.map(|a| a.to_string()).unwrap_or_default();
            eprintln!(
                "<-- received from {from}\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn success(
        &self,
        op: &Operation,
        code: u16,
        granted: Option<u32>,
        dest: Option<Destination>,
        bindings: &[BindingInfo],
        state: State,
        now_ms: u64,
    ) {
        let registrar = dest
            .map(|d| format!("{}:{}", d.transport.as_str(), d.addr))
            .unwrap_or_default();
        let refresh_in = match state {
            State::Registered { refresh_at_ms, .. } => {
                Some(refresh_at_ms.saturating_sub(now_ms).div_ceil(1000))
            }
            _ => None,
        };
        let mut out = std::io::stdout().lock();
        if self.json {
            let list: Vec<serde_json::Value> = bindings
                .iter()
                .map(|b| {
                    serde_json::json!({
                        "contact": b.contact,
                        "expires": b.expires,
                        "q": b.q,
                        "ours": b.ours,
                    })
                })
                .collect();
            let v = serde_json::json!({
                "operation": op.name(),
                "aor": self.aor,
                "registrar": registrar,
                "status": code,
                "granted": granted,
                "refresh_in": refresh_in,
                "bindings": list,
            });
            let _ = writeln!(out, "{v}");
        } else {
            let head = match op {
                Operation::Register => match granted {
                    Some(g) => format!(
                        "registered {} at {registrar}: {code}, expires in {g} s",
                        self.aor
                    ),
                    None => format!("registered {} at {registrar}: {code}", self.aor),
                },
                Operation::Query => format!("bindings of {} at {registrar}: {code}", self.aor),
                Operation::Remove(l) => {
                    format!(
                        "removed {} from {} at {registrar}: {code}",
                        l.join(", "),
                        self.aor
                    )
                }
                Operation::RemoveAll => {
                    format!(
                        "removed every binding of {} at {registrar}: {code}",
                        self.aor
                    )
                }
                Operation::Unregister => {
                    format!("unregistered {} at {registrar}: {code}", self.aor)
                }
            };
            let _ = writeln!(out, "{head}");
            if let Some(r) = refresh_in {
                let _ = writeln!(out, "next refresh in {r} s");
            }
            let _ = write!(out, "{}", table(bindings));
        }
        let _ = out.flush();
    }

    pub fn failure(&self, op: &Operation, failure: &Failure) {
        if self.json {
            let code = match failure {
                Failure::Status { code, .. }
                | Failure::NoCredentials { code }
                | Failure::AuthenticationFailed { code, .. }
                | Failure::UnsupportedChallenge { code } => Some(*code),
                Failure::IntervalTooBrief { .. } => Some(423),
                _ => None,
            };
            let v = serde_json::json!({
                "operation": op.name(),
                "aor": self.aor,
                "status": code,
                "error": failure.to_string(),
            });
            println!("{v}");
        }
        eprintln!(
            "locus: error: {} of {} failed: {failure}",
            op.name(),
            self.aor
        );
    }
}

/// The bindings as an aligned table (our contacts marked with `*`).
pub fn table(bindings: &[BindingInfo]) -> String {
    if bindings.is_empty() {
        return "(no bindings)\n".to_string();
    }
    let rows: Vec<[String; 3]> = bindings
        .iter()
        .map(|b| {
            [
                format!("{}{}", b.contact, if b.ours { " *" } else { "" }),
                b.expires
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "-".into()),
                b.q.clone().unwrap_or_else(|| "1".into()),
            ]
        })
        .collect();
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(7);
    let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(0).max(7);
    let mut s = format!("{:<w0$}  {:>w1$}  Q\n", "CONTACT", "EXPIRES");
    for r in rows {
        s.push_str(&format!("{:<w0$}  {:>w1$}  {}\n", r[0], r[1], r[2]));
    }
    s
}
