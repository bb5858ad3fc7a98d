//! Effective `serve` settings: built-in defaults, overridden by an optional
//! TOML file, overridden by command-line flags, then validated.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth_config::{resolve_abuse, resolve_auth, AbuseFile, AuthFile, AuthSettings};
use crate::cli::ServeArgs;
use crate::domain::normalize_domain;
use crate::listen::{ListenSpec, Transport};
use crate::logging::LOG_LEVELS;
use sip_core::abuse::AbuseConfig;

/// Default directory of the location database.
pub const DEFAULT_DATA_DIR: &str = "./locus-data";

const DEFAULT_PORT: u16 = 5060;
const DEFAULT_EXPIRES: u32 = 3600;
const DEFAULT_MIN_EXPIRES: u32 = 60;
const DEFAULT_MAX_EXPIRES: u32 = 86400;
const DEFAULT_MAX_CONTACTS: u32 = 10;
const DEFAULT_TCP_IDLE_TIMEOUT: u32 = 300;
/// Group-commit window of the location store, microseconds (the same as
/// `location::DEFAULT_COMMIT_WINDOW`).
const DEFAULT_COMMIT_WINDOW_US: u32 = 1000;
const DEFAULT_LOG_LEVEL: &str = "info";
const DEFAULT_BRANCH_TIMEOUT: u32 = 180;

/// What requests for a registered AOR get, and how its contacts are tried:
/// the proxy core's own types, so the settings need no translation.
pub use sip_core::proxy::{Forking, Mode};

/// The multicast settings, when `--multicast` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastSettings {
    /// True: REGISTERs on the group are processed; false: redirected (302).
    pub process_register: bool,
    /// True: responses go to the group; false: to the sender.
    pub reply_to_group: bool,
    /// Interface address to join on.
    pub interface: std::net::Ipv4Addr,
}

/// Validated routing settings (proxy, redirect, relay, multicast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingSettings {
    /// Default mode.
    pub mode: Mode,
    /// Per-domain modes (lower-case domain, mode), in the order given.
    pub domain_modes: Vec<(String, Mode)>,
    /// Forking policy.
    pub forking: Forking,
    /// Timer C, per INVITE branch (≥ 1 s).
    pub branch_timeout: Duration,
    /// Record-Route dialog-initiating requests.
    pub record_route: bool,
    /// Forward requests for domains not served.
    pub relay: bool,
    /// 403 or 404: the refusal when relaying is off.
    pub relay_denied_status: u16,
    /// Join the multicast group with these settings.
    pub multicast: Option<MulticastSettings>,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        RoutingSettings {
            mode: Mode::Proxy,
            domain_modes: Vec::new(),
            forking: Forking::ByQ,
            branch_timeout: Duration::from_secs(DEFAULT_BRANCH_TIMEOUT.into()),
            record_route: true,
            relay: false,
            relay_denied_status: 403,
            multicast: None,
        }
    }
}

/// Validated settings of `locus serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Sockets to listen on; non-empty, without duplicates.
    pub listen: Vec<ListenSpec>,
    /// Domains served, lowercased and deduplicated; IPv6 literals in bracketed
    /// canonical form (`[::1]`). Empty means every domain is served.
    pub domains: Vec<String>,
    /// Directory of the location database (relative paths are relative to the
    /// working directory).
    pub data_dir: PathBuf,
    /// Registration lifetime granted when the client asks for none, in seconds.
    pub default_expires: u32,
    /// Shortest registration lifetime accepted, in seconds (≥ 1).
    pub min_expires: u32,
    /// Longest registration lifetime granted, in seconds.
    pub max_expires: u32,
    /// Most contacts one address-of-record may have bound at once (≥ 1).
    pub max_contacts: usize,
    /// How long an idle TCP connection is kept open (≥ 1 s).
    pub tcp_idle_timeout: Duration,
    /// Group-commit window of the location store.
    pub commit_window: Duration,
    /// Log verbosity, one of [`LOG_LEVELS`], lowercase.
    pub log_level: String,
    /// Proxy, redirect, relay and multicast behaviour.
    pub routing: RoutingSettings,
    /// Digest authentication.
    pub auth: AuthSettings,
    /// Brute-force and flood limits.
    pub abuse: AbuseConfig,
}

