//! Conversions between [`Binding`] fields and SQLite column values.

use std::fmt;

use rusqlite::types::Type;
use rusqlite::Row;

use crate::{Binding, ContactAction};

/// The columns of a binding row, in the order [`decode_row`] reads them.
pub(crate) const COLUMNS: &str = "aor, contact, q, expires_at_ms, call_id, cseq, received, \
     transport, local_addr, user_agent, path, instance, reg_id, updated_at_ms, action";

/// Index of the `path` column in [`COLUMNS`].
const PATH_COLUMN: usize = 10;

/// Index of the `action` column in [`COLUMNS`].
const ACTION_COLUMN: usize = 14;

/// The `action` column held something other than `proxy`, `redirect` or NULL.
#[derive(Debug)]
pub(crate) struct BadAction;

impl fmt::Display for BadAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown contact action")
    }
}

impl std::error::Error for BadAction {}

/// The stored text of an `action` column value.
pub(crate) fn encode_action(action: Option<ContactAction>) -> Option<&'static str> {
    action.map(|a| a.as_str())
}

fn decode_action(text: Option<String>) -> Result<Option<ContactAction>, BadAction> {
    match text {
        None => Ok(None),
        Some(t) => ContactAction::parse(&t).map(Some).ok_or(BadAction),
    }
}

/// An instant as an SQLite integer; instants past `i64::MAX` ms (never
/// stored, see the normalisation in the hot table) compare as `i64::MAX`.
pub(crate) fn sql_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Encode Path values losslessly as a sequence of `<byte length>:<value>`
/// items, e.g. `["<sip:p1;lr>", ""]` → `12:<sip:p1;lr>0:`. The empty list is
/// the empty string. Any value (with colons, digits, newlines) round-trips.
pub(crate) fn encode_path(path: &[String]) -> String {
    let mut out = String::with_capacity(path.iter().map(|v| v.len() + 4).sum());
    for value in path {
        out.push_str(&value.len().to_string());
        out.push(':');
        out.push_str(value);
    }
    out
}

/// The `path` column did not follow the [`encode_path`] format.
#[derive(Debug)]
pub(crate) struct BadPath;

impl fmt::Display for BadPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed path encoding")
    }
}

impl std::error::Error for BadPath {}

/// Decode what [`encode_path`] produced.
pub(crate) fn decode_path(text: &str) -> Result<Vec<String>, BadPath> {
    let mut values = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(':').ok_or(BadPath)?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadPath);
        }
        let len: usize = len.parse().map_err(|_| BadPath)?;
        let value = tail.get(..len).ok_or(BadPath)?;
        values.push(value.to_owned());
        rest = tail.get(len..).ok_or(BadPath)?;
    }
    Ok(values)
}

/// Read one row selected with [`COLUMNS`].
pub(crate) fn decode_row(row: &Row<'_>) -> rusqlite::Result<Binding> {
    let path: String = row.get(PATH_COLUMN)?;
    let path = decode_path(&path).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(PATH_COLUMN, Type::Text, Box::new(e))
    })?;
    Ok(Binding {
        aor: row.get(0)?,
        contact: row.get(1)?,
        q: row.get(2)?,
        expires_at_ms: row.get(3)?,
        call_id: row.get(4)?,
        cseq: row.get(5)?,
        received: row.get(6)?,
        transport: row.get(7)?,
        local: row.get(8)?,
        user_agent: row.get(9)?,
        path,
        instance: row.get(11)?,
        reg_id: row.get(12)?,
        updated_at_ms: row.get(13)?,
        action: decode_action(row.get::<_, Option<String>>(ACTION_COLUMN)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(ACTION_COLUMN, Type::Text, Box::new(e))
        })?,
    })
}

/// Whether a row error means "this row's values are unreadable" (skip it)
/// rather than "the database failed" (give up).
pub(crate) fn is_bad_value(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_round_trips() {
        let cases: Vec<Vec<String>> = vec![
            vec![],
            vec![String::new()],
            vec!["<sip:p1.example.com;lr>".into(), "<sip:10:20@p2;lr>".into()],
            vec![
                "12:34".into(),
                "line\nbreak".into(),
                "ünïcødé".into(),
                "".into(),
            ],
        ];
        for path in cases {
            let text = encode_path(&path);
            assert_eq!(decode_path(&text).unwrap(), path, "{text:?}");
        }
        assert_eq!(encode_path(&["<sip:p1;lr>".to_string()]), "11:<sip:p1;lr>");
    }

    #[test]
    fn malformed_path_is_rejected() {
        for bad in [
            "x",
            "3:ab",
            ":a",
            "-1:",
            "1",
            "1:ü",
            "+1:a",
            "99999999999999999999999:a",
        ] {
            assert!(decode_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sql_ms_saturates() {
        assert_eq!(sql_ms(5), 5);
        assert_eq!(sql_ms(u64::MAX), i64::MAX);
    }
}
