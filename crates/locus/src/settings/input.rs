//! The shapes a setting's value takes on the command line and in the config
//! file before it is checked: one value, a switch, a repeatable flag, a
//! comma-separated list, `NAME=VALUE` pairs. Each shape knows how clap parses
//! its flag and how serde reads its config key, so a declaration names only
//! its type.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use clap::builder::ValueParser;
use clap::{value_parser, Arg, ArgAction, ArgMatches};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::listen::ListenSpec;

/// How a setting's flag is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `--flag VALUE`, at most once.
    Value,
    /// `--flag` alone: present means on.
    Switch,
    /// `--flag VALUE`, repeatable; the values given replace the configured list.
    Repeated,
}

/// A value as the command line and the config file give it, before its
/// setting checks it.
pub trait Input: Clone + DeserializeOwned + Send + Sync + 'static {
    /// How the flag is written.
    const FORM: Form;

    /// `arg` with the action and value parser of this shape.
    fn configure(arg: Arg) -> Arg;

    /// The value of the flag `id` in `matches` (given or clap's default).
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Self>;

    /// The value when neither the flag, the file nor a declared default sets
    /// one: empty for lists, off for switches, `None` for optional values.
    /// Other shapes have none: such a setting must be given.
    fn unset() -> Option<Self> {
        None
    }
}

/// A type one flag value parses into.
pub trait Single: Clone + DeserializeOwned + Send + Sync + 'static {
    /// The clap parser of one value (its errors name the flag).
    fn parser() -> ValueParser;
}

impl Single for u32 {
    fn parser() -> ValueParser {
        value_parser!(u32).into()
    }
}

impl Single for u16 {
    fn parser() -> ValueParser {
        value_parser!(u16).into()
    }
}

impl Single for bool {
    fn parser() -> ValueParser {
        value_parser!(bool)
    }
}

impl Single for String {
    fn parser() -> ValueParser {
        value_parser!(String)
    }
}

impl Single for PathBuf {
    fn parser() -> ValueParser {
        value_parser!(PathBuf)
    }
}

impl Single for Ipv4Addr {
    fn parser() -> ValueParser {
        value_parser!(Ipv4Addr).into()
    }
}

impl Single for ListenSpec {
    fn parser() -> ValueParser {
        value_parser!(ListenSpec).into()
    }
}

/// One value, required unless the setting declares a default.
impl<X: Single> Input for X {
    const FORM: Form = Form::Value;

    fn configure(arg: Arg) -> Arg {
        arg.action(ArgAction::Set).value_parser(X::parser())
    }

    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Self> {
        matches.get_one::<X>(id).cloned()
    }
}

/// One value, or none at all (`None`).
impl<X: Single> Input for Option<X> {
    const FORM: Form = Form::Value;

    fn configure(arg: Arg) -> Arg {
        X::configure(arg)
    }

    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Self> {
        X::from_matches(matches, id).map(Some)
    }

    fn unset() -> Option<Self> {
        Some(None)
    }
}

/// A list: the flag repeated, the config key a TOML array.
impl<X: Single> Input for Vec<X> {
    const FORM: Form = Form::Repeated;

    fn configure(arg: Arg) -> Arg {
        arg.action(ArgAction::Append).value_parser(X::parser())
    }

    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Self> {
        matches
            .get_many::<X>(id)
            .map(|values| values.cloned().collect())
    }

    fn unset() -> Option<Self> {
        Some(Vec::new())
    }
}

/// On or off: the flag alone turns it on, the config key is a boolean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Switch(pub bool);

impl Input for Switch {
    const FORM: Form = Form::Switch;

    fn configure(arg: Arg) -> Arg {
        arg.action(ArgAction::SetTrue)
    }

    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Self> {
        Some(Switch(matches.get_flag(id)))
    }

    fn unset() -> Option<Self> {
        Some(Switch(false))
    }
}

/// A list written comma-separated on the command line (`--flag a,b`) and as
/// a TOML array in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct CommaList(pub Vec<String>);

impl Input for CommaList {
    const FORM: Form = Form::Value;

    fn configure(arg: Arg) -> Arg {
        String::configure(arg)
    }

    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Self> {
        let text = matches.get_one::<String>(id)?;
        Some(CommaList(text.split(',').map(str::to_owned).collect()))
    }
}

/// `NAME=VALUE` items: the flag repeated (`--flag a=x --flag b=y`), the
/// config key a TOML table (`a = "x"`), read in key order. The items are
/// kept as written; the setting's check splits them at the last `=`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "BTreeMap<String, String>")]
pub struct Pairs(pub Vec<String>);

impl From<BTreeMap<String, String>> for Pairs {
    fn from(table: BTreeMap<String, String>) -> Self {
        Pairs(table.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
    }
}

impl Input for Pairs {
    const FORM: Form = Form::Repeated;

    fn configure(arg: Arg) -> Arg {
        Vec::<String>::configure(arg)
    }

    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Self> {
        Vec::<String>::from_matches(matches, id).map(Pairs)
    }

    fn unset() -> Option<Self> {
        Some(Pairs(Vec::new()))
    }
}