impl fmt::Display for Settings {
    /// One-line summary of the effective settings, for the startup log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listen: Vec<String> = self.listen.iter().map(ToString::to_string).collect();
        let domains = if self.domains.is_empty() {
            "*".to_owned()
        } else {
            self.domains.join(",")
        };
        write!(
            f,
            "listen={} domains={} data_dir={} expires(min/default/max)={}/{}/{} \
             max_contacts={} tcp_idle_timeout={}s log_level={}",
            listen.join(","),
            domains,
            self.data_dir.display(),
            self.min_expires,
            self.default_expires,
            self.max_expires,
            self.max_contacts,
            self.tcp_idle_timeout.as_secs(),
            self.log_level,
        )
    }
}

/// Why the `serve` settings are unusable.
#[derive(Debug)]
pub enum ConfigError {
    /// The config file could not be read.
    Read {
        /// Path of the config file.
        path: PathBuf,
        /// Underlying I/O error.
        source: io::Error,
    },
    /// The config file is not valid TOML, has an unknown key or a value of the
    /// wrong type.
    Parse {
        /// Path of the config file.
        path: PathBuf,
        /// One-line description, with the line number and text when known.
        message: String,
    },
    /// A setting has an invalid value.
    Invalid {
        /// Command-line flag of the setting, e.g. `--min-expires`.
        flag: &'static str,
        /// Config file key of the setting, e.g. `min_expires`.
        key: &'static str,
        /// What is wrong with the value.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read config file {}: {source}", path.display())
            }
            ConfigError::Parse { path, message } => {
                write!(f, "config file {}: {message}", path.display())
            }
            ConfigError::Invalid { flag, key, message } => write!(f, "{flag} / {key}: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Contents of a config file; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<Vec<ListenSpec>>,
    domains: Option<Vec<String>>,
    data_dir: Option<PathBuf>,
    default_expires: Option<u32>,
    min_expires: Option<u32>,
    max_expires: Option<u32>,
    max_contacts: Option<u32>,
    tcp_idle_timeout: Option<u32>,
    commit_window: Option<u32>,
    log_level: Option<String>,
    mode: Option<String>,
    domain_modes: Option<std::collections::BTreeMap<String, String>>,
    forking: Option<String>,
    branch_timeout: Option<u32>,
    record_route: Option<bool>,
    relay: Option<bool>,
    relay_denied_status: Option<u16>,
    multicast: Option<bool>,
    multicast_register: Option<String>,
    multicast_reply: Option<String>,
    multicast_interface: Option<std::net::Ipv4Addr>,
    auth: Option<AuthFile>,
    abuse: Option<AbuseFile>,
}

impl FileConfig {
    fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|err| ConfigError::Parse {
            path: path.to_owned(),
            message: describe_toml_error(&text, &err),
        })
    }
}

/// Turns a (possibly multi-line) toml error into one line, prefixed with the
/// offending line of the file so that the key is always visible.
fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim().replace('\n', "; ");
    let Some(start) = err.span().map(|span| span.start) else {
        return message;
    };
    let before = text.get(..start).unwrap_or(text);
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
    let mut shown: String = line.chars().take(80).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    format!("line {line_no}: `{shown}`: {message}")
}

fn invalid(flag: &'static str, key: &'static str, message: String) -> ConfigError {
    ConfigError::Invalid { flag, key, message }
}

