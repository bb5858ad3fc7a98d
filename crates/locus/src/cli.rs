//! The command line of `locus`: its subcommands, each with the arguments
//! its own module defines.
//!
//! Parsing only; the `serve` flags come from the setting declarations, and
//! [`crate::settings::resolve`] merges them with the config file.

use clap::{Parser, Subcommand};

use crate::bindings_cmd::BindingsArgs;
use crate::settings::ServeArgs;
use crate::stats_cmd::StatsArgs;
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
    /// Print the bindings of every address-of-record, or of one (from the running server, else the store).
    Bindings(BindingsArgs),
    /// Manage the accounts of digest authentication (through the running server, else the store).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Print the running server's statistics (without a server: the store's counts).
    Stats(StatsArgs),

    /// Register, refresh, query or remove bindings at a registrar (a SIP UA's registration client).
    Register(crate::register::RegisterArgs),

    /// Load-test a registrar: REGISTER, refresh and remove many AORs, then report rate, failures and latency.
    Bench(crate::bench::BenchArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::PathBuf;

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
        assert_eq!(args.server.data_dir, None);
        assert_eq!(args.aor, None);

        let cli = Cli::try_parse_from(["locus", "bindings", "--data-dir", "/d", "sip:a@b"])
            .expect("parses");
        let Command::Bindings(args) = cli.command else {
            panic!("expected bindings");
        };
        assert_eq!(args.server.data_dir, Some(PathBuf::from("/d")));
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
