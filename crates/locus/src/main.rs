//! `locus`: SIP registrar, location service and location-based router.
//!
//! Subcommands: `serve` runs the server, `bindings` prints the current
//! bindings, `users` manages the accounts of digest authentication,
//! `stats` prints the server's statistics (these three through the running
//! server's admin API, else on the store), `register` is the registration
//! client, `bench` a load generator built on it.

mod api_client;
mod bench;
mod bindings_cmd;
mod cli;
mod data_owner;
mod domain;
mod exit;
mod failure;
mod htdigest;
mod listen;
mod logging;
mod register;
mod secret;
mod serve;
mod settings;
mod stats_cmd;
mod users_cmd;

use clap::Parser;

/// jemalloc: returns memory freed after bursts (completed transactions
/// live 32 s on UDP) to the system, and is cheaper than the system
/// allocator on the allocation-heavy request path.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::Cli::parse().command {
        cli::Command::Serve(args) => {
            let settings = settings::resolve(&args).unwrap_or_else(|err| exit::invalid(err));
            match args.check_config() {
                Some(file) => serve::config_ok(file),
                None => serve::run(*args, settings),
            }
        }
        cli::Command::Bindings(args) => bindings_cmd::run(&args),
        cli::Command::Users(cmd) => users_cmd::run(&cmd),
        cli::Command::Stats(args) => stats_cmd::run(&args),
        cli::Command::Register(args) => register::run(args),
        cli::Command::Bench(args) => bench::run(args),
    }
}
