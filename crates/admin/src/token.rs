//! The admin token: 32 random bytes in hex, kept in a file only its owner
//! can read. Requests carry it as `Authorization: Bearer`, or trade it for
//! a session cookie once. It is never logged: [`Token`]'s `Debug` hides
//! it, and logs and the audit log name it by its id (the first 12 hex
//! digits of its SHA-256).

use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The secret that grants access to the admin API.
#[derive(Clone)]
pub struct Token {
    secret: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(id {})", self.id())
    }
}

impl Token {
    /// The token whose secret is `secret` (surrounding whitespace removed);
    /// `None` when nothing is left.
    pub fn new(secret: &str) -> Option<Token> {
        let secret = secret.trim();
        (!secret.is_empty()).then(|| Token {
            secret: secret.to_owned(),
        })
    }

    /// The secret itself, for an `Authorization: Bearer` header of a
    /// client (the CLI). Never log it.
    pub fn as_str(&self) -> &str {
        &self.secret
    }

    /// The name of this token in logs and the audit log: the first 12 hex
    /// digits of the SHA-256 of the secret (names it without revealing it).
    pub fn id(&self) -> String {
        id_of(&digest(self.secret.as_bytes()))
    }

    /// The SHA-256 of the secret, which presented tokens are compared with.
    pub(crate) fn digest(&self) -> [u8; 32] {
        digest(self.secret.as_bytes())
    }
}

/// SHA-256 of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The token id of a token's digest.
pub(crate) fn id_of(digest: &[u8; 32]) -> String {
    hex(&digest[..6])
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes in hex.
pub(crate) fn random_hex(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    hex(&bytes)
}

/// Loads the token from `path`, or creates it there (32 random bytes in
/// hex, mode 0600, the parent directory created) when the file does not
/// exist. Warns when an existing file can be read by group or others.
pub fn load_or_create_token(path: &Path) -> io::Result<Token> {
    match std::fs::read_to_string(path) {
        Ok(text) => loaded(path, &text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create(path),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot read the admin token file {}: {e}", path.display()),
        )),
    }
}

fn loaded(path: &Path, text: &str) -> io::Result<Token> {
    let token = Token::new(text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the admin token file {} is empty (remove it to have a new token made)",
                path.display()
            ),
        )
    })?;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the admin token file can be read by others than its owner (chmod 600 it)"
            );
        }
    }
    Ok(token)
}

fn create(path: &Path) -> io::Result<Token> {
    let with_path = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot create the admin token file {}: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(with_path)?;
    }
    let secret = random_hex(32);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match file {
        Ok(mut f) => {
            f.write_all(format!("{secret}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(with_path)?;
            tracing::info!(file = %path.display(), "admin token created");
            Ok(Token { secret })
        }
        // Another process made it first: use that one.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(with_path)?;
            loaded(path, &text)
        }
        Err(e) => Err(with_path(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_the_token_by_its_id_only() {
        let t = Token::new(" s3cret-token\n").expect("non-empty");
        assert_eq!(t.as_str(), "s3cret-token");
        let shown = format!("{t:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(t.id().len(), 12);
        assert!(shown.contains(&t.id()));
        assert!(Token::new(" \n").is_none());
    }
}
