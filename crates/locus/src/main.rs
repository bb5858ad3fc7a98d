//! `locus`: SIP registrar, location service and location-based router.
//!
//! Subcommands: `serve` runs the server, `bindings` prints the location
//! store's current bindings, `register` is the registration client.

mod bindings_cmd;
mod cli;
mod config;
mod logging;
mod register;
mod serve;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::Cli::parse().command {
        cli::Command::Serve(args) => {
            let settings = config::resolve(&args).unwrap_or_else(|err| cli::exit_invalid(err));
            serve::run(settings)
        }
        cli::Command::Bindings(args) => bindings_cmd::run(&args),
        cli::Command::Register(args) => register::run(args),
    }
}
