//! The report printed at the end of a run: text for people, `--json` for
//! scripts.

use super::args::Plan;
use super::stats::Stats;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Share of failures (503 or timeouts) above which the report suggests
/// that a rate limit of the server may be the cause.
const HINT_SHARE: f64 = 0.01;

/// Latency percentiles of the successes, in µs.
#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: f64,
}

/// The setup phase (modes refresh and remove).
#[derive(Debug, Serialize)]
pub struct Setup {
    pub operations: u64,
    pub successes: u64,
    pub failures: BTreeMap<String, u64>,
    pub seconds: f64,
}

/// Successes per kind of operation.
#[derive(Debug, Serialize)]
pub struct ByKind {
    pub register: u64,
    pub refresh: u64,
    pub remove: u64,
}

/// CPU used by the generator during the measured phase.
#[derive(Debug, Serialize)]
pub struct Cpu {
    pub user_s: f64,
    pub system_s: f64,
    /// (user + system) / operations ended, in µs.
    pub us_per_registration: Option<f64>,
}

/// Everything the run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub target: String,
    pub mode: &'static str,
    pub users: u32,
    pub first_aor: String,
    pub last_aor: String,
    pub auth: bool,
    pub sockets: u32,
    pub concurrency: u32,
    /// `--rate`, or null for "as fast as the server answers".
    pub offered_rate: Option<f64>,
    pub count_limit: u64,
    pub duration_limit_s: f64,
    pub setup: Option<Setup>,
    /// Operations started in the measured phase.
    pub operations: u64,
    pub successes: u64,
    pub failed: u64,
    /// Failures by status code, or `timeout`, `transport`, ...
    pub failures: BTreeMap<String, u64>,
    /// Operations without a final response (included in `failures`).
    pub timeouts: u64,
    /// Of the timeouts, those still outstanding when the drain ended.
    pub unanswered: u64,
    pub successes_by_operation: ByKind,
    /// From the start of the measured phase to the end of its last operation.
    pub elapsed_s: f64,
    /// Successes per second over `elapsed_s`.
    pub rate: f64,
    /// Latency of the successes: first request sent to the final 2xx
    /// (the 401 round trip included); null without successes.
    pub latency_us: Option<Latency>,
    pub retransmissions: u64,
    pub stray_responses: u64,
    pub cpu: Cpu,
    /// The first transport error (send refused, connection lost).
    pub transport_error: Option<String>,
    pub hints: Vec<String>,
}

impl Report {
    /// Builds the report of a run.
    pub fn build(
        plan: &Plan,
        setup: Option<(&Stats, Duration)>,
        s: &Stats,
        elapsed: Duration,
        cpu: (Duration, Duration),
    ) -> Report {
        let secs = elapsed.as_secs_f64();
        let failed = s.failed();
        let ended = s.ended();
        let latency = (s.successes > 0).then(|| Latency {
            p50: s.hist.value_at_quantile(0.50),
            p90: s.hist.value_at_quantile(0.90),
            p99: s.hist.value_at_quantile(0.99),
            max: s.hist.max(),
            mean: (s.hist.mean() * 10.0).round() / 10.0,
        });
        let cpu_total = cpu.0 + cpu.1;
        let mut hints = Vec::new();
        let overloaded = s.failures.get("503").copied().unwrap_or(0) + s.timeouts;
        if ended > 0 && overloaded as f64 > HINT_SHARE * ended as f64 {
            hints.push(format!(
                "{overloaded} of {ended} operations got 503 or no answer: a locus server drops what one \
                 source address sends above its rate limit (--rate-limit, default 500 per 2 s); \
                 run it with --rate-limit 0 to benchmark, or lower --rate/--concurrency (an address \
                 that failed authentication --failure-limit times is blocked too)"
            ));
        }
        if s.failures
            .keys()
            .any(|k| k.starts_with("401") || k.starts_with("407"))
        {
            hints.push(
                "authentication failures: every generated user needs an account with --password \
                 (see --write-users-file and locus serve --users-file)"
                    .into(),
            );
        }
        let last_user = plan.user_start + (plan.users - 1);
        Report {
            target: plan.target_text(),
            mode: plan.mode.name(),
            users: plan.users,
            first_aor: plan.aor(plan.user_start),
            last_aor: plan.aor(last_user),
            auth: plan.password.is_some(),
            sockets: plan.sockets,
            concurrency: plan.concurrency,
            offered_rate: plan.rate,
            count_limit: plan.count,
            duration_limit_s: plan.duration.as_secs_f64(),
            setup: setup.map(|(st, d)| Setup {
                operations: st.started,
                successes: st.successes,
                failures: st.failures.clone(),
                seconds: round3(d.as_secs_f64()),
            }),
            operations: s.started,
            successes: s.successes,
            failed,
            failures: s.failures.clone(),
            timeouts: s.timeouts,
            unanswered: s.unanswered,
            successes_by_operation: ByKind {
                register: s.by_kind[0],
                refresh: s.by_kind[1],
                remove: s.by_kind[2],
            },
            elapsed_s: round3(secs),
            rate: if secs > 0.0 {
                (s.successes as f64 / secs).round()
            } else {
                0.0
            },
            latency_us: latency,
            retransmissions: s.retransmissions,
            stray_responses: s.stray,
            cpu: Cpu {
                user_s: round3(cpu.0.as_secs_f64()),
                system_s: round3(cpu.1.as_secs_f64()),
                us_per_registration: (ended > 0)
                    .then(|| (cpu_total.as_secs_f64() * 1e6 / ended as f64 * 10.0).round() / 10.0),
            },
            transport_error: s.transport_error.clone(),
            hints,
        }
    }

