//! `locus users add|passwd|remove|list`: the accounts of digest
//! authentication, in the data directory's database. Passwords are never
//! stored: each account keeps `H(user:realm:password)` for MD5, SHA-256
//! and SHA-512-256. A running server picks changes up within a second.

use crate::settings::DEFAULT_DATA_DIR;
use clap::{Args, Subcommand};
use location::{Ha1Set, SqliteUsers, User, UserStore};
use sip_core::digest::{ha1, Algorithm};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

/// A `locus users` subcommand.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add an account (asks for its password).
    Add(UserArgs),
    /// Change an account's password.
    Passwd(UserArgs),
    /// Remove an account.
    Remove(UserArgs),
    /// List the accounts (name, domain, realm, algorithms it can use).
    List(UsersListArgs),
}

/// Arguments of `locus users add|passwd|remove`.
#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    /// The user name (the user part of the address-of-record it owns)
    #[arg(value_name = "USER")]
    pub user: String,

    /// The domain of the address-of-record (USER@DOMAIN)
    #[arg(long, value_name = "DOMAIN")]
    pub domain: String,

    /// Realm the password hashes are computed for (add only; must match the server's --realm) [default: the domain]
    #[arg(long, value_name = "REALM")]
    pub realm: Option<String>,

    /// Directory holding the database
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Read the password from the first line of standard input instead of prompting
    #[arg(long)]
    pub password_stdin: bool,
}

/// Arguments of `locus users list`.
#[derive(Debug, Clone, Args)]
pub struct UsersListArgs {
    /// Only the accounts of this domain
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,

    /// Directory holding the database
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

/// Runs a `users` subcommand: exit 0 on success, 1 when the account or
/// database is not as asked, 2 for invalid input.
pub fn run(cmd: &UsersCommand) -> ExitCode {
    let result = match cmd {
        UsersCommand::Add(a) => add_or_passwd(a, true),
        UsersCommand::Passwd(a) => add_or_passwd(a, false),
        UsersCommand::Remove(a) => remove(a),
        UsersCommand::List(a) => list(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(msg)) => {
            eprintln!("locus: error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(msg)) => {
            eprintln!("locus: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// Bad input (exit 2).
    Invalid(String),
    /// The operation failed (exit 1).
    Failed(String),
}

fn db_error(e: location::StoreError) -> Failure {
    Failure::Failed(format!("account database: {e}"))
}

fn domain_of(raw: &str) -> Result<String, Failure> {
    crate::domain::normalize_domain(raw).ok_or_else(|| {
        Failure::Invalid(format!(
            "--domain: '{raw}' is not a valid hostname or IP address"
        ))
    })
}

/// A user name usable in a SIP URI user part and in an htdigest line.
fn check_name(name: &str) -> Result<(), Failure> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, ':' | '@' | '"' | '\\'));
    if ok {
        Ok(())
    } else {
        Err(Failure::Invalid(format!(
            "USER: '{}' is not a valid user name (no spaces, ':', '@', quotes or backslashes)",
            name.escape_debug()
        )))
    }
}

fn read_password(args: &UserArgs, who: &str) -> Result<String, Failure> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::Failed(format!("cannot read the password: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {who}: "))
            .map_err(|e| Failure::Failed(format!("cannot read the password: {e}")))?;
        let again = rpassword::prompt_password("Retype password: ")
            .map_err(|e| Failure::Failed(format!("cannot read the password: {e}")))?;
        if first != again {
            return Err(Failure::Invalid("the passwords differ".to_owned()));
        }
        first
    } else {
        return Err(Failure::Invalid(
            "standard input is not a terminal: pass --password-stdin to read the password from it"
                .to_owned(),
        ));
    };
    if password.is_empty() {
        return Err(Failure::Invalid("the password is empty".to_owned()));
    }
    Ok(password)
}

/// HA1 for every algorithm.
fn ha1_set(user: &str, realm: &str, password: &str) -> Ha1Set {
    Ha1Set {
        md5: Some(ha1(Algorithm::Md5, user, realm, password)),
        sha256: Some(ha1(Algorithm::Sha256, user, realm, password)),
        sha512_256: Some(ha1(Algorithm::Sha512_256, user, realm, password)),
    }
}

