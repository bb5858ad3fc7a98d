//! Files a management command run as root creates in a data directory
//! another user owns (the database and its `-wal`/`-shm`, the secret, the
//! admin token) are given back to that user, so the server running as
//! that user can still open them.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Gives root-owned files of a data directory back to the directory's
/// owner when dropped (only when running as root on a directory another
/// user owns; otherwise it does nothing).
pub struct KeepOwner {
    dir: PathBuf,
    /// The directory's owner and group, when they must be restored.
    owner: Option<(u32, u32)>,
}

impl KeepOwner {
    /// Notes the owner of `dir` (before anything is created in it).
    pub fn new(dir: &Path) -> KeepOwner {
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let owner = match std::fs::metadata(dir) {
            Ok(meta) if root && meta.uid() != 0 => Some((meta.uid(), meta.gid())),
            _ => None,
        };
        KeepOwner {
            dir: dir.to_owned(),
            owner,
        }
    }

    /// Gives every root-owned regular file directly in the directory to
    /// its owner (symbolic links are left alone).
    fn restore(&self, uid: u32, gid: u32) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.file_type().is_file() || meta.uid() != 0 {
                continue;
            }
            if let Err(e) = std::os::unix::fs::lchown(&path, Some(uid), Some(gid)) {
                eprintln!(
                    "locus: warning: cannot give {} back to uid {uid}: {e}",
                    path.display()
                );
            }
        }
    }
}

impl Drop for KeepOwner {
    fn drop(&mut self) {
        if let Some((uid, gid)) = self.owner {
            self.restore(uid, gid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only as root: a file created in a directory owned by `nobody` is
    /// given to `nobody`, a symbolic link is not followed.
    #[test]
    fn root_gives_created_files_back() {
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "this test needs root (it chowns a directory to nobody)"
        );
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).expect("mkdir");
        let nobody = 65534;
        std::os::unix::fs::chown(&dir, Some(nobody), Some(nobody)).expect("chown");
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"x").expect("write");
        {
            let _keep = KeepOwner::new(&dir);
            std::fs::write(dir.join("locus.db"), b"x").expect("write");
            std::fs::write(dir.join("locus.db-wal"), b"x").expect("write");
            std::os::unix::fs::symlink(&outside, dir.join("link")).expect("symlink");
        }
        for name in ["locus.db", "locus.db-wal"] {
            let meta = std::fs::metadata(dir.join(name)).expect("exists");
            assert_eq!((meta.uid(), meta.gid()), (nobody, nobody), "{name}");
        }
        assert_eq!(std::fs::metadata(&outside).expect("exists").uid(), 0);

        // A directory root owns keeps root's files.
        let own = tmp.path().join("own");
        std::fs::create_dir(&own).expect("mkdir");
        {
            let _keep = KeepOwner::new(&own);
            std::fs::write(own.join("locus.db"), b"x").expect("write");
        }
        assert_eq!(
            std::fs::metadata(own.join("locus.db"))
                .expect("exists")
                .uid(),
            0
        );
    }
}
