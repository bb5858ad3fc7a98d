//! The server secret: 32 random bytes in `DATA_DIR/secret`, made on first
//! start (mode 0600). Nonces are HMACs keyed with it, so every node of a
//! cluster that shares the file can check the others' nonces.

use rand::RngCore;
use std::io::{self, Write};
use std::path::Path;

/// File name of the secret inside the data directory.
pub const SECRET_FILE: &str = "secret";
/// Bytes of a new secret.
const SECRET_LEN: usize = 32;
/// Shortest secret accepted from the file.
const MIN_LEN: usize = 16;

/// The secret of `data_dir`, created if missing.
pub fn load_or_create(data_dir: &Path) -> io::Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= MIN_LEN => return Ok(bytes),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is shorter than {MIN_LEN} bytes", path.display()),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let mut secret = vec![0u8; SECRET_LEN];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(&secret)?;
            file.sync_all()?;
            Ok(secret)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => std::fs::read(&path),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert_eq!(first.len(), SECRET_LEN);
        assert_eq!(load_or_create(dir.path()).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(SECRET_FILE), b"short").unwrap();
        assert!(load_or_create(dir.path()).is_err());
    }
}