fn add_or_passwd(args: &UserArgs, adding: bool) -> Result<(), Failure> {
    check_name(&args.user)?;
    let domain = domain_of(&args.domain)?;
    if args
        .realm
        .as_deref()
        .is_some_and(|r| r.is_empty() || r.contains('"'))
    {
        return Err(Failure::Invalid(
            "--realm: must be non-empty and contain no double quote".to_owned(),
        ));
    }
    let store = SqliteUsers::open(&args.data_dir).map_err(db_error)?;
    let who = format!("{}@{domain}", args.user);
    let existing = store.get(&domain, &args.user).map_err(db_error)?;
    let realm = match (&existing, adding) {
        (Some(_), true) => {
            return Err(Failure::Failed(format!(
                "{who} already exists (change its password with `locus users passwd`)"
            )))
        }
        (None, false) => return Err(Failure::Failed(format!("no account {who}"))),
        (Some(old), false) => args.realm.clone().unwrap_or_else(|| old.realm.clone()),
        (None, true) => args.realm.clone().unwrap_or_else(|| domain.clone()),
    };
    let password = read_password(args, &who)?;
    let user = User {
        ha1: ha1_set(&args.user, &realm, &password),
        username: args.user.clone(),
        domain,
        realm,
    };
    store.put(&user, server::now_ms()).map_err(|e| match e {
        location::StoreError::Constraint(_) if adding => Failure::Failed(format!(
            "cannot add {who}: the name '{}' is already used in realm '{}'",
            user.username, user.realm
        )),
        e => db_error(e),
    })?;
    println!(
        "{} {who} (realm \"{}\")",
        if adding {
            "added"
        } else {
            "password changed for"
        },
        user.realm
    );
    Ok(())
}

fn remove(args: &UserArgs) -> Result<(), Failure> {
    let domain = domain_of(&args.domain)?;
    let store = SqliteUsers::open(&args.data_dir).map_err(db_error)?;
    if store.remove(&domain, &args.user).map_err(db_error)? {
        println!("removed {}@{domain}", args.user);
        Ok(())
    } else {
        Err(Failure::Failed(format!(
            "no account {}@{domain}",
            args.user
        )))
    }
}

fn list(args: &UsersListArgs) -> Result<(), Failure> {
    let domain = args.domain.as_deref().map(domain_of).transpose()?;
    let store = SqliteUsers::open(&args.data_dir).map_err(db_error)?;
    let users = store.list(domain.as_deref()).map_err(db_error)?;
    print!("{}", render(&users));
    Ok(())
}

/// The table: account, realm, algorithms usable.
pub fn render(users: &[User]) -> String {
    let rows: Vec<[String; 3]> = users
        .iter()
        .map(|u| {
            let algs: Vec<&str> = [
                (u.ha1.sha512_256.is_some(), "SHA-512-256"),
                (u.ha1.sha256.is_some(), "SHA-256"),
                (u.ha1.md5.is_some(), "MD5"),
            ]
            .into_iter()
            .filter_map(|(has, name)| has.then_some(name))
            .collect();
            [
                format!("{}@{}", u.username, u.domain),
                u.realm.clone(),
                algs.join(","),
            ]
        })
        .collect();
    let head = ["ACCOUNT", "REALM", "ALGORITHMS"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |c: [&str; 3]| format!("{:<a$}  {:<b$}  {}\n", c[0], c[1], c[2], a = w[0], b = w[1]);
    let mut out = line(head);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2]]));
    }
    out.push_str(&format!("{} account(s)\n", users.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_table() {
        assert!(check_name("alice").is_ok());
        assert!(check_name("+4930123").is_ok());
        for bad in ["", "a b", "a:b", "a@b", "a\"b", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let u = User {
            username: "alice".into(),
            domain: "example.com".into(),
            realm: "example.com".into(),
            ha1: ha1_set("alice", "example.com", "pw"),
        };
        let t = render(&[u]);
        assert!(
            t.contains("alice@example.com  example.com  SHA-512-256,SHA-256,MD5"),
            "{t}"
        );
        assert!(t.ends_with("1 account(s)\n"));
    }
}
