//! The Contact header (RFC 3261 §20.10): `*` or a list of name-addrs.

use crate::error::ParseError;
use crate::name_addr::NameAddr;

/// The Contact values of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactList<'a> {
    /// No Contact header at all.
    None,
    /// `Contact: *` (only meaningful with `Expires: 0` in a REGISTER);
    /// `alone` is false when other Contact values came with it.
    Star {
        /// True when `*` was the only Contact value.
        alone: bool,
    },
    /// One or more contacts.
    List(Vec<NameAddr<'a>>),
}

/// Collects every Contact value across all Contact lines.
pub fn parse_contacts<'a>(
    values: impl Iterator<Item = &'a str>,
) -> Result<ContactList<'a>, ParseError> {
    let mut list = Vec::new();
    let mut star = false;
    let mut count = 0usize;
    for v in values {
        count += 1;
        if v == "*" {
            star = true;
            continue;
        }
        let na = NameAddr::parse(v)?;
        crate::uri::Uri::parse(na.uri)?;
        list.push(na);
    }
    if star {
        return Ok(ContactList::Star { alone: count == 1 });
    }
    if list.is_empty() {
        return Ok(ContactList::None);
    }
    Ok(ContactList::List(list))
}
