//! Why the `serve` settings are unusable; `locus` prints the error on one
//! line and exits with status 2.

use std::fmt;
use std::io;
use std::path::PathBuf;

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
