//! Flags of `locus bench` and their validation into a [`Plan`].

use clap::{Args, ValueEnum};
use sip_core::Transport;
use sip_message::Uri;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `locus bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Server to load, as udp:IP:PORT, tcp:IP:PORT or IP:PORT (UDP); IPv6 as udp:[::1]:5060. Only loopback addresses unless --allow-remote
    #[arg(value_name = "TARGET", required_unless_present = "write_users_file")]
    pub target: Option<String>,

    /// Number of distinct AORs (users) registered: PREFIX{i}@DOMAIN for i from --user-start
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub users: u32,

    /// User part prefix of the generated AORs (sip:u1@example.com, sip:u2@example.com, ...)
    #[arg(long, value_name = "PREFIX", default_value = "u")]
    pub user_prefix: String,

    /// Index of the first generated user
    #[arg(long, value_name = "I", default_value_t = 1)]
    pub user_start: u32,

    /// Domain of the generated AORs (the Request-URI is sip:DOMAIN)
    #[arg(long, value_name = "DOMAIN", default_value = "example.com")]
    pub domain: String,

    /// Digest password of every generated user (401/407 challenges are answered with it); without it a challenge is a failure
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,

    /// What each operation is: register (a new Call-ID each time, as a phone booting), refresh (every AOR registered once first, then re-registered on the same Call-ID), remove (every AOR registered first, then removed with expires=0), mixed (per AOR: register, refresh, refresh, remove, again)
    #[arg(long, value_enum, value_name = "MODE", default_value_t = BenchMode::Register)]
    pub mode: BenchMode,

    /// Lifetime asked for each binding, in seconds (Expires header) [default: the registrar's]
    #[arg(long, value_name = "SECS")]
    pub expires: Option<u32>,

    /// Operations started per second, paced evenly across the sockets [default: as fast as the server answers, bounded by --concurrency]
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,

    /// Most operations outstanding at once, over all sockets (at most one per AOR)
    #[arg(long, value_name = "C", default_value_t = 1000)]
    pub concurrency: u32,

    /// Stop after this many operations (the setup registrations of refresh and remove are not counted)
    #[arg(long, value_name = "M", default_value_t = 10_000)]
    pub count: u64,

    /// Stop starting operations after this many seconds (bounds the setup and the measured phase each)
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub duration: f64,

    /// An operation without a final response this long after it started is a timeout (UDP retransmits on Timer E meanwhile; Timer F is 32 s)
    #[arg(long, value_name = "SECS", default_value_t = 32.0)]
    pub timeout: f64,

    /// After the last operation was started, wait at most this long for the outstanding ones; those still unanswered count as timeouts
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub drain: f64,

    /// Number of sockets (UDP sockets or TCP connections), each driven by its own thread [default: the number of cores]
    #[arg(long, value_name = "K")]
    pub sockets: Option<u32>,

    /// Allow a TARGET that is not a loopback address (127.0.0.0/8, ::1)
    #[arg(long)]
    pub allow_remote: bool,

    /// Print the report as one JSON object on stdout
    #[arg(long)]
    pub json: bool,

    /// Write an htdigest file (USER:REALM:MD5-HA1, the format of `locus serve --users-file`) for the generated users and --password, then exit without sending anything
    #[arg(long, value_name = "FILE", requires = "password")]
    pub write_users_file: Option<PathBuf>,

    /// Realm of the --write-users-file lines [default: the domain]
    #[arg(long, value_name = "REALM", requires = "write_users_file")]
    pub realm: Option<String>,
}

/// `--mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMode {
    /// Initial registrations, each with a new Call-ID
    Register,
    /// Register every AOR once (setup), then refresh them on the same Call-ID
    Refresh,
    /// Register every AOR once (setup), then remove them (expires=0)
    Remove,
    /// Per AOR: register, refresh, refresh, remove, and again
    Mixed,
}