/// Merges `args` over the config file they name (if any) over the built-in
/// defaults, and validates the result.
pub fn resolve(args: &ServeArgs) -> Result<Settings, ConfigError> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let routing = resolve_routing(args, &file)?;
    let listen = if args.listen.is_empty() {
        file.listen.unwrap_or_else(default_listen)
    } else {
        args.listen.clone()
    };
    let domains = if args.domain.is_empty() {
        file.domains.unwrap_or_default()
    } else {
        args.domain.clone()
    };
    let default_expires = args
        .default_expires
        .or(file.default_expires)
        .unwrap_or(DEFAULT_EXPIRES);
    let min_expires = args
        .min_expires
        .or(file.min_expires)
        .unwrap_or(DEFAULT_MIN_EXPIRES);
    let max_expires = args
        .max_expires
        .or(file.max_expires)
        .unwrap_or(DEFAULT_MAX_EXPIRES);
    let max_contacts = args
        .max_contacts
        .or(file.max_contacts)
        .unwrap_or(DEFAULT_MAX_CONTACTS);
    let tcp_idle_timeout = args
        .tcp_idle_timeout
        .or(file.tcp_idle_timeout)
        .unwrap_or(DEFAULT_TCP_IDLE_TIMEOUT);
    let log_level = args
        .log_level
        .clone()
        .or(file.log_level)
        .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned());

    let auth = resolve_auth(args, file.auth.unwrap_or_default())?;
    let abuse = resolve_abuse(args, file.abuse.unwrap_or_default())?;
    check_listen(&listen)?;
    check_expires(min_expires, default_expires, max_expires)?;
    Ok(Settings {
        listen,
        domains: normalize_domains(&domains)?,
        data_dir: args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        default_expires,
        min_expires,
        max_expires,
        max_contacts: at_least_one("--max-contacts", "max_contacts", max_contacts)? as usize,
        tcp_idle_timeout: Duration::from_secs(
            at_least_one("--tcp-idle-timeout", "tcp_idle_timeout", tcp_idle_timeout)?.into(),
        ),
        commit_window: Duration::from_micros(
            args.commit_window
                .or(file.commit_window)
                .unwrap_or(DEFAULT_COMMIT_WINDOW_US)
                .into(),
        ),
        log_level: normalize_log_level(&log_level)?,
        routing,
        auth,
        abuse,
    })
}

fn parse_mode(flag: &'static str, key: &'static str, text: &str) -> Result<Mode, ConfigError> {
    match text.to_ascii_lowercase().as_str() {
        "proxy" => Ok(Mode::Proxy),
        "redirect" => Ok(Mode::Redirect),
        _ => Err(invalid(
            flag,
            key,
            format!("must be proxy or redirect, got '{text}'"),
        )),
    }
}

