//! Importing an htdigest-style file (`user:realm:HA1` lines, as Apache's
//! `htdigest` writes them). Such a file carries the MD5 HA1 only, so its
//! users can authenticate with MD5 only until their password is set again
//! with `locus users passwd`.

use location::{Ha1Set, User, UsersTx};

/// What an import changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// New accounts.
    pub added: usize,
    /// Accounts whose MD5 HA1 changed (their other HA1 values are dropped).
    pub updated: usize,
    /// Accounts already holding the same MD5 HA1.
    pub unchanged: usize,
}

/// Parses the file text: one `user:realm:HA1` per line (HA1 = 32 hex
/// digits); blank lines and `#` comments are skipped. The account's domain
/// is the realm (lower case). The error names the line.
pub fn parse(text: &str) -> Result<Vec<User>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("line {}: expected user:realm:HA1 (32 hex digits)", n + 1);
        let mut parts = line.splitn(3, ':');
        let (Some(user), Some(realm), Some(ha1)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let hex = ha1.len() == 32 && ha1.bytes().all(|b| b.is_ascii_hexdigit());
        if user.is_empty() || realm.is_empty() || !hex {
            return Err(bad());
        }
        out.push(User {
            username: user.to_owned(),
            domain: realm.to_ascii_lowercase(),
            realm: realm.to_owned(),
            ha1: Ha1Set {
                md5: Some(ha1.to_ascii_lowercase()),
                sha256: None,
                sha512_256: None,
            },
        });
    }
    Ok(out)
}

/// Stores the parsed accounts, keeping the stronger HA1 values of an
/// account whose MD5 HA1 (so its password) did not change.
pub fn import(
    store: &UsersTx<'_>,
    users: &[User],
    now_ms: u64,
) -> Result<Imported, location::StoreError> {
    let mut done = Imported::default();
    for u in users {
        match store.get(&u.domain, &u.username)? {
            Some(old) if old.realm == u.realm && old.ha1.md5 == u.ha1.md5 => done.unchanged += 1,
            Some(_) => {
                store.put(u, now_ms)?;
                done.updated += 1;
            }
            None => {
                store.put(u, now_ms)?;
                done.added += 1;
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_imports() {
        let text = "# accounts\nalice:Example.com:0123456789abcdef0123456789ABCDEF\n\nbob:example.com:ffffffffffffffffffffffffffffffff\n";
        let users = parse(text).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].domain, "example.com");
        assert_eq!(users[0].realm, "Example.com");
        assert_eq!(
            users[0].ha1.md5.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        let dir = tempfile::tempdir().unwrap();
        let store = location::SqliteUsers::open(dir.path()).unwrap();
        let import = |users: &[User], now| store.transaction(|tx| super::import(tx, users, now));
        assert_eq!(
            import(&users, 1).unwrap(),
            Imported {
                added: 2,
                ..Default::default()
            }
        );
        assert_eq!(
            import(&users, 2).unwrap(),
            Imported {
                unchanged: 2,
                ..Default::default()
            }
        );
        let changed = parse("bob:example.com:00000000000000000000000000000000").unwrap();
        assert_eq!(
            import(&changed, 3).unwrap(),
            Imported {
                updated: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(
            parse("a:b:c").unwrap_err(),
            "line 1: expected user:realm:HA1 (32 hex digits)"
        );
        assert!(parse("\nalice:example.com")
            .unwrap_err()
            .starts_with("line 2"));
        assert!(parse(":r:0123456789abcdef0123456789abcdef").is_err());
    }
}