impl BenchMode {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            BenchMode::Register => "register",
            BenchMode::Refresh => "refresh",
            BenchMode::Remove => "remove",
            BenchMode::Mixed => "mixed",
        }
    }

    /// True when every AOR is registered before the measured phase.
    pub fn needs_setup(self) -> bool {
        matches!(self, BenchMode::Refresh | BenchMode::Remove)
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Plan {
    pub transport: Transport,
    pub target: SocketAddr,
    pub users: u32,
    pub user_prefix: String,
    pub user_start: u32,
    pub domain: String,
    pub password: Option<String>,
    pub mode: BenchMode,
    pub expires: Option<u32>,
    pub rate: Option<f64>,
    pub concurrency: u32,
    pub count: u64,
    pub duration: Duration,
    pub timeout: Duration,
    pub drain: Duration,
    pub sockets: u32,
    pub json: bool,
}

impl Plan {
    /// `udp:127.0.0.1:5060`.
    pub fn target_text(&self) -> String {
        format!("{}:{}", self.transport.as_str(), self.target)
    }

    /// The AOR of user `i`.
    pub fn aor(&self, i: u32) -> String {
        format!("sip:{}{}@{}", self.user_prefix, i, self.domain)
    }
}

/// What the command does once the flags are valid.
#[derive(Debug)]
pub enum Task {
    /// Send load.
    Run(Plan),
    /// Write an htdigest file and exit.
    WriteUsersFile {
        path: PathBuf,
        users: Vec<String>,
        realm: String,
        password: String,
    },
}

/// Why the flags were refused: the message, and whether it is the
/// refusal of a non-loopback target (same exit status, its own wording).
#[derive(Debug)]
pub struct Invalid(pub String);

fn positive_secs(flag: &str, v: f64) -> Result<Duration, Invalid> {
    if !v.is_finite() || v <= 0.0 || v > 1e7 {
        return Err(Invalid(format!(
            "invalid value '{v}' for '{flag} <SECS>': expected a positive number of seconds"
        )));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Parses `udp:IP:PORT`, `tcp:IP:PORT` or `IP:PORT`.
pub fn parse_target(s: &str) -> Result<(Transport, SocketAddr), Invalid> {
    let bad = || {
        Invalid(format!(
            "invalid TARGET '{s}': expected udp:IP:PORT, tcp:IP:PORT or IP:PORT (an IP address, not a name; IPv6 as udp:[::1]:5060)"
        ))
    };
    let lower = s.to_ascii_lowercase();
    let (transport, rest) = if let Some(r) = lower.strip_prefix("udp:") {
        (Transport::Udp, r)
    } else if let Some(r) = lower.strip_prefix("tcp:") {
        (Transport::Tcp, r)
    } else {
        (Transport::Udp, lower.as_str())
    };
    let addr: SocketAddr = rest.parse().map_err(|_| bad())?;
    if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
        return Err(bad());
    }
    Ok((transport, addr))
}

/// True for 127.0.0.0/8 and ::1 (and ::ffff:127.x.y.z).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// Validates the flags; errors name the flag.
pub fn plan(a: BenchArgs) -> Result<Task, Invalid> {
    if a.users == 0 {
        return Err(Invalid(
            "invalid value '0' for '--users <N>': at least 1 user".into(),
        ));
    }
    let last = u64::from(a.user_start) + u64::from(a.users) - 1;
    if last > u64::from(u32::MAX) {
        return Err(Invalid(format!(
            "invalid value '{}' for '--user-start <I>': the last user index would be {last}, above {}",
            a.user_start,
            u32::MAX
        )));
    }
    let prefix_ok = !a.user_prefix.is_empty()
        && a.user_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()+".contains(&b));
    if !prefix_ok {
        return Err(Invalid(format!(
            "invalid value '{}' for '--user-prefix <PREFIX>': expected letters, digits or -_.!~*'()+",
            a.user_prefix
        )));
    }
    let domain_ok = !a.domain.is_empty()
        && !a.domain.contains(['@', ';', '?', '<', '>', ' ', '/'])
        && matches!(Uri::parse(&format!("sip:{}1@{}", a.user_prefix, a.domain)), Ok(Uri::Sip(u)) if u.port.is_none());
    if !domain_ok {
        return Err(Invalid(format!(
            "invalid value '{}' for '--domain <DOMAIN>': expected a host name or IP address",
            a.domain
        )));
    }
    if let Some(p) = &a.password {
        if p.is_empty() || p.contains(['\r', '\n']) {
            return Err(Invalid(
                "invalid value for '--password <PASSWORD>': expected a non-empty single line"
                    .into(),
            ));
        }
    }
    if let Some(path) = a.write_users_file {
        let realm = a.realm.clone().unwrap_or_else(|| a.domain.clone());
        if realm.is_empty() || realm.contains([':', '\n', '\r']) {
            return Err(Invalid(format!(
                "invalid value '{realm}' for '--realm <REALM>': must not be empty or contain ':'"
            )));
        }
        let users = (a.user_start..=last as u32)
            .map(|i| format!("{}{}", a.user_prefix, i))
            .collect();
        return Ok(Task::WriteUsersFile {
            path,
            users,
            realm,
            password: a.password.expect("clap requires --password"),
        });
    }
    let target = a.target.as_deref().expect("clap requires TARGET");
    let (transport, addr) = parse_target(target)?;
    if !a.allow_remote && !is_loopback(&addr) {
        return Err(Invalid(format!(
            "refusing to send load to {target}: it is not a loopback address (127.0.0.0/8, ::1); \
             pass --allow-remote to load a server on another host you are responsible for"
        )));
    }
    let rate = match a.rate {
        Some(r) if !r.is_finite() || r <= 0.0 || r > 1e9 => {
            return Err(Invalid(format!(
                "invalid value '{r}' for '--rate <R>': expected a positive number of operations per second"
            )))
        }
        r => r,
    };
    if a.concurrency == 0 {
        return Err(Invalid(
            "invalid value '0' for '--concurrency <C>': at least 1".into(),
        ));
    }
    if a.count == 0 {
        return Err(Invalid(
            "invalid value '0' for '--count <M>': at least 1".into(),
        ));
    }
    let duration = positive_secs("--duration", a.duration)?;
    let timeout = positive_secs("--timeout", a.timeout)?;
    let drain = positive_secs("--drain", a.drain)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let sockets = match a.sockets {
        Some(0) => {
            return Err(Invalid(
                "invalid value '0' for '--sockets <K>': at least 1".into(),
            ))
        }
        Some(k) if k > 256 => {
            return Err(Invalid(format!(
                "invalid value '{k}' for '--sockets <K>': at most 256"
            )))
        }
        Some(k) => k,
        None => cores,
    };
    // More sockets than users would leave some without an AOR.
    let sockets = sockets.min(a.users);
    Ok(Task::Run(Plan {
        transport,
        target: addr,
        users: a.users,
        user_prefix: a.user_prefix,
        user_start: a.user_start,
        domain: a.domain,
        password: a.password,
        mode: a.mode,
        expires: a.expires,
        rate,
        concurrency: a.concurrency,
        count: a.count,
        duration,
        timeout,
        drain,
        sockets,
        json: a.json,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let (t, a) = parse_target("udp:127.0.0.1:5060").unwrap();
        assert_eq!((t, a.port()), (Transport::Udp, 5060));
        let (t, a) = parse_target("TCP:[::1]:5070").unwrap();
        assert_eq!((t, a.port()), (Transport::Tcp, 5070));
        let (t, _) = parse_target("127.0.0.2:5060").unwrap();
        assert_eq!(t, Transport::Udp);
        for bad in [
            "localhost:5060",
            "udp:127.0.0.1",
            "sctp:127.0.0.1:5060",
            "127.0.0.1:0",
            "0.0.0.0:5060",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback() {
        for ok in [
            "127.0.0.1:1",
            "127.255.0.9:1",
            "[::1]:1",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(is_loopback(&ok.parse().unwrap()), "{ok}");
        }
        for no in ["192.0.2.1:1", "10.0.0.1:1", "[2001:db8::1]:1"] {
            assert!(!is_loopback(&no.parse().unwrap()), "{no}");
        }
    }
}
