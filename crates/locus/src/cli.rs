//! Command-line interface: the `locus` subcommands and their flags.
//!
//! Parsing only; merging flags with the config file and validating the result
//! is done by [`crate::config::resolve`].

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};

use crate::bindings_cmd::BindingsArgs;
use crate::listen::ListenSpec;
use crate::logging::LOG_LEVELS;
use crate::users_cmd::UsersCommand;

/// locus: SIP registrar, location service and location-based router.
#[derive(Debug, Parser)]
#[command(name = "locus", version, arg_required_else_help = true)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// A `locus` subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the registrar, proxy and redirect server (with digest authentication).
    Serve(Box<ServeArgs>),
    /// Print the stored bindings of every address-of-record, or of one.
    Bindings(BindingsArgs),
    /// Manage the accounts of digest authentication.
    #[command(subcommand)]
    Users(UsersCommand),

    /// Register, refresh, query or remove bindings at a registrar (a SIP UA's registration client).
    Register(crate::register::RegisterArgs),

    /// Load-test a registrar: REGISTER, refresh and remove many AORs, then report rate, failures and latency.
    Bench(crate::bench::BenchArgs),
}

/// Flags of `locus serve`.
///
/// Settings are optional here so that flags given on the command line can be
/// told apart from values of the config file and the built-in defaults.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TOML file with the same settings (keys: listen, domains, data_dir, default_expires, min_expires, max_expires, max_contacts, tcp_idle_timeout, commit_window, log_level, mode, domain_modes, forking, branch_timeout, record_route, relay, relay_denied_status, multicast, multicast_register, multicast_reply, multicast_interface, and tables [auth] and [abuse]); flags override it
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on, as udp:IP:PORT or tcp:IP:PORT (IPv6 as udp:[::1]:5060); repeatable, replaces the configured list [default: udp:127.0.0.1:5060 and tcp:127.0.0.1:5060]
    #[arg(long, value_name = "SPEC")]
    pub listen: Vec<ListenSpec>,

    /// Domain (hostname or IP literal) this registrar is responsible for; repeatable, replaces the configured list [default: every domain]
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Vec<String>,

    /// Directory holding the location database [default: ./locus-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Registration lifetime granted when the client asks for none, in seconds [default: 3600]
    #[arg(long, value_name = "SECS")]
    pub default_expires: Option<u32>,

    /// Shortest registration lifetime accepted, in seconds; shorter requests get 423 Interval Too Brief [default: 60]
    #[arg(long, value_name = "SECS")]
    pub min_expires: Option<u32>,

    /// Longest registration lifetime granted, in seconds; longer requests are shortened [default: 86400]
    #[arg(long, value_name = "SECS")]
    pub max_expires: Option<u32>,

    /// Most contacts one address-of-record may have bound at once [default: 10]
    #[arg(long, value_name = "N")]
    pub max_contacts: Option<u32>,

    /// How long an idle TCP connection is kept open, in seconds [default: 300]
    #[arg(long, value_name = "SECS")]
    pub tcp_idle_timeout: Option<u32>,

    /// Group-commit window of the location store, in microseconds: after a change the store waits this long for more before one fsync makes them all durable (less CPU per registration, up to this much more latency; 0 commits at once, as does a change arriving after five windows without any) [default: 1000]
    #[arg(long, value_name = "MICROS")]
    pub commit_window: Option<u32>,

    /// What requests for a registered AOR get: proxy (forwarded to its contacts) or redirect (302 listing them) [default: proxy]
    #[arg(long, value_name = "MODE", value_parser = PossibleValuesParser::new(["proxy", "redirect"]))]
    pub mode: Option<String>,

    /// Mode of one domain, as DOMAIN=proxy or DOMAIN=redirect; repeatable, replaces the configured table
    #[arg(long, value_name = "DOMAIN=MODE")]
    pub domain_mode: Vec<String>,

    /// How the contacts of an AOR are tried: by-q (equal q in parallel, lower q after failure), parallel or sequential [default: by-q]
    #[arg(long, value_name = "POLICY", value_parser = PossibleValuesParser::new(["by-q", "parallel", "sequential"]))]
    pub forking: Option<String>,

    /// How long one INVITE branch may ring before it is cancelled (Timer C), in seconds [default: 180]
    #[arg(long, value_name = "SECS")]
    pub branch_timeout: Option<u32>,

    /// Add Record-Route to dialog-initiating requests (true or false) [default: true]
    #[arg(long, value_name = "BOOL")]
    pub record_route: Option<bool>,

    /// Forward requests for domains this server does not serve (resolving their host); without it they are refused
    #[arg(long)]
    pub relay: bool,

    /// Status refusing a request for a domain not served when --relay is off: 403 or 404 [default: 403]
    #[arg(long, value_name = "CODE")]
    pub relay_denied_status: Option<u16>,

    /// Join the SIP multicast group 224.0.1.75:5060 (sip.mcast.net)
    #[arg(long)]
    pub multicast: bool,

    /// What a REGISTER received on the multicast group gets: redirect (302 to this server's unicast address) or process [default: redirect]
    #[arg(long, value_name = "HOW", value_parser = PossibleValuesParser::new(["redirect", "process"]))]
    pub multicast_register: Option<String>,

    /// Where responses to multicast requests go: sender (its Via) or group (224.0.1.75:5060, RFC 2543) [default: sender]
    #[arg(long, value_name = "WHERE", value_parser = PossibleValuesParser::new(["sender", "group"]))]
    pub multicast_reply: Option<String>,

    /// IPv4 address of the interface to join the multicast group on [default: 0.0.0.0]
    #[arg(long, value_name = "IP")]
    pub multicast_interface: Option<std::net::Ipv4Addr>,

    /// Log verbosity [default: info]
    #[arg(long, value_name = "LEVEL", ignore_case = true,
          value_parser = PossibleValuesParser::new(LOG_LEVELS))]
    pub log_level: Option<String>,

    /// Digest authentication: on or off [default: on when accounts exist; a listener not on loopback requires accounts or --auth off]
    #[arg(long, value_name = "on|off", ignore_case = true,
          value_parser = PossibleValuesParser::new(["on", "off"]))]
    pub auth: Option<String>,

    /// Realm of every challenge [default: the domain of the request]
    #[arg(long, value_name = "REALM")]
    pub realm: Option<String>,

    /// Digest algorithms offered, comma-separated, from SHA-512-256, SHA-256, MD5 (sent strongest first) [default: MD5; many deployed UAs fail when the first challenge is not MD5]
    #[arg(long, value_name = "LIST")]
    pub auth_algorithms: Option<String>,

    /// How long a nonce stays valid, in seconds; older ones get stale=true [default: 300]
    #[arg(long, value_name = "SECS")]
    pub nonce_lifetime: Option<u32>,

    /// Answer a call to an unknown user with 480, like a known user without bindings, instead of 404 (hides which users exist)
    #[arg(long)]
    pub enumeration_protection: bool,

    /// htdigest-style file (user:realm:MD5-HA1 lines) imported into the accounts at start
    #[arg(long, value_name = "FILE")]
    pub users_file: Option<PathBuf>,

    /// Let the account IDENTITY (user@domain) register AORs matching PATTERN (user@domain, *@domain or *); repeatable
    #[arg(long, value_name = "IDENTITY=PATTERN")]
    pub allow_third_party: Vec<String>,

    /// Failed authentications from one address within --failure-window that block it; 0 disables [default: 10]
    #[arg(long, value_name = "N")]
    pub failure_limit: Option<u32>,

    /// Failed authentications for one user name within --failure-window after which every address failing for it is blocked; 0 disables [default: 20]
    #[arg(long, value_name = "N")]
    pub user_failure_limit: Option<u32>,

    /// Sliding window of the failure counters, in seconds [default: 60]
    #[arg(long, value_name = "SECS")]
    pub failure_window: Option<u32>,

    /// How long a blocked address stays blocked, in seconds [default: 600]
    #[arg(long, value_name = "SECS")]
    pub block_time: Option<u32>,

    /// What a blocked address gets: drop (no answer) or 403 [default: drop]
    #[arg(long, value_name = "drop|403", ignore_case = true,
          value_parser = PossibleValuesParser::new(["drop", "403"]))]
    pub block_action: Option<String>,

    /// Requests one address may send within --rate-window before the excess is dropped; 0 disables [default: 500]
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,

    /// Window of the rate limit, in seconds [default: 2]
    #[arg(long, value_name = "SECS")]
    pub rate_window: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bindings_args_default_and_aor() {
        let cli = Cli::try_parse_from(["locus", "bindings"]).expect("parses");
        let Command::Bindings(args) = cli.command else {
            panic!("expected bindings");
        };
        assert_eq!(args.data_dir, PathBuf::from("./locus-data"));
        assert_eq!(args.aor, None);

        let cli = Cli::try_parse_from(["locus", "bindings", "--data-dir", "/d", "sip:a@b"])
            .expect("parses");
        let Command::Bindings(args) = cli.command else {
            panic!("expected bindings");
        };
        assert_eq!(args.data_dir, PathBuf::from("/d"));
        assert_eq!(args.aor.as_deref(), Some("sip:a@b"));
    }

    #[test]
    fn bad_listen_is_a_value_error_naming_the_flag() {
        let err = Cli::try_parse_from(["locus", "serve", "--listen", "sctp:1.2.3.4:5060"])
            .expect_err("must fail");
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        let text = err.to_string();
        assert!(text.contains("--listen"), "{text}");
        assert!(text.contains("udp:IP:PORT"), "{text}");
    }

    #[test]
    fn log_level_accepts_only_known_levels() {
        assert!(Cli::try_parse_from(["locus", "serve", "--log-level", "DEBUG"]).is_ok());
        assert!(Cli::try_parse_from(["locus", "serve", "--log-level", "verbose"]).is_err());
    }
}
