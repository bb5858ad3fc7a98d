//! The table `locus users list` prints, alike from the server and from
//! the database.

/// One account as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `user@domain`.
    pub account: String,
    /// The realm its hashes were computed for.
    pub realm: String,
    /// The digest algorithms it can use, strongest first.
    pub algorithms: Vec<String>,
}

/// What an add or a password change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The realm of the new hashes.
    pub realm: String,
}

/// The table: account, realm, algorithms usable, and a count.
pub fn render(rows: &[Row]) -> String {
    let cells: Vec<[String; 3]> = rows
        .iter()
        .map(|r| [r.account.clone(), r.realm.clone(), r.algorithms.join(",")])
        .collect();
    let head = ["ACCOUNT", "REALM", "ALGORITHMS"];
    let mut w = head.map(str::len);
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |c: [&str; 3]| format!("{:<a$}  {:<b$}  {}\n", c[0], c[1], c[2], a = w[0], b = w[1]);
    let mut out = line(head);
    for r in &cells {
        out.push_str(&line([&r[0], &r[1], &r[2]]));
    }
    out.push_str(&format!("{} account(s)\n", rows.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let row = Row {
            account: "alice@example.com".into(),
            realm: "example.com".into(),
            algorithms: vec!["SHA-512-256".into(), "SHA-256".into(), "MD5".into()],
        };
        let t = render(&[row]);
        assert!(
            t.contains("alice@example.com  example.com  SHA-512-256,SHA-256,MD5"),
            "{t}"
        );
        assert!(t.ends_with("1 account(s)\n"));
    }
}
