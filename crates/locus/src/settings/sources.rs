//! Where a setting's value can come from: the command line, the config
//! file named by `--config`, and the declared default (held by clap).

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::ArgMatches;
use serde::de::DeserializeOwned;

use super::error::ConfigError;
use super::file::ConfigFile;
use super::flags::{CHECK_CONFIG, CONFIG};
use super::input::Input;
use super::setting::Declared;

/// The parsed command line of `serve` and the config file it names.
pub struct Sources<'a> {
    flags: &'a ArgMatches,
    file: Option<ConfigFile>,
}

impl<'a> Sources<'a> {
    /// Reads the config file that `flags` name with `--config` (or
    /// `--check-config`), if any, knowing the keys of `declared`.
    pub fn load(
        flags: &'a ArgMatches,
        declared: &[&'static dyn Declared],
    ) -> Result<Self, ConfigError> {
        let file = |id| flags.try_get_one::<PathBuf>(id).ok().flatten();
        let path = file(CONFIG).or_else(|| file(CHECK_CONFIG));
        let file = match path {
            Some(path) => Some(ConfigFile::load(path, declared)?),
            None => None,
        };
        Ok(Sources { flags, file })
    }

    /// The value of flag `id` if it is on the command line.
    pub fn given<R: Input>(&self, id: &str) -> Option<R> {
        match self.flags.value_source(id) {
            Some(ValueSource::CommandLine) => R::from_matches(self.flags, id),
            _ => None,
        }
    }

    /// The value of config key `key` if the file sets it.
    pub fn file<R: DeserializeOwned>(&self, key: &str) -> Result<Option<R>, ConfigError> {
        match &self.file {
            Some(file) => file.get(key),
            None => Ok(None),
        }
    }

    /// The declared default of flag `id`, as clap parsed it.
    pub fn default<R: Input>(&self, id: &str) -> Option<R> {
        R::from_matches(self.flags, id)
    }
}
