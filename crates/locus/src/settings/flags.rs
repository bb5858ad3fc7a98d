//! The flags of `locus serve`, built from the declarations with clap's
//! builder API: `--config FILE`, `--check-config FILE` and one flag per
//! setting.

use std::path::{Path, PathBuf};

use clap::{value_parser, Arg, ArgMatches, Args, Command, FromArgMatches};

use super::setting::{joined, Declared};

/// The clap id and flag name of `--config FILE`.
pub const CONFIG: &str = "config";

/// The clap id and flag name of `--check-config FILE`.
pub const CHECK_CONFIG: &str = "check-config";

/// The command line of `locus serve`, as given; [`super::resolve`] merges it
/// with the config file and the defaults.
#[derive(Debug, Clone)]
pub struct ServeArgs {
    matches: ArgMatches,
}

impl ServeArgs {
    /// The parsed flags.
    pub fn matches(&self) -> &ArgMatches {
        &self.matches
    }

    /// The file of `--check-config FILE`: check it (with the other flags)
    /// instead of serving.
    pub fn check_config(&self) -> Option<&Path> {
        self.matches
            .try_get_one::<PathBuf>(CHECK_CONFIG)
            .ok()
            .flatten()
            .map(PathBuf::as_path)
    }
}

impl FromArgMatches for ServeArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(ServeArgs {
            matches: matches.clone(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.matches = matches.clone();
        Ok(())
    }
}

impl Args for ServeArgs {
    fn augment_args(cmd: Command) -> Command {
        let declared: Vec<_> = super::declared().collect();
        cmd.args(args(&declared))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// `--config FILE`, `--check-config FILE` and the flags of `declared`, in
/// order.
pub fn args(declared: &[&'static dyn Declared]) -> Vec<Arg> {
    let config = Arg::new(CONFIG)
        .long(CONFIG)
        .value_name("FILE")
        .value_parser(value_parser!(PathBuf))
        .help(config_help(declared));
    let check = Arg::new(CHECK_CONFIG)
        .long(CHECK_CONFIG)
        .value_name("FILE")
        .value_parser(value_parser!(PathBuf))
        .conflicts_with(CONFIG)
        .help(
            "Check the config file FILE (with the other flags) and exit: 0 printing `config \
             OK: FILE`, or 2 naming the bad key; binds nothing, opens no store",
        );
    [config, check]
        .into_iter()
        .chain(declared.iter().map(|setting| setting.arg()))
        .collect()
}

/// The help of `--config`, listing the top-level keys and the tables.
fn config_help(declared: &[&'static dyn Declared]) -> String {
    let mut keys = Vec::new();
    let mut tables = Vec::new();
    for setting in declared {
        match setting.key().split_once('.') {
            None => keys.push(setting.key()),
            Some((table, _)) if !tables.contains(&table) => tables.push(table),
            Some(_) => {}
        }
    }
    let tables: Vec<String> = tables.iter().map(|t| format!("[{t}]")).collect();
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let tables = match tables.as_slice() {
        [] => String::new(),
        [table] => format!(", and table {table}"),
        many => format!(", and tables {}", joined(many, "and")),
    };
    format!(
        "TOML file with the same settings (keys: {}{tables}); flags override it",
        keys.join(", ")
    )
}
