//! The config file of `serve` (`--config FILE`), read against the declared
//! keys: an unknown key, or a value of the wrong type, is an error naming
//! the file, the line and the key.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::error::ConfigError;
use super::setting::{Declared, NOT_SHOWN};

/// A config file: the value of each declared key it sets, and where.
pub struct ConfigFile {
    path: PathBuf,
    text: String,
    values: HashMap<&'static str, Spanned<toml::Value>>,
    /// Keys of secrets: the lines setting them are never quoted.
    secret_keys: Vec<&'static str>,
}

impl ConfigFile {
    /// Reads and checks the file at `path`: valid TOML, only keys of
    /// `declared`, each value of its setting's type.
    pub fn load(path: &Path, declared: &[&'static dyn Declared]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let secret_keys = declared
            .iter()
            .filter(|d| d.secret())
            .map(|d| d.key())
            .collect();
        let mut file = ConfigFile {
            path: path.to_owned(),
            text,
            values: HashMap::new(),
            secret_keys,
        };
        let table = TableSeed {
            prefix: "",
            declared,
            values: &mut file.values,
        };
        if let Err(err) = table.deserialize(toml::Deserializer::new(&file.text)) {
            return Err(file.error(err.span(), err.message()));
        }
        Ok(file)
    }

    /// The value of `key` as an `R`, if the file sets it.
    pub fn get<R: DeserializeOwned>(&self, key: &str) -> Result<Option<R>, ConfigError> {
        let Some(value) = self.values.get(key) else {
            return Ok(None);
        };
        R::deserialize(value.get_ref().clone())
            .map(Some)
            .map_err(|err| {
                let secret = self.secret_keys.contains(&key);
                let message = if secret { NOT_SHOWN } else { err.message() };
                self.error(Some(value.span()), message)
            })
    }

    /// A parse error at `span`, on one line, prefixed with the line of the
    /// file (unless it sets a secret) so that the key is always visible.
    fn error(&self, span: Option<Range<usize>>, message: &str) -> ConfigError {
        let message = message.trim().replace('\n', "; ");
        let message = match span {
            None => message,
            Some(span) => {
                let before = self.text.get(..span.start).unwrap_or(&self.text);
                let line_no = before.matches('\n').count() + 1;
                let line = self.text.lines().nth(line_no - 1).unwrap_or("").trim();
                if self.sets_secret(line) {
                    format!("line {line_no}: {message}")
                } else {
                    let mut shown: String = line.chars().take(80).collect();
                    if shown.len() < line.len() {
                        shown.push('…');
                    }
                    format!("line {line_no}: `{shown}`: {message}")
                }
            }
        };
        ConfigError::Parse {
            path: self.path.clone(),
            message,
        }
    }

    /// Whether `line` looks like `key = …` for the key of a secret, bare,
    /// quoted or dotted.
    fn sets_secret(&self, line: &str) -> bool {
        let Some((key, _)) = line.split_once('=') else {
            return false;
        };
        let key: String = key
            .chars()
            .filter(|c| !matches!(c, '"' | '\'' | ' ' | '\t'))
            .collect();
        self.secret_keys.iter().any(|secret| {
            let leaf = secret.rsplit('.').next().unwrap_or(secret);
            key == *secret || key == leaf
        })
    }
}

/// One table of the file: the top level (`prefix` empty) or a table whose
/// keys are declared as `prefix.key`.
struct TableSeed<'d, 'v> {
    prefix: &'static str,
    declared: &'d [&'static dyn Declared],
    values: &'v mut HashMap<&'static str, Spanned<toml::Value>>,
}

/// What a key of a table names.
enum Entry {
    /// A setting's key.
    Setting(&'static dyn Declared),
    /// A table of settings, by its dotted path.
    Table(&'static str),
}

impl<'de> DeserializeSeed<'de> for TableSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TableSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let keys = KeySeed {
            prefix: self.prefix,
            declared: self.declared,
        };
        while let Some(entry) = map.next_key_seed(&keys)? {
            match entry {
                Entry::Setting(setting) => {
                    let value = map.next_value_seed(ValueSeed(setting))?;
                    self.values.insert(setting.key(), value);
                }
                Entry::Table(prefix) => map.next_value_seed(TableSeed {
                    prefix,
                    declared: self.declared,
                    values: &mut *self.values,
                })?,
            }
        }
        Ok(())
    }
}

/// Reads a key of the table `prefix`, refusing keys not declared.
struct KeySeed<'d> {
    prefix: &'static str,
    declared: &'d [&'static dyn Declared],
}

impl KeySeed<'_> {
    /// The declared names of this table, in order: keys, then tables.
    fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for setting in self.declared {
            let Some(rest) = self.within(setting.key()) else {
                continue;
            };
            let name = rest.split('.').next().unwrap_or(rest);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// `key` without this table's prefix, if it is in this table.
    fn within(&self, key: &'static str) -> Option<&'static str> {
        if self.prefix.is_empty() {
            return Some(key);
        }
        key.strip_prefix(self.prefix)?.strip_prefix('.')
    }

    fn entry(&self, name: &str) -> Option<Entry> {
        for setting in self.declared {
            let Some(rest) = self.within(setting.key()) else {
                continue;
            };
            if rest == name {
                return Some(Entry::Setting(*setting));
            }
            if rest.strip_prefix(name).is_some_and(|r| r.starts_with('.')) {
                let full = setting.key();
                return Some(Entry::Table(&full[..full.len() - rest.len() + name.len()]));
            }
        }
        None
    }
}

impl<'de> DeserializeSeed<'de> for &KeySeed<'_> {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Entry, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for &KeySeed<'_> {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a setting's key")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Entry, E> {
        self.entry(name).ok_or_else(|| {
            let names: Vec<String> = self.names().iter().map(|n| format!("`{n}`")).collect();
            let expected = match names.as_slice() {
                [] => "there are no keys".to_owned(),
                [one] => format!("expected {one}"),
                [a, b] => format!("expected {a} or {b}"),
                many => format!("expected one of {}", many.join(", ")),
            };
            E::custom(format!("unknown field `{name}`, {expected}"))
        })
    }
}

/// Reads the value of one setting's key, checking its type.
struct ValueSeed(&'static dyn Declared);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Spanned<toml::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let value = Spanned::<toml::Value>::deserialize(deserializer)?;
        if let toml::Value::Datetime(_) = value.get_ref() {
            return Err(de::Error::custom("invalid type: datetime"));
        }
        match self.0.check_type(value.get_ref().clone()) {
            Ok(()) => Ok(value),
            Err(_) if self.0.secret() => Err(de::Error::custom(NOT_SHOWN)),
            Err(err) => Err(de::Error::custom(err.message())),
        }
    }
}
