//! `locus users add|passwd|remove|list`: the accounts of digest
//! authentication, through the running server's admin API (`remote`), or,
//! when no server runs, in the data directory's database (`local`).
//! Passwords are never stored: each account keeps `H(user:realm:password)`
//! for MD5, SHA-256 and SHA-512-256. A running server picks changes made
//! in the database up within a second.

mod local;
mod remote;
mod table;

use crate::api_client::ServerArgs;
use crate::failure::{exit_code, Failure};
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal};
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

    /// Realm the password hashes are computed for, without a server (a running server uses its
    /// own --realm) [default: the domain]
    #[arg(long, value_name = "REALM")]
    pub realm: Option<String>,

    /// Read the password from the first line of standard input instead of prompting
    #[arg(long)]
    pub password_stdin: bool,

    /// Where the server and the store are.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Arguments of `locus users list`.
#[derive(Debug, Clone, Args)]
pub struct UsersListArgs {
    /// Only the accounts of this domain
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,

    /// Where the server and the store are.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// What `add` and `passwd` do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Add it; it must not exist.
    Add,
    /// Replace its password; it must exist.
    Passwd,
}

/// An account checked by the command line: a valid name and domain.
#[derive(Debug, Clone)]
struct Account {
    user: String,
    domain: String,
    /// `--realm`, checked.
    realm: Option<String>,
}

impl Account {
    /// `user@domain`.
    fn who(&self) -> String {
        format!("{}@{}", self.user, self.domain)
    }
}

/// Runs a `users` subcommand: exit 0 on success, 1 when the account or
/// database is not as asked, 2 for invalid input.
pub fn run(cmd: &UsersCommand) -> ExitCode {
    exit_code(match cmd {
        UsersCommand::Add(a) => add_or_passwd(a, Change::Add),
        UsersCommand::Passwd(a) => add_or_passwd(a, Change::Passwd),
        UsersCommand::Remove(a) => remove(a),
        UsersCommand::List(a) => list(a),
    })
}

fn add_or_passwd(args: &UserArgs, change: Change) -> Result<(), Failure> {
    let account = account_of(args)?;
    let target = args.server.target()?;
    let password = || read_password(args, &account.who());
    let done = target.either(
        |session| remote::set_password(session, &account, change, password),
        |dir| local::set_password(dir, &account, change, password),
    )?;
    let verb = match change {
        Change::Add => "added",
        Change::Passwd => "password changed for",
    };
    println!("{verb} {} (realm \"{}\")", account.who(), done.realm);
    Ok(())
}

fn remove(args: &UserArgs) -> Result<(), Failure> {
    let account = Account {
        user: args.user.clone(),
        domain: domain_of(&args.domain)?,
        realm: None,
    };
    let target = args.server.target()?;
    target.either(
        |session| remote::remove(session, &account),
        |dir| local::remove(dir, &account),
    )?;
    println!("removed {}", account.who());
    Ok(())
}

fn list(args: &UsersListArgs) -> Result<(), Failure> {
    let domain = args.domain.as_deref().map(domain_of).transpose()?;
    let target = args.server.target()?;
    let rows = target.either(
        |session| remote::list(session, domain.as_deref()),
        |dir| local::list(dir, domain.as_deref()),
    )?;
    print!("{}", table::render(&rows));
    Ok(())
}

/// The account `args` names, checked.
fn account_of(args: &UserArgs) -> Result<Account, Failure> {
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
    Ok(Account {
        user: args.user.clone(),
        domain,
        realm: args.realm.clone(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("alice").is_ok());
        assert!(check_name("+4930123").is_ok());
        for bad in ["", "a b", "a:b", "a@b", "a\"b", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