    /// One JSON object and a newline.
    pub fn json(&self) -> String {
        let mut s = serde_json::to_string(self).expect("serializable");
        s.push('\n');
        s
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let rate = match self.offered_rate {
            Some(r) => format!("offered {r}/s"),
            None => "as fast as answered".into(),
        };
        let _ = writeln!(
            o,
            "locus bench: {} to {}, {} AORs ({} .. {}), {}, {} sockets, concurrency {}, {rate}",
            self.mode,
            self.target,
            self.users,
            self.first_aor,
            self.last_aor,
            if self.auth { "digest auth" } else { "no auth" },
            self.sockets,
            self.concurrency,
        );
        if let Some(s) = &self.setup {
            let _ = writeln!(
                o,
                "setup:       {} of {} AORs registered in {:.2} s{}",
                s.successes,
                s.operations,
                s.seconds,
                failures_text(&s.failures, 0)
                    .map(|f| format!(", failures: {f}"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(
            o,
            "operations:  {} started, {} succeeded, {} failed, in {:.2} s",
            self.operations, self.successes, self.failed, self.elapsed_s
        );
        let _ = writeln!(
            o,
            "rate:        {} registrations/s (successes per second)",
            self.rate
        );
        let b = &self.successes_by_operation;
        let _ = writeln!(
            o,
            "succeeded:   register {}, refresh {}, remove {}",
            b.register, b.refresh, b.remove
        );
        let _ = writeln!(
            o,
            "failures:    {}",
            failures_text(&self.failures, self.unanswered).unwrap_or_else(|| "none".into())
        );
        match &self.latency_us {
            Some(l) => {
                let ms = |us: u64| us as f64 / 1000.0;
                let _ = writeln!(
                    o,
                    "latency:     p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms (first request sent to final 2xx{})",
                    ms(l.p50),
                    ms(l.p90),
                    ms(l.p99),
                    ms(l.max),
                    if self.auth { ", 401 round trip included" } else { "" }
                );
            }
            None => {
                let _ = writeln!(o, "latency:     no successes");
            }
        }
        let per = self
            .cpu
            .us_per_registration
            .map(|v| format!("{v:.1} µs/registration"))
            .unwrap_or_else(|| "no operation ended".into());
        let _ = writeln!(
            o,
            "generator CPU: {:.3} s user + {:.3} s system = {per}",
            self.cpu.user_s, self.cpu.system_s
        );
        let _ = writeln!(
            o,
            "messages:    {} retransmissions, {} stray responses",
            self.retransmissions, self.stray_responses
        );
        if let Some(e) = &self.transport_error {
            let _ = writeln!(o, "transport:   first error: {e}");
        }
        o
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn failures_text(f: &BTreeMap<String, u64>, unanswered: u64) -> Option<String> {
    if f.is_empty() {
        return None;
    }
    Some(
        f.iter()
            .map(|(k, v)| {
                if k == "timeout" && unanswered > 0 {
                    format!("{k}: {v} ({unanswered} unanswered when the drain ended)")
                } else {
                    format!("{k}: {v}")
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    )
}