/// The routing settings: flags over the file over the defaults.
fn resolve_routing(args: &ServeArgs, file: &FileConfig) -> Result<RoutingSettings, ConfigError> {
    let mode = match args.mode.as_deref().or(file.mode.as_deref()) {
        Some(m) => parse_mode("--mode", "mode", m)?,
        None => Mode::Proxy,
    };
    let mut domain_modes = Vec::new();
    if args.domain_mode.is_empty() {
        for (domain, m) in file.domain_modes.iter().flatten() {
            domain_modes.push((domain.clone(), m.clone()));
        }
    } else {
        for item in &args.domain_mode {
            let (domain, m) = item.split_once('=').ok_or_else(|| {
                invalid(
                    "--domain-mode",
                    "domain_modes",
                    format!("expected DOMAIN=proxy or DOMAIN=redirect, got '{item}'"),
                )
            })?;
            domain_modes.push((domain.to_string(), m.to_string()));
        }
    }
    let domain_modes = domain_modes
        .into_iter()
        .map(|(domain, m)| {
            let d = normalize_domain(&domain).ok_or_else(|| {
                invalid(
                    "--domain-mode",
                    "domain_modes",
                    format!("'{domain}' is not a valid hostname or IP address"),
                )
            })?;
            Ok((d, parse_mode("--domain-mode", "domain_modes", &m)?))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let forking = match args.forking.as_deref().or(file.forking.as_deref()) {
        None | Some("by-q") => Forking::ByQ,
        Some("parallel") => Forking::Parallel,
        Some("sequential") => Forking::Sequential,
        Some(other) => {
            return Err(invalid(
                "--forking",
                "forking",
                format!("must be by-q, parallel or sequential, got '{other}'"),
            ))
        }
    };
    let branch_timeout = at_least_one(
        "--branch-timeout",
        "branch_timeout",
        args.branch_timeout
            .or(file.branch_timeout)
            .unwrap_or(DEFAULT_BRANCH_TIMEOUT),
    )?;
    let relay_denied_status = args
        .relay_denied_status
        .or(file.relay_denied_status)
        .unwrap_or(403);
    if relay_denied_status != 403 && relay_denied_status != 404 {
        return Err(invalid(
            "--relay-denied-status",
            "relay_denied_status",
            format!("must be 403 or 404, got {relay_denied_status}"),
        ));
    }
    let multicast_on = args.multicast || file.multicast.unwrap_or(false);
    let process_register = match args
        .multicast_register
        .as_deref()
        .or(file.multicast_register.as_deref())
    {
        None | Some("redirect") => false,
        Some("process") => true,
        Some(other) => {
            return Err(invalid(
                "--multicast-register",
                "multicast_register",
                format!("must be redirect or process, got '{other}'"),
            ))
        }
    };
    let reply_to_group = match args
        .multicast_reply
        .as_deref()
        .or(file.multicast_reply.as_deref())
    {
        None | Some("sender") => false,
        Some("group") => true,
        Some(other) => {
            return Err(invalid(
                "--multicast-reply",
                "multicast_reply",
                format!("must be sender or group, got '{other}'"),
            ))
        }
    };
    let interface = args
        .multicast_interface
        .or(file.multicast_interface)
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
    Ok(RoutingSettings {
        mode,
        domain_modes,
        forking,
        branch_timeout: Duration::from_secs(branch_timeout.into()),
        record_route: args.record_route.or(file.record_route).unwrap_or(true),
        relay: args.relay || file.relay.unwrap_or(false),
        relay_denied_status,
        multicast: multicast_on.then_some(MulticastSettings {
            process_register,
            reply_to_group,
            interface,
        }),
    })
}

fn default_listen() -> Vec<ListenSpec> {
    let addr = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT));
    vec![
        ListenSpec {
            transport: Transport::Udp,
            addr,
        },
        ListenSpec {
            transport: Transport::Tcp,
            addr,
        },
    ]
}

fn check_listen(listen: &[ListenSpec]) -> Result<(), ConfigError> {
    if listen.is_empty() {
        return Err(invalid(
            "--listen",
            "listen",
            "at least one listen address is required".to_owned(),
        ));
    }
    let mut seen = HashSet::new();
    match listen.iter().find(|spec| !seen.insert(**spec)) {
        Some(spec) => Err(invalid(
            "--listen",
            "listen",
            format!("{spec} is listed twice"),
        )),
        None => Ok(()),
    }
}

fn check_expires(min: u32, default: u32, max: u32) -> Result<(), ConfigError> {
    let (min_flag, min_key) = ("--min-expires", "min_expires");
    let (default_flag, default_key) = ("--default-expires", "default_expires");
    at_least_one(min_flag, min_key, min)?;
    if min > max {
        return Err(invalid(
            min_flag,
            min_key,
            format!("must be ≤ max_expires ({max}), got {min}"),
        ));
    }
    if default < min {
        return Err(invalid(
            default_flag,
            default_key,
            format!("must be ≥ min_expires ({min}), got {default}"),
        ));
    }
    if default > max {
        return Err(invalid(
            default_flag,
            default_key,
            format!("must be ≤ max_expires ({max}), got {default}"),
        ));
    }
    Ok(())
}

