//! The `--state` file, under the same rules as `sts`'s own files (CONTRACT §5): read once at
//! start (a regular file or absent, at most [`MAX_STATE_BYTES`], so a FIFO never hangs the start
//! and `/dev/zero` is refused rather than read until memory runs out), and replaced atomically
//! after every change: a temporary file with an unpredictable name, created exclusively (never
//! through a symlink) with mode 0600 (the file holds Qualytics' signing key), written, fsynced,
//! renamed over the state file. A symlinked state file is written through to its target, as the
//! config is: the link survives and the file it names is the one updated.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::fsutil::{self, ReadError};

/// The largest state file the sandbox reads (a million seeded rows is about 250 MiB; ten
/// thousand, 2.5 MiB).
pub const MAX_STATE_BYTES: u64 = 256 * 1024 * 1024;
/// The mode of the state file and of its temporary files.
const STATE_MODE: u32 = 0o600;

/// Writes snapshots of the store to one file, newest generation last.
#[derive(Debug)]
pub struct Persister {
    path: PathBuf,
    /// The generation of the snapshot on disk; held while writing so writes never interleave.
    written: Mutex<u64>,
}

impl Persister {
    pub fn new(path: PathBuf, generation: u64) -> Self {
        Persister {
            path,
            written: Mutex::new(generation),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file with `contents`, the snapshot of `generation`, unless a newer one is
    /// already on disk. Blocking: call it off the async workers.
    pub fn write(&self, generation: u64, contents: &str) -> io::Result<()> {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        if *written >= generation {
            return Ok(());
        }
        write_atomically(&self.path, contents.as_bytes())?;
        *written = generation;
        Ok(())
    }
}

/// The contents of the state file, or `None` when there is none yet. Anything but a regular
/// file (directly or through a symlink) is refused without being read.
pub fn read(path: &Path) -> io::Result<Option<String>> {
    let bytes = fsutil::read_regular(path, MAX_STATE_BYTES).map_err(|e| match e {
        ReadError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
    })?;
    bytes
        .map(|b| {
            String::from_utf8(b)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
        })
        .transpose()
}

/// Checks, before the sandbox starts, that the state file can be written where it is: its
/// final target (symlinks followed) is a regular file or absent.
pub fn check_writable(path: &Path) -> io::Result<PathBuf> {
    fsutil::write_target(path).map_err(|e| match e {
        ReadError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
    })
}

fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let target = check_writable(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    // A write killed in the middle left its temporary file: remove it (writes never overlap).
    fsutil::remove_stale_temp_files(&dir, &name);
    let tmp = dir.join(fsutil::temp_name(&name));
    let old = fs::metadata(&target).ok();
    let result = (|| {
        // create_new is O_EXCL: an existing file or symlink at that name is an error, never
        // followed; O_NOFOLLOW says so twice.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(STATE_MODE)
            .custom_flags(o_nofollow())
            .open(&tmp)?;
        // The mode asked for is masked by the umask; a secret's file is 0600 whatever it is.
        file.set_permissions(fs::Permissions::from_mode(STATE_MODE))?;
        if let Some(old) = &old {
            // A rewrite keeps the owner (only root may give a file away).
            let mine = file.metadata()?;
            if old.uid() != mine.uid() || old.gid() != mine.gid() {
                let _ = std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid()));
            }
        }
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)?;
        // Make the rename itself durable; not every platform can open a folder for this.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `O_NOFOLLOW` on Linux and the BSDs/macOS.
fn o_nofollow() -> i32 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        0o400000
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        0x0100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_newest_generation_only_0600_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(read(&path).unwrap(), None);
        fs::write(dir.path().join(".state.json.12345.tmp"), "left by a kill").unwrap();
        let p = Persister::new(path.clone(), 0);
        p.write(2, "two").unwrap();
        p.write(1, "one").unwrap();
        assert_eq!(read(&path).unwrap().as_deref(), Some("two"));
        assert_eq!(names(dir.path()), ["state.json"]);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A file that was 0644 is 0600 once rewritten.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        p.write(3, "three").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_symlinked_state_file_is_written_through_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs::create_dir(&real_dir).unwrap();
        let target = real_dir.join("state.json");
        fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read(&link).unwrap().as_deref(), Some("old"));
        Persister::new(link.clone(), 0).write(1, "new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(names(&real_dir), ["state.json"]);
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        for path in [Path::new("/dev/zero"), dir.path()] {
            let e = read(path).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
            assert!(check_writable(path).is_err());
        }
        let link = dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(read(&link).is_err());
        assert!(Persister::new(link, 0).write(1, "x").is_err());
    }
}
