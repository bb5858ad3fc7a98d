//! One `locus serve` setting, declared once: its flag, config key, default,
//! help, check, and whether a reload may change it or it is a secret. The
//! command line, the config file reader, `--help`, the README check and the
//! startup summary all read the declaration; see [`declare!`].

use std::fmt;

use clap::builder::PossibleValuesParser;
use clap::Arg;

use super::error::ConfigError;
use super::input::{Form, Input};
use super::sources::Sources;

/// What a secret shows wherever settings are printed.
const HIDDEN: &str = "<secret>";

/// The message of an invalid secret, in place of one that may quote it.
pub const NOT_SHOWN: &str = "invalid value (a secret, not shown)";

/// A setting of `locus serve` whose flag and config key hold an `R`, checked
/// and turned into the `T` that `serve` uses.
pub struct Setting<R, T> {
    /// Command-line flag with its dashes, e.g. `--max-contacts`.
    pub flag: &'static str,
    /// Config file key; `auth.realm` is the key `realm` of the `[auth]` table.
    pub key: &'static str,
    /// Placeholder of the flag's value in `--help`, e.g. `SECS` (switches
    /// take no value and ignore it).
    pub value_name: &'static str,
    /// Help of the flag; `--help` adds the default.
    pub help: &'static str,
    /// What applies when neither the flag nor the config file sets it.
    pub default: Fallback,
    /// The words the flag accepts, when they are a fixed set; for text
    /// settings only (`R` is `String` or `Option<String>`), since clap then
    /// parses the flag as text.
    pub choices: Choices,
    /// Checks the value that won (flag, file or default) and turns it into
    /// what `serve` uses; the error says what is wrong, and is reported
    /// after the flag and the key.
    pub check: fn(R) -> Result<T, String>,
    /// Whether a reload (SIGHUP) may change the setting in a running
    /// server; false: it takes a restart (a socket, the store). Declared now
    /// for the reload to come; until then only the tests read it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub reloadable: bool,
    /// Whether the value is a secret: the startup summary, error messages
    /// and `--help` never show it.
    pub secret: bool,
}

/// The value of a setting that neither the flag nor the file sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// This value, written as on the command line (each item of a list
    /// separately); clap parses it like a flag's value.
    Value(&'static [&'static str]),
    /// No value; the text says what that means (`every domain`), for
    /// `--help` and the README.
    Means(&'static str),
    /// No value, and nothing to say: an empty list, a switch that is off,
    /// a feature not used.
    Nothing,
}

/// The values a text setting's flag accepts; clap refuses others and lists
/// them in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choices {
    /// Any text; the check decides.
    Any,
    /// One of these words, in this case.
    OneOf(&'static [&'static str]),
    /// One of these words, in any case.
    OneOfAnyCase(&'static [&'static str]),
}

/// A declared setting, whatever its types: what the flag builder, the file
/// reader and the tests (`--help`, the README) need.
pub trait Declared: Sync {
    /// Command-line flag with its dashes.
    #[cfg(test)]
    fn flag(&self) -> &'static str;
    /// Config file key, dotted for a key in a table (`auth.realm`).
    fn key(&self) -> &'static str;
    /// What applies when neither the flag nor the file sets it.
    #[cfg(test)]
    fn default(&self) -> Fallback;
    /// How the flag is written.
    #[cfg(test)]
    fn form(&self) -> Form;
    /// Whether a reload may change it.
    #[cfg(test)]
    fn reloadable(&self) -> bool;
    /// Whether the value is a secret.
    fn secret(&self) -> bool;
    /// The clap argument of the flag, with its help and default.
    fn arg(&self) -> Arg;
    /// Whether `value`, from the config file, has the type of the setting;
    /// the error is the one serde gives (`invalid type: …, expected u32`).
    fn check_type(&self, value: toml::Value) -> Result<(), toml::de::Error>;
}

