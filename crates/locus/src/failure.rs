//! How the management subcommands (`bindings`, `users`, `stats`) fail:
//! bad input (exit 2, like clap's usage errors) or an operation that did
//! not succeed (exit 1), each with a one-line message.

use std::process::ExitCode;

/// Why a management subcommand failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Bad input: exit 2.
    Invalid(String),
    /// The operation failed (no such account, the database or the server
    /// failed): exit 1.
    Failed(String),
}

/// The exit code of `result`, printing `locus: error: …` for a failure.
pub fn exit_code(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(msg)) => {
            eprintln!("locus: error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(msg)) => {
            eprintln!("locus: error: {msg}");
            ExitCode::FAILURE
        }
    }
}
