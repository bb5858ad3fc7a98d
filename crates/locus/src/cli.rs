//! Command-line interface: the `locus` subcommands and their flags.
//!
//! Parsing only; merging flags with the config file and validating the result
//! is done by [`crate::config::resolve`].

use std::fmt;
use std::path::PathBuf;
use std::process;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};

use crate::config::{ListenSpec, DEFAULT_DATA_DIR, LOG_LEVELS};

/// Exit status for invalid flags or configuration; clap uses the same status
/// for usage errors.
const EXIT_INVALID: i32 = 2;

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
    /// Run the registrar: accept REGISTER requests and answer location queries.
    Serve(ServeArgs),
    /// Print the stored bindings of every address-of-record, or of one.
    Bindings(BindingsArgs),
    /// Register, refresh, query or remove bindings at a registrar (a SIP UA's registration client).
    Register(crate::register::RegisterArgs),
}

/// Flags of `locus serve`.
///
/// Settings are optional here so that flags given on the command line can be
/// told apart from values of the config file and the built-in defaults.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TOML file with the same settings (keys: listen, domains, data_dir, default_expires, min_expires, max_expires, max_contacts, tcp_idle_timeout, log_level); flags override it
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

    /// Log verbosity [default: info]
    #[arg(long, value_name = "LEVEL", ignore_case = true,
          value_parser = PossibleValuesParser::new(LOG_LEVELS))]
    pub log_level: Option<String>,
}

/// Arguments of `locus bindings`.
#[derive(Debug, Clone, Args)]
pub struct BindingsArgs {
    /// Directory holding the location database
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Address-of-record whose bindings to print (e.g. sip:alice@example.com); all when omitted
    #[arg(value_name = "AOR")]
    pub aor: Option<String>,
}

/// Prints `locus: error: {err}` to stderr and exits with status 2, the
/// status clap uses for invalid flags.
pub fn exit_invalid(err: impl fmt::Display) -> ! {
    eprintln!("locus: error: {err}");
    process::exit(EXIT_INVALID)
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