fn at_least_one(flag: &'static str, key: &'static str, value: u32) -> Result<u32, ConfigError> {
    if value == 0 {
        return Err(invalid(flag, key, "must be at least 1, got 0".to_owned()));
    }
    Ok(value)
}

fn normalize_log_level(level: &str) -> Result<String, ConfigError> {
    let level = level.to_ascii_lowercase();
    if LOG_LEVELS.contains(&level.as_str()) {
        return Ok(level);
    }
    Err(invalid(
        "--log-level",
        "log_level",
        format!("must be one of {}, got '{level}'", LOG_LEVELS.join(", ")),
    ))
}

fn normalize_domains(domains: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::with_capacity(domains.len());
    for raw in domains {
        let domain = normalize_domain(raw).ok_or_else(|| {
            invalid(
                "--domain",
                "domains",
                format!("'{raw}' is not a valid hostname or IP address"),
            )
        })?;
        if !out.contains(&domain) {
            out.push(domain);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::{CommandFactory, Parser};
    use std::io::Write;

    fn serve_args(flags: &[&str]) -> ServeArgs {
        let argv = ["locus", "serve"].iter().chain(flags);
        match Cli::try_parse_from(argv).expect("flags parse").command {
            Command::Serve(args) => *args,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    fn config_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(text.as_bytes()).expect("write config");
        file
    }

    fn resolve_with(text: &str, flags: &[&str]) -> Result<Settings, ConfigError> {
        let file = config_file(text);
        let path = file.path().to_str().expect("utf-8 temp path");
        let mut all = vec!["--config", path];
        all.extend_from_slice(flags);
        resolve(&serve_args(&all))
    }

    fn error_text(text: &str, flags: &[&str]) -> String {
        resolve_with(text, flags)
            .expect_err("must be rejected")
            .to_string()
    }

    fn spec(s: &str) -> ListenSpec {
        s.parse().expect("valid spec")
    }

    #[test]
    fn defaults_without_config() {
        let settings = resolve(&serve_args(&[])).expect("defaults are valid");
        assert_eq!(
            settings,
            Settings {
                listen: vec![spec("udp:127.0.0.1:5060"), spec("tcp:127.0.0.1:5060")],
                domains: vec![],
                data_dir: PathBuf::from("./locus-data"),
                default_expires: 3600,
                min_expires: 60,
                max_expires: 86400,
                max_contacts: 10,
                tcp_idle_timeout: Duration::from_secs(300),
                commit_window: Duration::from_micros(1000),
                log_level: "info".to_owned(),
                routing: RoutingSettings::default(),
                auth: settings.auth.clone(),
                abuse: settings.abuse.clone(),
            }
        );
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_file() {
        let text = r#"
            listen = ["udp:0.0.0.0:5070", "tcp:[::1]:5070"]
            domains = ["Example.COM", "10.0.0.1"]
            data_dir = "/var/lib/locus"
            default_expires = 1800
            min_expires = 30
            max_expires = 7200
            max_contacts = 5
            tcp_idle_timeout = 60
            log_level = "debug"
        "#;
        let from_file = resolve_with(text, &[]).expect("valid file");
        assert_eq!(
            from_file.listen,
            vec![spec("udp:0.0.0.0:5070"), spec("tcp:[::1]:5070")]
        );
        assert_eq!(from_file.domains, ["example.com", "10.0.0.1"]);
        assert_eq!(from_file.data_dir, PathBuf::from("/var/lib/locus"));
        assert_eq!(
            (
                from_file.min_expires,
                from_file.default_expires,
                from_file.max_expires
            ),
            (30, 1800, 7200)
        );
        assert_eq!(from_file.max_contacts, 5);
        assert_eq!(from_file.tcp_idle_timeout, Duration::from_secs(60));
        assert_eq!(from_file.log_level, "debug");

        let flags = [
            "--listen",
            "tcp:127.0.0.2:6000",
            "--domain",
            "b.example",
            "--data-dir",
            "/tmp/x",
            "--default-expires",
            "100",
            "--min-expires",
            "10",
            "--max-expires",
            "200",
            "--max-contacts",
            "2",
            "--tcp-idle-timeout",
            "9",
            "--log-level",
            "TRACE",
        ];
        let merged = resolve_with(text, &flags).expect("valid merge");
        assert_eq!(
            merged,
            Settings {
                listen: vec![spec("tcp:127.0.0.2:6000")],
                domains: vec!["b.example".to_owned()],
                data_dir: PathBuf::from("/tmp/x"),
                default_expires: 100,
                min_expires: 10,
                max_expires: 200,
                max_contacts: 2,
                tcp_idle_timeout: Duration::from_secs(9),
                commit_window: Duration::from_micros(1000),
                log_level: "trace".to_owned(),
                routing: RoutingSettings::default(),
                auth: merged.auth.clone(),
                abuse: merged.abuse.clone(),
            }
        );
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let settings = resolve_with(
            "max_contacts = 3\n[auth]\nrealm = \"corp\"\n[abuse]\nblock_time = 5\n",
            &["--min-expires", "5"],
        )
        .expect("valid");
        assert_eq!(settings.auth.realm.as_deref(), Some("corp"));
        assert_eq!(settings.abuse.block_ms, 5000);
        assert_eq!(settings.max_contacts, 3);
        assert_eq!(settings.min_expires, 5);
        assert_eq!(settings.default_expires, 3600);
        assert_eq!(settings.listen.len(), 2);
    }

    #[test]
    fn unknown_key_names_key_line_and_path() {
        let file = config_file("max_contacts = 3\nlisen = [\"udp:1.2.3.4:5060\"]\n");
        let path = file.path().to_str().expect("utf-8 temp path");
        let err = resolve(&serve_args(&["--config", path])).expect_err("unknown key");
        let text = err.to_string();
        assert!(matches!(err, ConfigError::Parse { .. }));
        assert!(text.contains("lisen"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains(path), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn wrongly_typed_or_out_of_range_values_show_their_line() {
        let text = error_text("max_contacts = \"ten\"\n", &[]);
        assert!(text.contains("max_contacts"), "{text}");
        let text = error_text("max_expires = 5000000000\n", &[]);
        assert!(text.contains("max_expires"), "{text}");
        let text = error_text("min_expires = -1\n", &[]);
        assert!(text.contains("min_expires"), "{text}");
        let text = error_text(
            "listen = [\n  \"udp:1.2.3.4:5060\",\n  \"udp:nohost\",\n]\n",
            &[],
        );
        assert!(text.contains("got 'udp:nohost'"), "{text}");
        assert!(text.contains("udp:IP:PORT"), "{text}");
        let text = error_text("listen = \n", &[]);
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn missing_config_file_is_a_read_error() {
        let args = serve_args(&["--config", "/nonexistent/locus.toml"]);
        let err = resolve(&args).expect_err("missing file");
        assert!(matches!(err, ConfigError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/locus.toml"));
    }

    #[test]
    fn expires_ordering_is_enforced() {
        let text = error_text("", &["--min-expires", "100", "--max-expires", "50"]);
        assert!(text.contains("--min-expires / min_expires"), "{text}");
        assert!(text.contains("max_expires (50)"), "{text}");

        let text = error_text("min_expires = 0\n", &[]);
        assert!(text.contains("min_expires: must be at least 1"), "{text}");

        let text = error_text("", &["--default-expires", "30"]);
        assert!(
            text.contains("default_expires: must be ≥ min_expires (60)"),
            "{text}"
        );

        let text = error_text("max_expires = 1000\n", &[]);
        assert!(
            text.contains("default_expires: must be ≤ max_expires (1000)"),
            "{text}"
        );
    }

    #[test]
    fn zero_counts_are_rejected() {
        let text = error_text("", &["--max-contacts", "0"]);
        assert!(text.starts_with("--max-contacts / max_contacts:"), "{text}");
        let text = error_text("tcp_idle_timeout = 0\n", &[]);
        assert!(
            text.starts_with("--tcp-idle-timeout / tcp_idle_timeout:"),
            "{text}"
        );
    }

    #[test]
    fn listen_must_be_non_empty_and_unique() {
        let text = error_text("listen = []\n", &[]);
        assert!(text.starts_with("--listen / listen:"), "{text}");
        let flags = [
            "--listen",
            "udp:[::1]:5060",
            "--listen",
            "UDP:[0:0::1]:5060",
        ];
        let text = error_text("", &flags);
        assert!(text.contains("udp:[::1]:5060 is listed twice"), "{text}");
        let same_addr = ["--listen", "udp:[::1]:5060", "--listen", "tcp:[::1]:5060"];
        assert!(resolve_with("", &same_addr).is_ok());
    }

    #[test]
    fn domains_are_validated_normalized_and_deduplicated() {
        let flags = [
            "--domain",
            "Example.COM",
            "--domain",
            "example.com",
            "--domain",
            "sip-1.example.org",
            "--domain",
            "192.0.2.1",
            "--domain",
            "[2001:DB8:0::1]",
            "--domain",
            "::1",
            "--domain",
            "localhost",
        ];
        let settings = resolve_with("", &flags).expect("valid domains");
        assert_eq!(
            settings.domains,
            [
                "example.com",
                "sip-1.example.org",
                "192.0.2.1",
                "[2001:db8::1]",
                "[::1]",
                "localhost"
            ]
        );
        for bad in [
            "",
            "exa mple.com",
            "under_score.com",
            "-lead.com",
            "trail-.com",
            "dot.",
            ".dot",
            "a..b",
            "999.1.1.1",
            "[1.2.3.4]",
            "sip:example.com",
        ] {
            let text = error_text("", &[&format!("--domain={bad}")]);
            assert!(text.starts_with("--domain / domains:"), "{bad}: {text}");
        }
        let long_label = "a".repeat(64);
        assert!(resolve_with("", &["--domain", &long_label]).is_err());
    }

    #[test]
    fn routing_settings_from_file_and_flags() {
        let text = r#"
            mode = "redirect"
            forking = "sequential"
            branch_timeout = 30
            record_route = false
            relay = true
            relay_denied_status = 404
            multicast = true
            multicast_register = "process"
            multicast_reply = "group"
            multicast_interface = "127.0.0.1"
            [domain_modes]
            "Example.COM" = "proxy"
        "#;
        let r = resolve_with(text, &[]).expect("valid").routing;
        assert_eq!(r.mode, Mode::Redirect);
        assert_eq!(r.domain_modes, [("example.com".to_owned(), Mode::Proxy)]);
        assert_eq!(r.forking, Forking::Sequential);
        assert_eq!(r.branch_timeout, Duration::from_secs(30));
        assert!(!r.record_route && r.relay);
        assert_eq!(r.relay_denied_status, 404);
        assert_eq!(
            r.multicast,
            Some(MulticastSettings {
                process_register: true,
                reply_to_group: true,
                interface: std::net::Ipv4Addr::LOCALHOST,
            })
        );
        let flags = [
            "--mode",
            "proxy",
            "--domain-mode",
            "b.example=redirect",
            "--forking",
            "parallel",
        ];
        let r = resolve_with(text, &flags).expect("valid").routing;
        assert_eq!(r.mode, Mode::Proxy);
        assert_eq!(r.domain_modes, [("b.example".to_owned(), Mode::Redirect)]);
        assert_eq!(r.forking, Forking::Parallel);
    }

    #[test]
    fn bad_routing_values_name_their_key() {
        let text = error_text("mode = \"bounce\"\n", &[]);
        assert!(text.starts_with("--mode / mode:"), "{text}");
        let text = error_text("relay_denied_status = 500\n", &[]);
        assert!(
            text.starts_with("--relay-denied-status / relay_denied_status:"),
            "{text}"
        );
        let text = error_text("", &["--domain-mode", "example.com"]);
        assert!(text.starts_with("--domain-mode / domain_modes:"), "{text}");
        let text = error_text("[domain_modes]\n\"example.com\" = \"forward\"\n", &[]);
        assert!(text.starts_with("--domain-mode / domain_modes:"), "{text}");
        let text = error_text("branch_timeout = 0\n", &[]);
        assert!(
            text.starts_with("--branch-timeout / branch_timeout:"),
            "{text}"
        );
        let text = error_text("forking = \"random\"\n", &[]);
        assert!(text.starts_with("--forking / forking:"), "{text}");
    }

    #[test]
    fn log_level_from_file_is_validated() {
        let settings = resolve_with("log_level = \"WARN\"\n", &[]).expect("valid");
        assert_eq!(settings.log_level, "warn");
        let text = error_text("log_level = \"verbose\"\n", &[]);
        assert!(text.starts_with("--log-level / log_level:"), "{text}");
        assert!(text.contains("error, warn, info, debug, trace"), "{text}");
    }

    #[test]
    fn settings_display_is_one_line() {
        let text = resolve(&serve_args(&[])).expect("defaults").to_string();
        assert_eq!(
            text,
            "listen=udp:127.0.0.1:5060,tcp:127.0.0.1:5060 domains=* data_dir=./locus-data \
             expires(min/default/max)=60/3600/86400 max_contacts=10 tcp_idle_timeout=300s \
             log_level=info"
        );
    }

    /// The `[default: …]` notes in `serve --help` are hand-written; keep them
    /// in step with the constants.
    #[test]
    fn help_defaults_match_constants() {
        use crate::auth_config as ca;
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").expect("serve subcommand");
        let help_of = |id: &str| {
            serve
                .get_arguments()
                .find(|arg| arg.get_id() == id)
                .and_then(|arg| arg.get_help())
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        let expected = [
            ("data_dir", DEFAULT_DATA_DIR.to_owned()),
            ("default_expires", DEFAULT_EXPIRES.to_string()),
            ("min_expires", DEFAULT_MIN_EXPIRES.to_string()),
            ("max_expires", DEFAULT_MAX_EXPIRES.to_string()),
            ("max_contacts", DEFAULT_MAX_CONTACTS.to_string()),
            ("tcp_idle_timeout", DEFAULT_TCP_IDLE_TIMEOUT.to_string()),
            ("commit_window", DEFAULT_COMMIT_WINDOW_US.to_string()),
            ("log_level", DEFAULT_LOG_LEVEL.to_owned()),
            ("branch_timeout", DEFAULT_BRANCH_TIMEOUT.to_string()),
            ("nonce_lifetime", ca::DEFAULT_NONCE_LIFETIME.to_string()),
            ("failure_limit", ca::DEFAULT_FAILURE_LIMIT.to_string()),
            (
                "user_failure_limit",
                ca::DEFAULT_USER_FAILURE_LIMIT.to_string(),
            ),
            ("failure_window", ca::DEFAULT_FAILURE_WINDOW.to_string()),
            ("block_time", ca::DEFAULT_BLOCK_TIME.to_string()),
            ("rate_limit", ca::DEFAULT_RATE_LIMIT.to_string()),
            ("rate_window", ca::DEFAULT_RATE_WINDOW.to_string()),
        ];
        for (id, value) in expected {
            let help = help_of(id);
            assert!(
                help.ends_with(&format!("[default: {value}]")),
                "{id}: {help}"
            );
        }
        let listen: Vec<String> = default_listen().iter().map(ToString::to_string).collect();
        assert!(help_of("listen").ends_with(&format!("[default: {}]", listen.join(" and "))));
    }
}