impl<R: Input, T> Setting<R, T> {
    /// The clap id of the flag: its name without dashes.
    pub fn id(&self) -> &'static str {
        self.flag.trim_start_matches('-')
    }

    /// The value `serve` uses: the flag if given, else the config file's
    /// key, else the default; checked.
    pub fn value(&self, sources: &Sources) -> Result<T, ConfigError> {
        let raw = match sources.given::<R>(self.id()) {
            Some(given) => Some(given),
            None => sources.file::<R>(self.key)?,
        };
        let raw = raw.or_else(|| match self.default {
            Fallback::Value(_) => sources.default::<R>(self.id()),
            Fallback::Means(_) | Fallback::Nothing => R::unset(),
        });
        let raw = raw.ok_or_else(|| ConfigError::Invalid {
            flag: self.flag,
            key: self.key,
            message: "is required".to_owned(),
        })?;
        (self.check)(raw).map_err(|message| self.invalid(message))
    }

    /// The error for an invalid value of this setting; a secret's message
    /// is replaced, since it may quote the value.
    pub fn invalid(&self, message: impl Into<String>) -> ConfigError {
        let message = if self.secret {
            NOT_SHOWN.to_owned()
        } else {
            message.into()
        };
        ConfigError::Invalid {
            flag: self.flag,
            key: self.key,
            message,
        }
    }

    /// `key=value` for a summary, with the value hidden if it is a secret.
    pub fn show<'a>(&self, value: &'a dyn fmt::Display) -> Shown<'a> {
        Shown {
            key: Some(self.key),
            value,
            secret: self.secret,
        }
    }

    /// The value alone for a summary, hidden if it is a secret.
    pub fn redact<'a>(&self, value: &'a dyn fmt::Display) -> Shown<'a> {
        Shown {
            key: None,
            value,
            secret: self.secret,
        }
    }
}

impl<R: Input, T> Declared for Setting<R, T> {
    #[cfg(test)]
    fn flag(&self) -> &'static str {
        self.flag
    }

    fn key(&self) -> &'static str {
        self.key
    }

    #[cfg(test)]
    fn default(&self) -> Fallback {
        self.default
    }

    #[cfg(test)]
    fn form(&self) -> Form {
        R::FORM
    }

    #[cfg(test)]
    fn reloadable(&self) -> bool {
        self.reloadable
    }

    fn secret(&self) -> bool {
        self.secret
    }

    fn arg(&self) -> Arg {
        let mut arg = R::configure(Arg::new(self.id()).long(self.id())).help(help_text(
            self.help,
            self.default,
            R::FORM,
            self.secret,
        ));
        if R::FORM != Form::Switch {
            arg = arg.value_name(self.value_name);
        }
        arg = match self.choices {
            Choices::Any => arg,
            Choices::OneOf(words) => arg.value_parser(PossibleValuesParser::new(words)),
            Choices::OneOfAnyCase(words) => arg
                .value_parser(PossibleValuesParser::new(words))
                .ignore_case(true),
        };
        if let Fallback::Value(values) = self.default {
            // The help shows the default already.
            arg = arg.default_values(values).hide_default_value(true);
        }
        arg
    }

    fn check_type(&self, value: toml::Value) -> Result<(), toml::de::Error> {
        R::deserialize(value).map(drop)
    }
}

/// The help of a flag: its text and, unless it is a switch or a secret,
/// `[default: …]` from the declared default.
fn help_text(help: &str, default: Fallback, form: Form, secret: bool) -> String {
    let shown = match default {
        _ if secret || form == Form::Switch => None,
        Fallback::Value(values) => Some(joined(values, "and")),
        Fallback::Means(meaning) => Some(meaning.to_owned()),
        Fallback::Nothing => None,
    };
    match shown {
        Some(default) => format!("{help} [default: {default}]"),
        None => help.to_owned(),
    }
}

/// The items as a phrase: `a`, `a and b`, `a, b and c` (or another
/// `conjunction`).
pub fn joined(items: &[&str], conjunction: &str) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} {conjunction} {last}", rest.join(", ")),
    }
}

/// A setting's value (with its key) in a summary: shown, or
/// [`HIDDEN`] for a secret.
pub struct Shown<'a> {
    key: Option<&'static str>,
    value: &'a dyn fmt::Display,
    secret: bool,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = self.key {
            write!(f, "{key}=")?;
        }
        if self.secret {
            f.write_str(HIDDEN)
        } else {
            self.value.fmt(f)
        }
    }
}

/// Declares settings: each `NAME: Setting<R, T> = Setting { … };` becomes a
/// `pub static`, and `LIST` lists them all, in the order written (the order
/// of `--help` and of the README's table).
///
/// ```text
/// declare! {
///     /// The settings of this group.
///     LIST;
///
///     /// `--max-contacts N`.
///     MAX_CONTACTS: Setting<u32, usize> = Setting { flag: "--max-contacts", … };
/// }
/// ```
macro_rules! declare {
    (
        $(#[$list_doc:meta])* $list:ident;
        $($(#[$doc:meta])* $name:ident: $ty:ty = $setting:expr;)+
    ) => {
        $($(#[$doc])* pub static $name: $ty = $setting;)+
        $(#[$list_doc])*
        pub static $list: &[&dyn $crate::settings::setting::Declared] = &[$(&$name),+];
    };
}
pub(crate) use declare;
