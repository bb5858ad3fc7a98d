//! How locus stops on invalid input: a one-line message and status 2, the
//! status clap uses for usage errors, so every subcommand fails alike.

use std::fmt;
use std::process;

/// Exit status for invalid flags or configuration.
const EXIT_INVALID: i32 = 2;

/// Prints `locus: error: {err}` to stderr and exits with status 2.
pub fn invalid(err: impl fmt::Display) -> ! {
    eprintln!("locus: error: {err}");
    process::exit(EXIT_INVALID)
}
